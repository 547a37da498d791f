"""Where stylecam keeps its files: user config (config.yaml, token, custom styles), cache; and
how it writes the private ones (mode 0600)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "stylecam"


def user_config_dir() -> Path:
    if "STYLECAM_CONFIG_DIR" in os.environ:
        return Path(os.environ["STYLECAM_CONFIG_DIR"])
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / APP


def user_cache_dir() -> Path:
    if "STYLECAM_CACHE_DIR" in os.environ:
        return Path(os.environ["STYLECAM_CACHE_DIR"])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / APP


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
