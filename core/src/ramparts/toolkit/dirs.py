"""The per-OS base directories that scopes name (``$APPDATA``, ``$HOME``, ...).

Apart from the scope engine so that a built app's launcher can find ``$APPLOG`` before
it has verified anything: this module needs only the standard library and platformdirs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["BASE_DIRS", "base_dirs"]

#: The base-directory variables a pattern (or a requested path) may start with.
BASE_DIRS = (
    "APPDATA",
    "APPCONFIG",
    "APPCACHE",
    "APPLOG",
    "HOME",
    "DOCUMENT",
    "DOWNLOAD",
    "DESKTOP",
    "TEMP",
    "RESOURCE",
)


def base_dirs(identifier: str, resource_dir: Path) -> dict[str, Path]:
    """The base directories for this OS (platformdirs), keyed by variable name.

    App directories are keyed by the app's identifier, e.g. on Linux
    ``$APPDATA = ~/.local/share/<identifier>``.
    """
    import tempfile

    import platformdirs

    return {
        "APPDATA": Path(platformdirs.user_data_dir(identifier, appauthor=False)),
        "APPCONFIG": Path(platformdirs.user_config_dir(identifier, appauthor=False)),
        "APPCACHE": Path(platformdirs.user_cache_dir(identifier, appauthor=False)),
        "APPLOG": Path(platformdirs.user_log_dir(identifier, appauthor=False)),
        "HOME": Path.home(),
        "DOCUMENT": Path(platformdirs.user_documents_dir()),
        "DOWNLOAD": Path(platformdirs.user_downloads_dir()),
        "DESKTOP": Path(platformdirs.user_desktop_dir()),
        "TEMP": Path(tempfile.gettempdir()),
        "RESOURCE": resource_dir,
    }
