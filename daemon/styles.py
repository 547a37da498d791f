"""The style catalogue: the shipped manifest (models/styles.yaml) plus custom styles that
`stylecam train --style-image` writes into the user config dir (styles/NAME.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import yaml

from .config import QUALITY_PRESETS
from .errors import StylecamError
from .paths import models_dir, user_styles_dir

STYLE_DIM = 100
VARIANTS_HOWTO = "python -m stylecam.training.variants --models {models} --content PHOTOS_DIR"
FP32_FIX = "or run at full precision (processing.precision: fp32, or --precision fp32)"


class StyleError(StylecamError, ValueError):
    """A bad manifest or an unknown style; the message says what to do."""


@dataclass
class Style:
    name: str
    vector: np.ndarray
    title: str = ""
    artist: str = ""
    year: str = ""
    default_strength: float = 1.0
    custom: bool = False

    def describe(self) -> dict:
        return {"name": self.name, "title": self.title, "artist": self.artist, "year": self.year,
                "default_strength": self.default_strength, "custom": self.custom}


@dataclass
class Catalogue:
    model_path: Path
    styles: dict[str, Style] = field(default_factory=dict)
    stride: int = 4
    min_size: int = 20
    scale: int = 1  # the network's body runs at 1/scale of its input (training/model.py)
    variants: dict[str, Path] = field(default_factory=dict)  # precision (fp16, int8) -> reduced-precision model
    # quality preset -> the network trained for it (the manifest's `networks`), fields as above
    networks: dict[str, dict] = field(default_factory=dict)
    network: str = ""  # the preset whose `networks` entry this catalogue runs ("": the main network)

    def for_quality(self, quality: str) -> "Catalogue":
        """The catalogue whose network `processing.quality` runs: the manifest's `networks` entry
        for that preset (e.g. `best`: a scale-2 network that paints near the output size), else
        this one. The styles are the same (the networks share the style vectors)."""
        net = self.networks.get(quality)
        return self if net is None else replace(self, **net, networks={}, network=quality)

    @property
    def precisions(self) -> list[str]:
        """fp32 (the model itself) and every variant the manifest lists."""
        return ["fp32", *self.variants]

    def model_for(self, precision: str) -> Path:
        """The network file for `precision` (fp32: model_path); StyleError names the fix."""
        if precision == "fp32":
            return self.model_path
        folder = self.model_path.parent
        howto = VARIANTS_HOWTO.format(models=folder) + (f" --network {self.network}" if self.network else "")
        if precision not in self.variants:
            raise StyleError(f"no {precision} variant of the style network: {folder / 'styles.yaml'} lists "
                             f"precisions {', '.join(self.precisions)}; make the fp16/int8 files with "
                             f"`{howto}`, {FP32_FIX}")
        path = self.variants[precision]
        if not path.exists():
            raise StyleError(f"{folder / 'styles.yaml'} lists {path.name} as the {precision} variant, but that "
                             f"file is missing; make it again with `{howto}`, {FP32_FIX}")
        return path

    def get(self, name: str) -> Style:
        try:
            return self.styles[name]
        except KeyError:
            raise StyleError(f"unknown style {name!r}; known styles: {', '.join(self.styles)}") from None

    @property
    def names(self) -> list[str]:
        return list(self.styles)


def _variants_from(data, manifest: Path) -> dict[str, Path]:
    """The manifest's optional `variants: {fp16: FILE, int8: FILE}`; files are checked when used."""
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise StyleError(f"{manifest}: 'variants' must map a precision to a file name, "
                         "e.g. {fp16: stylenet_fp16.onnx, int8: stylenet_int8.onnx}")
    return {k: manifest.parent / v for k, v in data.items() if k != "fp32"}


def _network_from(data: dict, manifest: Path) -> dict:
    """Catalogue fields of one network: the manifest's top level, or one `networks` entry."""
    path = manifest.parent / str(data["model"])
    if not path.exists():
        raise StyleError(f"{manifest} names {path.name}, which is missing; reinstall stylecam")
    return {"model_path": path, "stride": int(data.get("stride", 4)), "min_size": int(data.get("min_size", 20)),
            "scale": int((data.get("architecture") or {}).get("scale", 1)),
            "variants": _variants_from(data.get("variants"), manifest)}


def _networks_from(data, manifest: Path) -> dict[str, dict]:
    """The manifest's optional `networks: {PRESET: {model: FILE, architecture: ..., ...}}`."""
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "model" in v for v in data.values()):
        raise StyleError(f"{manifest}: 'networks' must map a quality preset to a network with a 'model' "
                         "file, e.g. {best: {model: stylenet_detail.onnx, stride: 8}}")
    unknown = sorted(set(data) - set(QUALITY_PRESETS))
    if unknown:
        raise StyleError(f"{manifest}: 'networks' names {', '.join(map(str, unknown))}, not a quality preset; "
                         f"use one of {', '.join(QUALITY_PRESETS)}")
    return {preset: _network_from(net, manifest) for preset, net in data.items()}


def _style_from(entry, where: str, custom: bool) -> Style:
    """A Style from one manifest entry; StyleError naming the file and the field otherwise."""
    if not isinstance(entry, dict):
        raise StyleError(f"{where}: a style must be a mapping with name and vector keys")
    for key in ("name", "vector"):
        if key not in entry:
            raise StyleError(f"{where}: a style entry lacks {key!r}")
    name = entry["name"]
    if not isinstance(name, str) or not name.strip():
        raise StyleError(f"{where}: 'name' must be text, got {name!r}")
    try:
        vec = np.asarray(entry["vector"], dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        vec = None
    if vec is None or vec.shape != (STYLE_DIM,) or not np.isfinite(vec).all():
        raise StyleError(f"{where}: 'vector' of style {name!r} must be a list of {STYLE_DIM} finite numbers")
    strength = entry.get("default_strength", 1.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= 1:
        raise StyleError(f"{where}: 'default_strength' of style {name!r} must be a number from 0 to 1, "
                         f"got {strength!r}")
    return Style(name=name, vector=vec, title=str(entry.get("title", "")),
                 artist=str(entry.get("artist", "")), year=str(entry.get("year", "")),
                 default_strength=float(strength), custom=custom)


def _custom_styles(user_dir: Path, builtin: dict[str, Style]):
    """The custom styles in user_dir; a bad file or a built-in's name is skipped with one warning."""
    import logging

    log = logging.getLogger(__name__)
    for path in sorted(user_dir.glob("*.yaml")):
        try:
            style = _style_from(yaml.safe_load(path.read_text(encoding="utf-8")), str(path), custom=True)
        except UnicodeDecodeError:
            log.warning("skipping custom style %s: not UTF-8 text; save it as UTF-8 or delete it", path)
            continue
        except (StyleError, yaml.YAMLError, OSError) as exc:
            log.warning("skipping custom style %s: %s", path, str(exc).replace(f"{path}: ", ""))
            continue
        if style.name in builtin:
            log.warning("skipping custom style %s: %r is a built-in style's name; rename it "
                        "(change 'name' in the file)", path, style.name)
            continue
        yield style


def load_catalogue(model_dir: Path | None = None, user_dir: Path | None = None) -> Catalogue:
    model_dir = Path(model_dir) if model_dir else models_dir()
    manifest = model_dir / "styles.yaml"
    if not manifest.exists():
        raise StyleError(f"no style manifest at {manifest}; reinstall stylecam (pip install .) "
                         "or train one with `stylecam train`")
    data = yaml.safe_load(manifest.read_text())
    if not isinstance(data, dict) or "model" not in data or "styles" not in data:
        raise StyleError(f"{manifest}: needs 'model' and 'styles' keys")
    cat = Catalogue(**_network_from(data, manifest), networks=_networks_from(data.get("networks"), manifest))
    for entry in data["styles"]:
        style = _style_from(entry, str(manifest), custom=False)
        cat.styles[style.name] = style
    user_dir = Path(user_dir) if user_dir else user_styles_dir()
    if user_dir.is_dir():
        for style in _custom_styles(user_dir, dict(cat.styles)):
            cat.styles[style.name] = style
    if not cat.styles:
        raise StyleError(f"{manifest} lists no styles")
    return cat
