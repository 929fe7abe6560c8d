"""The demo faces' binary attributes (CelebA names): recorded as manifest targets, and redrawable
with any of them flipped (`render_item`), which is the exact ground truth of an attribute edit.
A flip must change its own part of the face visibly and nothing else."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image

from cvaegan.data.dataset import build_cache
from cvaegan.data.demo_faces import (ATTRIBUTES, DemoDataConfig, render_item, sample_attributes,
                                     with_attributes, write_demo_dataset)
from cvaegan.data.manifest import index_dataset

FACE_CENTRE = (0.5, 0.47)  # where the drawing puts the face centre, the pivot of the pose


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Seed 9: round and square glasses, beanie and cap, bun and spiky hair (hidden by a hat), the
    darkest skin, so every drawing branch of the attributes is exercised."""
    root = write_demo_dataset(tmp_path_factory.mktemp("attrs") / "data",
                              DemoDataConfig(num_classes=4, per_class=6, size=32, seed=9))
    return root, json.loads((root / "dataset.json").read_text())


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


def _flip(item: dict, name: str) -> dict[str, bool]:
    return {name: not item["attributes"][name]}


def _figure_xy(attrs: dict, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every output pixel centre in the unposed drawing's units (0..1 across the figure), by undoing
    the pose: the face centre goes to (centre + (dx, dy)), scaled by `scale`, turned by `rotation`."""
    o = (np.arange(size) + 0.5) / size
    x, y = np.meshgrid(o, o)
    u, v = x - (FACE_CENTRE[0] + attrs["dx"]), y - (FACE_CENTRE[1] + attrs["dy"])
    th, s = math.radians(attrs["rotation"]), attrs["scale"]
    return ((math.cos(th) * u - math.sin(th) * v) / s + FACE_CENTRE[0],
            (math.sin(th) * u + math.cos(th) * v) / s + FACE_CENTRE[1])


def _allowed_region(name: str, traits: dict, fx: np.ndarray, fy: np.ndarray, margin: float) -> np.ndarray:
    """Where a flip of `name` may change pixels, from the person's face layout: the eye band for
    glasses, above the eyes for a hat, a box around the mouth for the two mouth attributes."""
    hw = traits["head_width"]
    hh = hw * traits["face_aspect"]
    eye_y, mouth_y = FACE_CENTRE[1] - 0.02 * hh, FACE_CENTRE[1] + 0.5 * hh
    er, dx = traits["eye_size"], np.abs(fx - FACE_CENTRE[0])
    if name == "Eyeglasses":
        return (np.abs(fy - eye_y) <= 1.6 * er + 0.025 + margin) & (dx <= 1.05 * hw + margin)
    if name == "Wearing_Hat":
        return (fy <= eye_y - er + margin) & (dx <= 1.25 * hw + margin)
    return (np.abs(fy - mouth_y) <= 0.55 * hw + margin) & (dx <= 0.5 * hw + margin)


def test_render_item_without_changes_is_the_written_png(demo):
    root, manifest = demo
    for item in manifest["items"]:
        img = render_item(manifest, item)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        assert buf.getvalue() == (root / item["file"]).read_bytes(), item["file"]
        assert np.array_equal(_pixels(img), _pixels(Image.open(root / item["file"])))


@pytest.mark.parametrize("name", ATTRIBUTES)
def test_a_flip_changes_only_its_own_part_of_the_face(demo, name):
    """At 256 px (LANCZOS from a 512 px canvas reaches 3 output pixels), so the allowed regions can
    be tight; everything outside them (hair, skin, body, background, the other attributes) is
    byte-identical."""
    _, manifest = demo
    size = 256
    for item in manifest["items"][::2]:
        traits = manifest["traits"][item["class"]]
        before = _pixels(render_item(manifest, item, size=size))
        after = _pixels(render_item(manifest, item, _flip(item, name), size=size))
        changed = (before != after).any(2)
        fx, fy = _figure_xy(item["attributes"], size)
        allowed = _allowed_region(name, traits, fx, fy, margin=4 / size / item["attributes"]["scale"])
        assert changed.sum() > 0.002 * size * size, (item["file"], int(changed.sum()))
        outside = changed & ~allowed
        assert not outside.any(), f"{item['file']}: {int(outside.sum())} pixels changed outside the {name} region"


def test_every_flip_is_visible_at_32_px_and_leaves_the_rest(demo):
    root, manifest = demo
    for item in manifest["items"]:
        before = _pixels(Image.open(root / item["file"]))
        for name in ATTRIBUTES:
            after = _pixels(render_item(manifest, item, _flip(item, name)))
            diff = np.abs(after - before)
            assert diff.mean() > 0.1 and diff.max() >= 30, (item["file"], name, diff.mean(), diff.max())
            assert not diff[-4:, :4].any() and not diff[-4:, -4:].any(), (item["file"], name)
        # flipping back is the original again: the edit is fully determined by the attributes
        flipped = {**item, "attributes": with_attributes(item["attributes"], _flip(item, "Smiling"))}
        back = render_item(manifest, flipped, {"Smiling": item["attributes"]["Smiling"]})
        assert np.array_equal(_pixels(back), before)


def test_targets_are_in_the_manifest_and_reach_the_data_layer(demo, tmp_path):
    root, manifest = demo
    assert manifest["targets"]["names"] == list(ATTRIBUTES)
    for item in manifest["items"]:
        assert item["target"] == [1.0 if item["attributes"][n] else 0.0 for n in ATTRIBUTES]
        assert all(type(item["attributes"][n]) is bool for n in ATTRIBUTES)
    index = index_dataset(root)
    assert index.target_names == list(ATTRIBUTES)
    by_file = {(root / it["file"]).resolve(): it["target"] for it in manifest["items"]}
    assert index.targets == [by_file[f] for f in index.files]
    cache = build_cache(root, 32, split=None, cache_dir=tmp_path)
    assert cache.targets is not None and cache.targets.shape == (len(manifest["items"]), len(ATTRIBUTES))
    assert 0 < cache.targets.mean() < 1


def test_each_attribute_is_neither_rare_nor_constant():
    draws = [sample_attributes(np.random.default_rng([0, c, j])) for c in range(4) for j in range(100)]
    for name in ATTRIBUTES:
        freq = np.mean([d[name] for d in draws])
        assert 0.2 <= freq <= 0.8, (name, freq)
    # drawn independently: no attribute simply copies another
    for a in ATTRIBUTES:
        for b in ATTRIBUTES:
            if a < b:
                assert np.mean([d[a] == d[b] for d in draws]) < 0.8, (a, b)


def test_with_attributes_sets_copies_and_refuses_what_it_does_not_know(demo):
    _, manifest = demo
    attrs = manifest["items"][0]["attributes"]
    out = with_attributes(attrs, {"Eyeglasses": 1, "Wearing_Hat": 0.0, "Smiling": True})
    assert (out["Eyeglasses"], out["Wearing_Hat"], out["Smiling"]) == (True, False, True)
    assert {k: v for k, v in out.items() if k not in ATTRIBUTES} == {k: v for k, v in attrs.items()
                                                                     if k not in ATTRIBUTES}
    out["background"][0] = -1
    assert attrs["background"][0] != -1  # a copy, not the manifest's own lists
    with pytest.raises(ValueError, match="Smiling.*Eyeglasses.*Mouth_Slightly_Open.*Wearing_Hat"):
        with_attributes(attrs, {"Bald": 1})
    with pytest.raises(ValueError, match="Bald"):
        render_item(manifest, manifest["items"][0], {"Bald": 1})
    with pytest.raises(ValueError, match="0/1"):
        with_attributes(attrs, {"Smiling": 0.5})


def test_render_item_refuses_a_manifest_from_another_generator(demo):
    _, manifest = demo
    old = {**manifest, "config": {**manifest["config"], "generator_version": 1}}
    with pytest.raises(ValueError, match="generator version"):
        render_item(old, manifest["items"][0])
