"""The cartoon faces' open-set variant (identity swapping): held-out identities are split off by
identity, `render_swap` is the exact ground truth of a swap, and configs without the new field
keep their manifest record (so existing datasets are not regenerated)."""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import asdict

import numpy as np
import pytest
from PIL import Image

from cvaegan.data.demo_faces import (
    DemoDataConfig,
    _config_record,
    _is_current,
    render_item,
    render_swap,
    write_demo_dataset,
)
from cvaegan.data.manifest import index_dataset


@pytest.fixture(scope="module")
def openset(tmp_path_factory):
    root = tmp_path_factory.mktemp("openset")
    cfg = DemoDataConfig(num_classes=4, per_class=5, size=32, seed=1, heldout_identities=2)
    data = write_demo_dataset(root / "data", cfg)
    return data, json.loads((data / "dataset.json").read_text()), cfg


def _png(data, item) -> np.ndarray:
    return np.asarray(Image.open(data / item["file"]).convert("RGB"))


def test_the_split_is_by_identity(openset):
    data, m, cfg = openset
    assert m["config"]["heldout_identities"] == 2 and m["heldout_identities"] == [2, 3]
    by_class: dict[int, set[str]] = {}
    for it in m["items"]:
        by_class.setdefault(it["class"], set()).add(it["split"])
    assert by_class == {0: {"train"}, 1: {"train"}, 2: {"test"}, 3: {"test"}}
    index = index_dataset(data)
    assert set(index.subset("train").labels) == {0, 1} and set(index.subset("test").labels) == {2, 3}
    assert len(index.subset("test")) == 2 * cfg.per_class


def test_render_swap_of_an_items_own_identity_is_its_png(openset):
    data, m, _ = openset
    for it in m["items"][::3]:
        assert np.array_equal(np.asarray(render_swap(m, it["class"], it)), _png(data, it)), it["file"]
        assert np.array_equal(np.asarray(render_swap(m, it["class"], it)), np.asarray(render_item(m, it)))
    it = m["items"][0]
    assert render_swap(m, 3, it, size=64).size == (64, 64)


def _empty(m, cls, item) -> np.ndarray:
    """(R, R) bool: where identity `cls` drawn with `item`'s attributes leaves the background alone
    — black there on a black background — shrunk by 2 px (LANCZOS' reach at 32 px)."""
    black = {**item, "attributes": {**item["attributes"], "background": [0, 0, 0]}}
    empty = (np.asarray(render_swap(m, cls, black)) == 0).all(axis=2)
    for _ in range(2):
        e = empty.copy()
        e[1:] &= empty[:-1]
        e[:-1] &= empty[1:]
        e[:, 1:] &= empty[:, :-1]
        e[:, :-1] &= empty[:, 1:]
        empty = e
    return empty


def test_swapping_identity_changes_the_face_and_keeps_the_background(openset):
    data, m, _ = openset
    for it in m["items"][::2]:
        own = _png(data, it).astype(np.int16)
        for other in {0, 1, 2, 3} - {it["class"]}:
            swapped = np.asarray(render_swap(m, other, it)).astype(np.int16)
            background = _empty(m, it["class"], it) & _empty(m, other, it)
            assert background.sum() >= 16, (it["file"], other)  # corners at least
            assert np.array_equal(swapped[background], own[background]), (it["file"], other)
            centre = np.abs(swapped[10:24, 10:22] - own[10:24, 10:22]).mean()
            assert centre > 5, (it["file"], other, centre)
    # the attributes come from the item: the same identity on two items differs where they differ
    a, b = m["items"][0], m["items"][1]
    assert not np.array_equal(np.asarray(render_swap(m, 3, a)), np.asarray(render_swap(m, 3, b)))


def test_render_swap_is_pure_and_refuses_what_it_cannot_draw(openset):
    _, m, _ = openset
    it = m["items"][0]
    before = copy.deepcopy(it)
    render_swap(m, 2, it)
    assert it == before
    with pytest.raises(ValueError, match="no traits for class 9"):
        render_swap(m, 9, it)
    old = {**m, "config": {**m["config"], "generator_version": 1}}
    with pytest.raises(ValueError, match="render_swap needs a demo-faces manifest of generator version"):
        render_swap(old, 0, it)


def test_bad_heldout_counts_are_refused(tmp_path):
    for cfg, msg in ((DemoDataConfig(num_classes=3, per_class=2, size=32, heldout_identities=3), "0..2"),
                     (DemoDataConfig(num_classes=3, per_class=2, size=32, heldout_identities=-1), "0..2"),
                     (DemoDataConfig(num_classes=3, per_class=2, size=32, heldout_identities=1, shared_looks=True),
                      "separate variants"),
                     (DemoDataConfig(num_classes=3, per_class=2, size=32, heldout_per_class=5), "needs heldout_identities"),
                     (DemoDataConfig(num_classes=3, per_class=2, size=32, heldout_identities=1, heldout_per_class=-1),
                      "needs heldout_identities")):
        with pytest.raises(ValueError, match=msg):
            write_demo_dataset(tmp_path / "d", cfg)
    assert not (tmp_path / "d").exists()


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_configs_without_the_field_keep_their_record_and_their_data(tmp_path):
    """The record of a default config is the one written before `heldout_identities` existed (the
    same keys and values), so `_is_current` still accepts datasets on disk and they are not redrawn;
    an explicit 0 is the default; the files are byte-identical."""
    cfg = DemoDataConfig(num_classes=2, per_class=3, size=32, seed=3)
    assert _config_record(cfg) == {"num_classes": 2, "per_class": 3, "size": 32, "seed": 3,
                                   "shared_looks": False, "generator_version": 2}
    assert "heldout_identities" in asdict(cfg) and "heldout_per_class" in asdict(cfg)
    out = write_demo_dataset(tmp_path / "a", cfg)
    manifest = json.loads((out / "dataset.json").read_text())
    assert "heldout_identities" not in manifest and "heldout_identities" not in manifest["config"]
    assert {it["split"] for it in manifest["items"]} == {"train", "test"}     # the per-image split
    assert _is_current(out, cfg) and _is_current(out, DemoDataConfig(num_classes=2, per_class=3, size=32,
                                                                     seed=3, heldout_identities=0))
    assert not _is_current(out, DemoDataConfig(num_classes=2, per_class=3, size=32, seed=3, heldout_identities=1))
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    write_demo_dataset(out, cfg)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes
    b = write_demo_dataset(tmp_path / "b", DemoDataConfig(num_classes=2, per_class=3, size=32, seed=3,
                                                          heldout_identities=0))
    assert _digest(b) == _digest(out)
    # held out or not, a face is the same picture: only the split (and the records) change
    c = write_demo_dataset(tmp_path / "c", DemoDataConfig(num_classes=2, per_class=3, size=32, seed=3,
                                                          heldout_identities=1))
    pngs = {k: v for k, v in _digest(out).items() if k.endswith(".png")}
    assert {k: v for k, v in _digest(c).items() if k.endswith(".png")} == pngs


def test_unseen_people_can_have_their_own_image_count(tmp_path):
    """Many training identities with few images each, unseen ones with many: the unseen people get
    `heldout_per_class` images, the others `per_class`; the faces they share with the plain open-set
    config are the same pictures, and the record tells the two apart (so neither is mistaken for
    the other on disk)."""
    cfg = DemoDataConfig(num_classes=4, per_class=2, size=32, seed=3, heldout_identities=2, heldout_per_class=5)
    out = write_demo_dataset(tmp_path / "a", cfg)
    m = json.loads((out / "dataset.json").read_text())
    counts: dict[tuple[int, str], int] = {}
    for it in m["items"]:
        counts[it["class"], it["split"]] = counts.get((it["class"], it["split"]), 0) + 1
    assert counts == {(0, "train"): 2, (1, "train"): 2, (2, "test"): 5, (3, "test"): 5}
    assert [c["count"] for c in m["classes"]] == [2, 2, 5, 5]
    assert m["config"]["heldout_per_class"] == 5 and _is_current(out, cfg)
    plain = DemoDataConfig(num_classes=4, per_class=2, size=32, seed=3, heldout_identities=2)
    assert "heldout_per_class" not in _config_record(plain) and not _is_current(out, plain)
    b = write_demo_dataset(tmp_path / "b", plain)
    shared = _digest(b)
    assert {k: v for k, v in _digest(out).items() if k in shared and k.endswith(".png")} == \
        {k: v for k, v in shared.items() if k.endswith(".png")}
