"""Internal: ``ramparts dev``. The front-end dev server (:mod:`.server`) and the reload
loop (:mod:`.loop`)."""
