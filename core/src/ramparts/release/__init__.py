"""Internal: shipping an app. Signed manifests (:mod:`.signing`), the PyInstaller build
(:mod:`.build`, :mod:`.pyinstaller`), the offline audit (:mod:`.audit`) and a built
app's launcher (:mod:`.launcher`). Reached through the ``ramparts`` CLI, not imported by
apps or plugins."""
