"""Config: one validated object; unknown keys and bad values fail naming the key and the fix."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stylecam import cli
from stylecam.config import Config, ConfigError, from_dict, load, to_dict


def test_defaults_are_valid_and_round_trip():
    cfg = from_dict(None)
    assert isinstance(cfg, Config)
    assert from_dict(to_dict(cfg)) == cfg


def test_yaml_values_reach_the_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("style:\n  name: udnie\n  strength: 0.5\noutput:\n  targets: ['null', 'file:x.mp4']\n"
                    "processing:\n  precision: int8\n")
    cfg = load(path)
    assert cfg.style.name == "udnie" and cfg.style.strength == 0.5
    assert cfg.processing.precision == "int8"
    assert cfg.output.targets == ["null", "file:x.mp4"]


@pytest.mark.parametrize("data, key, hint", [
    ({"styel": {}}, "styel", "valid keys"),
    ({"style": {"nmae": "x"}}, "style.nmae", "valid keys in style: name"),
    ({"processing": {"target_fps": "fast"}}, "processing.target_fps", "expected a number"),
    ({"processing": {"target_fps": 0}}, "processing.target_fps", "between 1 and 240"),
    ({"processing": {"max_size": "big"}}, "processing.max_size", "WIDTHxHEIGHT"),
    ({"processing": {"min_size": "1280x720"}}, "processing.min_size", "not be larger"),
    ({"processing": {"providers": ["gpu"]}}, "processing.providers", "choose from"),
    ({"processing": {"threads": -2}}, "processing.threads", "positive"),
    ({"processing": {"precision": "fp8"}}, "processing.precision", "choose one of fp32, fp16, int8"),
    ({"processing": {"adaptive": "yes"}}, "processing.adaptive", "true or false"),
    ({"style": {"strength": 1.5}}, "style.strength", "between 0 and 1"),
    ({"style": {"smoothing": "blur"}}, "style.smoothing", "off, ema, flow"),
    ({"style": {"transition_ms": 2.5}}, "style.transition_ms", "whole number"),
    ({"style": "udnie"}, "style", "mapping"),
    ({"output": {"size": "1280*720"}}, "output.size", "WIDTHxHEIGHT"),
    ({"output": {"fps": 1000}}, "output.fps", "between 1 and 240"),
    ({"output": {"targets": [1, 2]}}, "output.targets", "list of strings"),
    ({"api": {"port": 70000}}, "api.port", "0 picks a free port"),
    ({"input": {"fps": float("nan")}}, "input.fps", "between 1 and 240"),
    ({"input": {"width": -5}}, "input.width", "between"),
    ({"processing": {"target_fps": 10 ** 400}}, "processing.target_fps", "too large"),
])
def test_bad_config_names_the_key_and_the_fix(data, key, hint):
    with pytest.raises(ConfigError) as err:
        from_dict(data)
    message = str(err.value)
    assert message.split(":")[0].split("/")[0] == key  # the message starts with the key
    assert hint in message


def test_config_file_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("style:\n  smoothing: blur\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: style\.smoothing"):
        load(path)
    path.write_text("style: [unclosed\n")
    with pytest.raises(ConfigError, match="(?s)not valid YAML.*fix the file or delete it"):
        load(path)
    with pytest.raises(ConfigError, match="does not exist; omit --config"):
        load(tmp_path / "missing.yaml")


def test_missing_default_config_file_means_defaults(config_dir):
    assert not (config_dir / "config.yaml").exists()
    assert load() == Config()


def test_stylecam_run_reports_config_errors_without_a_traceback(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text("processing:\n  target_fsp: 30\n")
    assert cli.main(["run", "--config", str(path), "--input", "demo", "--no-api"]) == 2
    err = capsys.readouterr().err
    assert "config error" in err and "processing.target_fsp: unknown key" in err
    assert "Traceback" not in err


# -- property: any YAML-shaped value either loads or fails with ConfigError ------------------
yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                         st.text(max_size=12))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=6)
section_keys = {
    "input": ["source", "loop", "width", "height", "fps"],
    "processing": ["target_fps", "adaptive", "max_size", "min_size", "providers", "threads", "precision"],
    "style": ["name", "enabled", "strength", "preserve_color", "mirror", "smoothing", "transition_ms"],
    "output": ["size", "fps", "targets", "virtualcam_backend", "virtualcam_device"],
    "api": ["enabled", "host", "port"],
}
config_like = st.dictionaries(
    st.sampled_from(sorted(section_keys) + ["bogus"]),
    st.one_of(yaml_values, st.fixed_dictionaries({}, optional={
        k: yaml_values for keys in section_keys.values() for k in keys})),
    max_size=4)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_like)
def test_any_config_loads_or_fails_with_config_error(data):
    try:
        cfg = from_dict(data)
    except ConfigError as exc:
        assert str(exc)  # a message, never a bare error
        return
    # what loads is usable: numbers finite and in range
    assert 1 <= cfg.processing.target_fps <= 240 and math.isfinite(cfg.output.fps)
    assert 0 <= cfg.style.strength <= 1
