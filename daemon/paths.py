"""Where stylecam keeps its files: user config (config.yaml, token, custom styles), cache; and
how it writes the private ones (mode 0600)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "stylecam"


def _user_dir(override: str, windows: tuple[str, Path], macos: Path, xdg: tuple[str, Path]) -> Path:
    """$override if set, else this OS's folder for it (windows/xdg: the variable and its default)."""
    if override in os.environ:
        return Path(os.environ[override])
    if sys.platform == "win32":
        base = Path(os.environ.get(windows[0], windows[1]))
    elif sys.platform == "darwin":
        base = macos
    else:
        base = Path(os.environ.get(xdg[0]) or xdg[1])
    return base / APP


def user_config_dir() -> Path:
    home = Path.home()
    return _user_dir("STYLECAM_CONFIG_DIR", ("APPDATA", home / "AppData" / "Roaming"),
                     home / "Library" / "Application Support", ("XDG_CONFIG_HOME", home / ".config"))


def user_cache_dir() -> Path:
    home = Path.home()
    return _user_dir("STYLECAM_CACHE_DIR", ("LOCALAPPDATA", home / "AppData" / "Local"),
                     home / "Library" / "Caches", ("XDG_CACHE_HOME", home / ".cache"))


def user_styles_dir() -> Path:
    return user_config_dir() / "styles"


def models_dir() -> Path:
    """The shipped models/ folder (installed as the stylecam.models package)."""
    import stylecam.models

    return Path(stylecam.models.__file__).resolve().parent


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path` readable by this user only (0600, also when it existed with looser
    permissions), creating its folder: tokens, stream keys, panel sessions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)
    return path
