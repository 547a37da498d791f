"""Where stylecam keeps its files: user config (config.yaml, token, custom styles), cache."""
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
