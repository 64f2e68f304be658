"""Internal: the desktop around the pages. Window control and remembered state
(:mod:`.windows`), menus (:mod:`.menus`), one running instance per user
(:mod:`.single_instance`). Not API: apps use what :mod:`ramparts` exports."""
