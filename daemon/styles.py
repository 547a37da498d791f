"""The style catalogue: the shipped manifest (models/styles.yaml) plus custom styles that
`stylecam train --style-image` writes into the user config dir (styles/NAME.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .paths import models_dir, user_styles_dir

STYLE_DIM = 100


class StyleError(ValueError):
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

    def get(self, name: str) -> Style:
        try:
            return self.styles[name]
        except KeyError:
            raise StyleError(f"unknown style {name!r}; known styles: {', '.join(self.styles)}") from None

    @property
    def names(self) -> list[str]:
        return list(self.styles)


def _style_from(entry: dict, where: str, custom: bool) -> Style:
    for key in ("name", "vector"):
        if key not in entry:
            raise StyleError(f"{where}: a style entry lacks {key!r}")
    vec = np.asarray(entry["vector"], dtype=np.float32).reshape(-1)
    if vec.shape != (STYLE_DIM,) or not np.isfinite(vec).all():
        raise StyleError(f"{where}: style {entry['name']!r} needs a vector of {STYLE_DIM} finite numbers")
    return Style(name=str(entry["name"]), vector=vec, title=str(entry.get("title", "")),
                 artist=str(entry.get("artist", "")), year=str(entry.get("year", "")),
                 default_strength=float(entry.get("default_strength", 1.0)), custom=custom)


def load_catalogue(model_dir: Path | None = None, user_dir: Path | None = None) -> Catalogue:
    model_dir = Path(model_dir) if model_dir else models_dir()
    manifest = model_dir / "styles.yaml"
    if not manifest.exists():
        raise StyleError(f"no style manifest at {manifest}; reinstall stylecam (pip install .) "
                         "or train one with `stylecam train`")
    data = yaml.safe_load(manifest.read_text())
    if not isinstance(data, dict) or "model" not in data or "styles" not in data:
        raise StyleError(f"{manifest}: needs 'model' and 'styles' keys")
    cat = Catalogue(model_path=model_dir / data["model"], stride=int(data.get("stride", 4)),
                    min_size=int(data.get("min_size", 20)))
    if not cat.model_path.exists():
        raise StyleError(f"{manifest} names {cat.model_path.name}, which is missing; reinstall stylecam")
    for entry in data["styles"]:
        style = _style_from(entry, str(manifest), custom=False)
        cat.styles[style.name] = style
    user_dir = Path(user_dir) if user_dir else user_styles_dir()
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.yaml")):
            try:
                entry = yaml.safe_load(path.read_text())
                style = _style_from(entry, str(path), custom=True)
            except (StyleError, yaml.YAMLError, TypeError) as exc:
                import logging

                logging.getLogger(__name__).warning("skipping custom style %s: %s", path, exc)
                continue
            cat.styles[style.name] = style
    if not cat.styles:
        raise StyleError(f"{manifest} lists no styles")
    return cat
