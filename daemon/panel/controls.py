"""What the panel's controls are, as data the page renders: every parameter POST /params
accepts (api.PARAM_TYPES) that /status reports, with a label, a range or choices where known.
A parameter added to the API later appears in the panel on its own: a switch (bool), a number
field, or, for text, a list of the values config.py names for it (NAME_MODES, NAMES,
NAME_PRESETS or NAME_CHOICES, e.g. SMOOTHING_MODES) or else a text field. A hint here gives it
a nicer label, a slider or value labels."""
from __future__ import annotations

from types import ModuleType

from .. import config
from ..config import LIMITS, SMOOTHING_MODES

HINTS: dict[str, dict] = {
    "enabled": {"label": "Stylization on"},
    "strength": {"label": "Strength", "min": LIMITS["strength"].lo, "max": LIMITS["strength"].hi, "step": 0.05},
    "preserve_color": {"label": "Keep the camera's colours"},
    "mirror": {"label": "Mirror"},
    "smoothing": {"label": "Smoothing", "choices": list(SMOOTHING_MODES),
                  "choice_labels": {"off": "Off", "ema": "Light (EMA)", "flow": "Steady (optical flow)"}},
    "target_fps": {"label": "Target fps", "min": 5, "max": 60, "step": 1},
    "sharpen": {"label": "Sharpen strokes", "min": LIMITS["sharpen"].lo, "max": LIMITS["sharpen"].hi, "step": 0.1},
}


def _kind(types: tuple) -> str:
    if bool in types:
        return "bool"
    if int in types or float in types:
        return "number"
    return "text"


def _choices(name: str, constants) -> list[str] | None:
    for attr in (f"{name}_MODES", f"{name}S", f"{name}_PRESETS", f"{name}_CHOICES"):
        values = getattr(constants, attr.upper(), None)
        if isinstance(values, (tuple, list)) and values and all(isinstance(v, str) for v in values):
            return list(values)
    return None


def describe_controls(param_types: dict[str, tuple], status: dict,
                      constants: ModuleType | object = config) -> list[dict]:
    """One entry per parameter the daemon reports: {name, kind, label, min?, max?, step?,
    choices?}; kind is bool, number, choice or text."""
    controls = []
    for name, types in param_types.items():
        if name not in status:
            continue
        hint = dict(HINTS.get(name, {}))
        if "choices" not in hint and _kind(types) == "text":
            found = _choices(name, constants)
            if found:
                hint["choices"] = found
        kind = "choice" if hint.get("choices") else _kind(types)
        controls.append({"name": name, "kind": kind,
                         "label": hint.pop("label", name.replace("_", " ").capitalize()), **hint})
    return controls
