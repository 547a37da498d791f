"""A stand-in for OBS's `obspython` module: records properties, hotkeys, timers, frontend
callbacks, settings and log lines so a test can drive the stylecam OBS script directly.

It keeps the rules of the real module that scripts trip over: callbacks must be plain Python
functions (OBS checks PyFunction_Check), hotkey names must be unique (a reload that forgets to
unregister shows up as a duplicate), and settings serialise to JSON like obs_data does.

`ScriptHost` plays OBS's part: load (defaults, load, update), save, reload, unload.
"""
from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import types

# -- constants the script uses ---------------------------------------------------------------
LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG = 100, 200, 300, 400
OBS_TEXT_DEFAULT, OBS_TEXT_PASSWORD, OBS_TEXT_MULTILINE, OBS_TEXT_INFO = 0, 1, 2, 3
OBS_TEXT_INFO_NORMAL, OBS_TEXT_INFO_WARNING, OBS_TEXT_INFO_ERROR = 0, 1, 2
OBS_COMBO_TYPE_INVALID, OBS_COMBO_TYPE_EDITABLE, OBS_COMBO_TYPE_LIST = 0, 1, 2
OBS_COMBO_FORMAT_INVALID, OBS_COMBO_FORMAT_INT, OBS_COMBO_FORMAT_FLOAT, OBS_COMBO_FORMAT_STRING = 0, 1, 2, 3
OBS_GROUP_NORMAL, OBS_GROUP_CHECKABLE = 1, 2
OBS_INVALID_HOTKEY_ID = 2**64 - 1
OBS_FRONTEND_EVENT_SCENE_CHANGED = 8
OBS_FRONTEND_EVENT_EXIT = 17
OBS_FRONTEND_EVENT_SCRIPTING_SHUTDOWN = 34


def _need_function(cb, what: str) -> None:
    if not inspect.isfunction(cb):
        raise TypeError(f"{what}: OBS only accepts plain Python functions, got {type(cb).__name__}")


# -- recorder state ----------------------------------------------------------------------------
class _Recorder:
    def __init__(self):
        self.hotkeys: dict[int, dict] = {}     # id -> {name, description, callback, bindings}
        self.next_hotkey_id = 1
        self.timers: list[tuple] = []          # (callback, ms)
        self.event_callbacks: list = []
        self.scenes: list[str] = ["Scene"]
        self.current_scene = "Scene"
        self.log: list[tuple[int, str]] = []


rec = _Recorder()


def reset() -> None:
    global rec
    rec = _Recorder()


# -- obs_data ------------------------------------------------------------------------------------
class Data:
    def __init__(self, values: dict | None = None):
        self.values: dict = dict(values or {})
        self.defaults: dict = {}

    def get(self, name, fallback):
        if name in self.values:
            return self.values[name]
        return self.defaults.get(name, fallback)


class DataArray:
    def __init__(self, items: list[dict] | None = None):
        self.items = [dict(i) for i in (items or [])]


def obs_data_create():
    return Data()


def obs_data_create_from_json(text):
    return Data(json.loads(text))


def obs_data_release(data):
    pass


def obs_data_get_json(data) -> str:
    def plain(v):
        return [dict(i) for i in v.items] if isinstance(v, DataArray) else v
    return json.dumps({k: plain(v) for k, v in data.values.items()})


for _kind, _fallback in (("string", ""), ("bool", False), ("double", 0.0), ("int", 0)):
    def _getter(data, name, _fb=_fallback):
        return data.get(name, _fb)

    def _setter(data, name, value):
        data.values[name] = value

    def _default(data, name, value):
        data.defaults[name] = value

    globals()[f"obs_data_get_{_kind}"] = _getter
    globals()[f"obs_data_set_{_kind}"] = _setter
    globals()[f"obs_data_set_default_{_kind}"] = _default


def obs_data_get_array(data, name):
    value = data.values.get(name)
    if isinstance(value, list):
        return DataArray(value)
    return DataArray(value.items) if isinstance(value, DataArray) else None


def obs_data_set_array(data, name, array):
    data.values[name] = DataArray(array.items if array else [])


def obs_data_array_release(array):
    pass


# -- properties ------------------------------------------------------------------------------------
class Prop:
    def __init__(self, kind: str, name: str, description: str, **extra):
        self.kind, self.name, self.description = kind, name, description
        self.items: list[tuple[str, str]] = []
        self.long_description = ""
        self.info_type = OBS_TEXT_INFO_NORMAL
        self.__dict__.update(extra)


class Props:
    def __init__(self):
        self.props: dict[str, Prop] = {}

    def add(self, prop: Prop) -> Prop:
        if prop.name in self.props:
            raise ValueError(f"duplicate property {prop.name!r}")
        self.props[prop.name] = prop
        return prop

    def flat(self) -> dict[str, Prop]:
        """Every property, groups opened up."""
        out = {}
        for name, p in self.props.items():
            out[name] = p
            if p.kind == "group":
                out.update(p.group.flat())
        return out


def obs_properties_create():
    return Props()


def obs_properties_destroy(props):
    pass


def obs_properties_add_text(props, name, description, text_type):
    return props.add(Prop("text", name, description, text_type=text_type))


def obs_properties_add_bool(props, name, description):
    return props.add(Prop("bool", name, description))


def obs_properties_add_float_slider(props, name, description, lo, hi, step):
    return props.add(Prop("float", name, description, min=lo, max=hi, step=step, slider=True))


def obs_properties_add_list(props, name, description, combo_type, combo_format):
    return props.add(Prop("list", name, description, combo_type=combo_type, combo_format=combo_format))


def obs_property_list_add_string(prop, label, value):
    prop.items.append((label, value))
    return len(prop.items) - 1


def obs_properties_add_button(props, name, text, callback):
    _need_function(callback, "obs_properties_add_button")
    return props.add(Prop("button", name, text, callback=callback))


def obs_properties_add_group(props, name, description, group_type, group):
    return props.add(Prop("group", name, description, group=group, group_type=group_type))


def obs_property_set_long_description(prop, text):
    prop.long_description = text


def obs_property_text_set_info_type(prop, info_type):
    prop.info_type = info_type


# -- hotkeys -------------------------------------------------------------------------------------
def obs_hotkey_register_frontend(name, description, callback):
    _need_function(callback, "obs_hotkey_register_frontend")
    if any(h["name"] == name for h in rec.hotkeys.values()):
        raise AssertionError(f"hotkey {name!r} registered twice (a reload left the old one behind?)")
    hid = rec.next_hotkey_id
    rec.next_hotkey_id += 1
    rec.hotkeys[hid] = {"name": name, "description": description, "callback": callback, "bindings": []}
    return hid


def obs_hotkey_unregister(callback):
    for hid in [h for h, v in rec.hotkeys.items() if v["callback"] is callback]:
        del rec.hotkeys[hid]


def obs_hotkey_save(hid):
    if hid not in rec.hotkeys:
        return None
    return DataArray(rec.hotkeys[hid]["bindings"])


def obs_hotkey_load(hid, array):
    if hid in rec.hotkeys:
        rec.hotkeys[hid]["bindings"] = [dict(i) for i in (array.items if array else [])]


# -- timers, frontend, sources, log ------------------------------------------------------------
def timer_add(callback, ms):
    _need_function(callback, "timer_add")
    rec.timers.append((callback, ms))


def timer_remove(callback):
    rec.timers = [t for t in rec.timers if t[0] is not callback]


def obs_frontend_add_event_callback(callback):
    _need_function(callback, "obs_frontend_add_event_callback")
    rec.event_callbacks.append(callback)


def obs_frontend_remove_event_callback(callback):
    rec.event_callbacks = [c for c in rec.event_callbacks if c is not callback]


def obs_frontend_get_scene_names():
    return list(rec.scenes)


class Source:
    def __init__(self, name):
        self.name = name


def obs_frontend_get_current_scene():
    return Source(rec.current_scene)


def obs_source_get_name(source):
    return source.name


def obs_source_release(source):
    pass


def script_log(level, message):
    rec.log.append((level, message))


# -- what OBS does around a script ---------------------------------------------------------------
def install() -> types.ModuleType:
    """Make `import obspython` find this module."""
    module = sys.modules[__name__]
    sys.modules["obspython"] = module
    return module


class ScriptHost:
    """Loads a script file the way OBS does and offers the user's actions as methods."""

    def __init__(self, path, settings: Data | None = None):
        install()
        self.path = path
        self.settings = settings or Data()
        self.module = None

    def load(self):
        if self.module is None:
            spec = importlib.util.spec_from_file_location("stylecam_obs_under_test", self.path)
            self.module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(self.module)
        else:   # OBS reloads with PyImport_ReloadModule: same namespace, code run again
            self.module.__loader__.exec_module(self.module)
        m = self.module
        m.script_defaults(self.settings)
        m.script_load(self.settings)
        m.script_update(self.settings)
        return m

    def unload(self):
        self.module.script_unload()

    def reload(self):
        self.unload()
        return self.load()

    def save(self) -> Data:
        """script_save, then the JSON round trip the scene collection file makes."""
        self.module.script_save(self.settings)
        return Data(json.loads(obs_data_get_json(self.settings)))

    # the user's actions
    def change(self, **values):
        """Edit fields in the properties view: OBS then calls script_update."""
        self.settings.values.update(values)
        self.module.script_update(self.settings)

    def properties(self) -> dict[str, Prop]:
        return self.module.script_properties().flat()

    def shown(self, name):
        """What the properties view shows for a field (the settings value, defaults applied)."""
        return self.settings.get(name, None)

    def click(self, button: str) -> bool:
        props = self.module.script_properties()
        prop = props.flat()[button]
        return prop.callback(props, prop)

    def tick(self):
        for callback, _ms in list(rec.timers):
            callback()

    def hotkey_names(self) -> list[str]:
        return [h["name"] for h in rec.hotkeys.values()]

    def hotkey(self, name) -> dict:
        for h in rec.hotkeys.values():
            if h["name"] == name:
                return h
        raise KeyError(f"no hotkey {name!r}; registered: {self.hotkey_names()}")

    def press(self, name):
        callback = self.hotkey(name)["callback"]
        callback(True)
        callback(False)

    def bind(self, name, key: str):
        """Settings -> Hotkeys: bind a key to a hotkey."""
        self.hotkey(name)["bindings"] = [{"key": key}]

    def switch_scene(self, name):
        rec.current_scene = name
        for callback in list(rec.event_callbacks):
            callback(OBS_FRONTEND_EVENT_SCENE_CHANGED)

    def log_text(self) -> str:
        return "\n".join(m for _lvl, m in rec.log)


