"""Install a trained network as the network of one quality preset (the manifest's `networks`).

    python -m stylecam.training.networks --models models --from RUN_OUT --preset best --name stylenet_detail

RUN_OUT is a `stylecam train --out` folder (stylenet.onnx, stylenet_weights.npz, styles.yaml).
Its files are copied into --models under --name, and models/styles.yaml gains
`networks: {PRESET: {model, weights, architecture, stride, min_size, output, ...}}`, which the
daemon runs for `processing.quality: PRESET` (styles.Catalogue.for_quality). The styles must be the
same as the catalogue's (the same names and vectors): the networks share them. Reduced-precision
variants of it: `python -m stylecam.training.variants --models models --network PRESET`.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import yaml

from ..config import QUALITY_PRESETS
from .errors import TrainingError, exits_on_error

NETWORK_KEYS = ("architecture", "stride", "min_size", "output", "inputs", "outputs", "trained_steps",
                "loss_weights", "teacher_scale")


# The teacher's style predictor ends in 8-bit steps: the same painting through another
# onnxruntime build's arithmetic gives a vector one step off in a few entries (1.3-1.7 % of its
# length, onnxruntime 1.31 against the catalogue's). The nearest two paintings are 26 % apart.
SAME_PAINTING = 0.05


def vector_change(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.linalg.norm(ours - theirs) / max(np.linalg.norm(ours), 1e-9))


def install(models: Path, run_out: Path, preset: str, name: str) -> dict:
    if preset not in QUALITY_PRESETS:
        raise TrainingError(f"--preset {preset!r} is not a quality preset; use one of {', '.join(QUALITY_PRESETS)}")
    manifest_path, run_manifest = models / "styles.yaml", run_out / "styles.yaml"
    for path in (manifest_path, run_manifest, run_out / "stylenet.onnx"):
        if not path.exists():
            raise TrainingError(f"{path} is missing; --models needs styles.yaml, --from a `stylecam train --out` folder")
    manifest, run = yaml.safe_load(manifest_path.read_text()), yaml.safe_load(run_manifest.read_text())
    ours = {s["name"]: np.asarray(s["vector"], np.float32) for s in manifest["styles"]}
    theirs = {s["name"]: np.asarray(s["vector"], np.float32) for s in run["styles"]}
    if ours.keys() != theirs.keys() or any(vector_change(ours[k], theirs[k]) > SAME_PAINTING for k in ours):
        raise TrainingError(f"{run_manifest} has other styles than {manifest_path}: a preset's network must be "
                            "trained on the catalogue's styles (the same paintings, vectors within "
                            f"{SAME_PAINTING:.0%})")
    entry = {"model": f"{name}.onnx"}
    shutil.copyfile(run_out / "stylenet.onnx", models / entry["model"])
    if (run_out / "stylenet_weights.npz").exists():
        entry["weights"] = f"{name}_weights.npz"
        shutil.copyfile(run_out / "stylenet_weights.npz", models / entry["weights"])
    entry.update({k: run[k] for k in NETWORK_KEYS if k in run})
    manifest.setdefault("networks", {})[preset] = entry
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False, width=100))
    return entry


@exits_on_error
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, default=Path("models"), help="folder with styles.yaml")
    ap.add_argument("--from", dest="run_out", type=Path, required=True, help="a `stylecam train --out` folder")
    ap.add_argument("--preset", required=True, help=f"quality preset that runs it ({', '.join(QUALITY_PRESETS)})")
    ap.add_argument("--name", default="stylenet_detail", help="file stem in --models (default stylenet_detail)")
    a = ap.parse_args(argv)
    entry = install(a.models, a.run_out, a.preset, a.name)
    print(f"installed {entry['model']} as the network of processing.quality {a.preset} "
          f"({a.models / 'styles.yaml'} lists it under 'networks')")


if __name__ == "__main__":
    main()
