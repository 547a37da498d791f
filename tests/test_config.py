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


# -- the one table of limits and choices -------------------------------------------------------------
def _refusals(value_for_config: dict, api_body: dict, stylize_flags: list[str]):
    """What config validation, POST /params and `stylecam stylize` say about one bad value."""
    from stylecam.api import ApiError, validate_params
    from stylecam.stylize import UserError, settings_from

    said = []
    for check, error in ((lambda: from_dict(value_for_config), ConfigError),
                         (lambda: validate_params(api_body), ApiError),
                         (lambda: settings_from(cli._parser().parse_args(["stylize", "in.png", "out.png",
                                                                          *stylize_flags])), UserError)):
        with pytest.raises(error) as err:
            check()
        said.append(str(err.value))
    return said


def test_config_api_and_stylize_take_their_bounds_from_one_table(monkeypatch):
    from stylecam import config

    assert _refusals({"style": {"strength": 1.5}}, {"strength": 1.5}, ["--strength", "1.5"]) == [
        "style.strength: must be between 0 and 1", "strength: must be between 0 and 1",
        "--strength 1.5: give a number from 0 (original) to 1 (full style)"]
    monkeypatch.setitem(config.LIMITS, "strength", config.Span(0, 2))  # one change reaches all three
    from_dict({"style": {"strength": 1.5}})
    assert _refusals({"style": {"strength": 2.5}}, {"strength": 2.5}, ["--strength", "2.5"]) == [
        "style.strength: must be between 0 and 2", "strength: must be between 0 and 2",
        "--strength 2.5: give a number from 0 (original) to 2 (full style)"]


def test_messages_built_from_the_table_read_as_before():
    from stylecam.api import ApiError, validate_params

    for data, message in [
        ({"processing": {"target_fps": 0}}, "processing.target_fps: must be between 1 and 240"),
        ({"api": {"port": 70000}}, "api.port: must be between 0 and 65535 (0 picks a free port)"),
        ({"processing": {"idle_after_s": 601.0}}, "processing.idle_after_s: must be between 0 and 600 seconds"),
        ({"input": {"width": 8}}, "input.width/input.height: the requested camera size must be between "
                                  "16x16 and 7680x4320"),
        ({"style": {"region": "face"}}, "style.region: 'face'; choose one of all, background, person"),
        ({"rtmp": {"bitrate_kbps": 5}}, "rtmp.bitrate_kbps: 5; 0 (the preset's) or 100 to 50000"),
        ({"rtmp": {"width": 4000}}, "rtmp.width: 4000; 0 (the preset's) or an even number from 16 to 3840"),
        ({"rtmp": {"fps": 121}}, "rtmp.fps: 121; 0 (the preset's) or 1 to 120"),
    ]:
        with pytest.raises(ConfigError) as err:
            from_dict(data)
        assert str(err.value) == message
    with pytest.raises(ApiError, match=r"^smoothing: use one of off, ema, flow$"):
        validate_params({"smoothing": "blur"})


def test_argparse_choices_are_the_tables():
    from stylecam import config

    def choices(*argv):
        parser = cli._parser()
        sub = next(a for a in parser._actions if a.dest == "cmd").choices[argv[0]]
        return {a.dest: tuple(a.choices) for a in sub._actions if a.choices}

    for command in ("run", "stylize", "bench"):
        found = choices(command)
        for dest in ("smoothing", "precision", "region"):
            assert found[dest] == config.LIMITS[dest], (command, dest)
    assert choices("run")["on_demand"] == config.LIMITS["on_demand"]
    assert choices("bench")["provider"] == config.LIMITS["provider"]


def test_stylize_and_bench_build_their_config_the_way_run_does():
    from stylecam.bench.run import bench_config
    from stylecam.stylize import settings_from

    flags = ["--style", "udnie", "--smoothing", "ema", "--precision", "int8", "--region", "person"]
    run = cli.build_config(cli._parser().parse_args(["run", "--input", "demo", *flags, "--size", "96x54"]))
    settings = settings_from(cli._parser().parse_args(["stylize", "in.png", "out.png", *flags, "--size", "96x54"]))
    assert (settings.style, settings.smoothing, settings.precision, settings.region, settings.max_size) == \
           (run.style.name, run.style.smoothing, run.processing.precision, run.style.region, (96, 54))
    args = cli._parser().parse_args(["bench", *flags, "--provider", "cpu", "--max-size", "128x72",
                                     "--min-size", "64x36", "--target-fps", "12"])
    bench = bench_config(args, "demo", (320, 180))
    assert (bench.style.name, bench.style.smoothing, bench.processing.precision, bench.style.region) == \
           (run.style.name, run.style.smoothing, run.processing.precision, run.style.region)
    assert bench.processing.providers == ["cpu"] and bench.processing.target_fps == 12
    assert (bench.processing.max_size, bench.processing.min_size) == ("128x72", "64x36")
    assert bench.output.targets == ["null"] and not bench.api.enabled
