"""`cvaegan prepare`: alignment accuracy, rejects with reasons, resume, and every kind's output read by
train's loader. Real photos and detectors come from the `test_data` fixture; a handful of images each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from cvaegan.data.dataset import build_cache
from cvaegan.data.manifest import index_dataset
from cvaegan.prepare.align import Face, align_face, canonical_template, invert_matrix, map_points
from cvaegan.prepare.common import PrepareOptions, safe_name, unique_folders
from cvaegan.prepare.runner import prepare

QUIET = Console(stderr=True, quiet=True)


def run(kind: str, raw: Path, out: Path, **kw) -> object:
    return prepare(PrepareOptions(kind=kind, raw=raw, out=out, workers=kw.pop("workers", 1), **kw), QUIET,
                   show_progress=False)


def detector_path(test_data: Path) -> Path:
    return test_data / "models" / "scrfd_500m_kps.onnx"


def celeba_subset(test_data: Path, dst: Path, per_id: int = 2, ids: tuple[str, ...] = ("7201", "7233")) -> Path:
    for ident in ids:
        src = sorted((test_data / "faces" / "celeba_wild" / "images" / ident).glob("*.jpg"))[:per_id]
        (dst / ident).mkdir(parents=True, exist_ok=True)
        for f in src:
            shutil.copy(f, dst / ident / f.name)
    return dst


def read_items(out: Path) -> list[dict]:
    return index_dataset(out).manifest["items"]


# ------------------------------------------------------------------------------------- no real data
def test_template_puts_nose_at_centre_and_alignment_is_exact_for_similar_points():
    t = canonical_template(128)
    assert np.allclose(t[2], [63.5, 63.5])
    assert np.isclose(t[0, 1], t[1, 1]) and np.isclose(t[0, 0] + t[1, 0], 127.0)  # symmetric eyes
    # landmarks = the template rotated by 20°, scaled ×3 and moved: alignment must undo that exactly
    a = np.deg2rad(20)
    rot = 3 * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lm = (t @ rot.T + [400, 250]).astype(np.float32)
    photo = np.zeros((800, 900, 3), np.uint8)
    aligned = align_face(photo, Face(np.array([300, 150, 500, 450], np.float32), 0.9, lm), 128)
    assert aligned.crop.shape == (128, 128, 3)
    assert np.abs(map_points(aligned.matrix, lm) - t).max() < 1e-3
    assert np.abs(map_points(invert_matrix(aligned.matrix), t) - lm).max() < 1e-2


def test_safe_names_cannot_escape_and_stay_unique():
    for bad in ("../../etc", "..", ".", "/abs/path", "a\\b", "ÉlodieYung", "名字", ""):
        s = safe_name(bad, "x")
        assert s and "/" not in s and "\\" not in s and s not in (".", "..") and not s.startswith(".")
    assert unique_folders(["Ann Lee", "Ann_Lee", "ann lee"]) == ["Ann_Lee", "Ann_Lee_2", "ann_lee_3"]


def test_load_photo_converts_modes_exif_and_refuses_bombs(tmp_path, monkeypatch):
    from cvaegan.prepare import io

    Image.fromarray((np.arange(60 * 40).reshape(40, 60) * 20).astype(np.uint16)).save(tmp_path / "g16.png")
    Image.new("P", (30, 20), 3).save(tmp_path / "pal.png")
    Image.new("RGBA", (30, 20), (255, 0, 0, 0)).save(tmp_path / "rgba.png")
    im = Image.new("RGB", (60, 40), (10, 200, 30))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90° on display
    im.save(tmp_path / "rot.jpg", exif=exif)
    g16 = io.load_photo(tmp_path / "g16.png")
    assert g16.shape == (40, 60, 3) and g16.dtype == np.uint8 and g16.max() == 255
    assert io.load_photo(tmp_path / "pal.png").shape == (20, 30, 3)
    assert tuple(io.load_photo(tmp_path / "rgba.png")[0, 0]) == (255, 255, 255)  # transparent -> white
    assert io.load_photo(tmp_path / "rot.jpg").shape == (60, 40, 3)  # EXIF orientation applied
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)
    with pytest.raises(io.PhotoError) as err:
        io.load_photo(tmp_path / "rot.jpg")
    assert err.value.reason == "decompression_bomb"


def test_folder_kind_is_read_by_trains_loader(tmp_path):
    from tests.helpers import make_shapes_dataset

    raw = make_shapes_dataset(tmp_path / "raw", classes=2, per_class=3, size=40)
    (raw / "class_0" / "notes.txt").write_text("not an image, ignored")
    res = run("folder", raw, tmp_path / "out", size=32, fit="pad")
    assert res.kept == 6 and res.rejected == 0
    cache = build_cache(tmp_path / "out", 32, cache_dir=tmp_path / "cache")
    assert len(cache) == 6 and cache.class_names == ["class_0", "class_1"]
    assert sorted(cache.labels.tolist()) == [0, 0, 0, 1, 1, 1]


# ------------------------------------------------------------------------------------------- faces
@pytest.mark.data
def test_faces_align_to_template_and_are_read_by_loader(test_data, tmp_path):
    from cvaegan.prepare.detect import FaceDetector

    raw = celeba_subset(test_data, tmp_path / "raw")
    res = run("faces", raw, tmp_path / "out", detector=detector_path(test_data))
    assert res.kept == 4, res.per_reason
    det = FaceDetector(detector_path(test_data))
    template = canonical_template(128)
    errors = []
    for item in read_items(tmp_path / "out"):
        # the recorded transform takes the recorded landmarks onto the template (least squares)
        assert np.abs(map_points(item["transform"], item["landmarks"]) - template).max() < 6
        crop = np.asarray(Image.open(tmp_path / "out" / item["file"]).convert("RGB"))
        faces = det.detect(crop)
        assert faces, f"no face re-detected on {item['file']}"
        errors.append(np.linalg.norm(faces[0].landmarks - template, axis=1))
    errors = np.concatenate(errors)
    assert errors.mean() < 4.0 and errors.max() < 10.0, errors
    manifest = index_dataset(tmp_path / "out").manifest
    assert manifest["template"]["pixels"][2] == [63.5, 63.5] and manifest["detector"]["file"] == "scrfd_500m_kps.onnx"
    cache = build_cache(tmp_path / "out", 32, cache_dir=tmp_path / "cache")
    assert len(cache) == 4 and cache.class_names == ["7201", "7233"]


@pytest.mark.data
def test_bad_inputs_are_rejected_with_reasons_and_rerun_does_nothing(test_data, tmp_path):
    raw = celeba_subset(test_data, tmp_path / "raw", per_id=1, ids=("7201",))
    good = next((raw / "7201").glob("*.jpg"))
    data = good.read_bytes()
    (raw / "7201" / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (raw / "7201" / "text.jpg").write_text("this is not a JPEG\n")
    shutil.copy(test_data / "flowers" / "oxford17_seg_256" / "images" / "image_0001.jpg", raw / "7201" / "flower.jpg")
    Image.new("RGB", (200, 160), (120, 130, 140)).save(raw / "7201" / "blank.png")
    out = tmp_path / "out"
    res = run("faces", raw, out, detector=detector_path(test_data))
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    by_source = {r["source"]: r["reason"] for r in rejects}
    assert by_source["7201/truncated.jpg"] in ("truncated", "corrupt")
    assert by_source["7201/text.jpg"] == "not_an_image"
    assert by_source["7201/blank.png"] == "no_face"
    assert by_source["7201/flower.jpg"] == "no_face"
    assert res.kept == 1 and res.rejected == 4
    assert all(r["class"] == "7201" and r["detail"] for r in rejects)

    snapshot = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*")
                if p.is_file() and ".prepare" not in p.parts and p.name != ".lock"}  # bookkeeping
    again = run("faces", raw, out, detector=detector_path(test_data))
    assert again.processed == 0 and again.kept == 1 and again.rejected == 4
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*")
             if p.is_file() and ".prepare" not in p.parts and p.name != ".lock"}
    assert after == snapshot  # nothing rewritten

    (out / read_items(out)[0]["file"]).unlink()  # a lost crop is redone, nothing else
    third = run("faces", raw, out, detector=detector_path(test_data))
    assert third.processed == 1 and third.kept == 1


@pytest.mark.data
def test_two_workers_give_the_same_crops(test_data, tmp_path):
    raw = celeba_subset(test_data, tmp_path / "raw", per_id=2, ids=("7222",))
    a = run("faces", raw, tmp_path / "a", detector=detector_path(test_data), size=64)
    b = run("faces", raw, tmp_path / "b", detector=detector_path(test_data), size=64, workers=2)
    assert a.kept == b.kept == 2
    for ia, ib in zip(read_items(tmp_path / "a"), read_items(tmp_path / "b")):
        assert ia["file"] == ib["file"]
        assert np.abs(np.array(ia["landmarks"]) - np.array(ib["landmarks"])).max() < 0.5


def test_missing_detector_is_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from cvaegan.cli.app import app

    (tmp_path / "raw" / "someone").mkdir(parents=True)
    Image.new("RGB", (64, 64)).save(tmp_path / "raw" / "someone" / "a.png")
    res = CliRunner().invoke(app, ["prepare", "faces", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
                                   "--detector", str(tmp_path / "nope.onnx"), "--workers", "1"])
    assert res.exit_code == 1
    assert "face detector not found" in res.output and "Traceback" not in res.output


# ------------------------------------------------------------------------------------ flowers, cub
@pytest.mark.data
def test_flower_crop_holds_whole_mask_and_little_else(test_data, tmp_path):
    import cv2

    from cvaegan.prepare.objects import flower_mask

    raw = test_data / "flowers" / "oxford17_seg_256"
    out = tmp_path / "out"
    res = run("flowers", raw, out, masks="labelmap", limit=2, size=64)
    assert res.kept >= 6, res.per_reason
    for item in read_items(out)[::2]:
        fg = flower_mask(str(raw / "labels" / (Path(item["source"]).stem + ".png")), "labelmap", 1)
        x1, y1, x2, y2 = item["box"]
        ys, xs = np.nonzero(fg)
        assert (x1, y1, x2, y2) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        corners = map_points(item["transform"], [[x1 - 0.5, y1 - 0.5], [x2 - 0.5, y2 - 0.5]])
        assert corners.min() >= -0.51 and corners.max() <= 63.51  # the whole foreground is inside
        span = corners[1] - corners[0]
        assert span.max() >= 63.0  # tight along the box's long side: little else
        warped = cv2.warpAffine(fg.astype(np.uint8), np.array(item["transform"]), (64, 64),
                                flags=cv2.INTER_NEAREST)
        scale2 = abs(np.linalg.det(np.array(item["transform"])[:, :2]))
        assert warped.sum() > 0.9 * fg.sum() * scale2
    cache = build_cache(out, 32, cache_dir=tmp_path / "cache")
    assert len(cache) == res.kept and len(cache.class_names) == 5


@pytest.mark.data
def test_segmim_blue_background_mask(tmp_path):
    from cvaegan.prepare.objects import flower_mask

    seg = np.zeros((50, 80, 3), np.uint8)
    seg[...] = (0, 0, 254)
    seg[10:30, 20:45] = (200, 180, 40)
    Image.fromarray(seg).save(tmp_path / "segmim_00001.jpg", quality=90)
    ys, xs = np.nonzero(flower_mask(str(tmp_path / "segmim_00001.jpg"), "segmim", 1))
    assert abs(xs.min() - 20) <= 1 and abs(xs.max() - 44) <= 1 and abs(ys.min() - 10) <= 1 and abs(ys.max() - 29) <= 1


@pytest.mark.data
def test_cub_bbox_split_and_loader(test_data, tmp_path):
    raw = test_data / "birds" / "CUB_200_2011_subset"
    out = tmp_path / "out"
    res = run("cub", raw, out, bbox=True, limit=2, size=48)
    assert res.kept == 20 and res.rejected == 0
    manifest = index_dataset(out).manifest
    assert len(manifest["classes"]) == 10 and manifest["classes"][0]["name"] == "Black footed Albatross"
    assert set(manifest["splits"]) <= {"train", "test"} and sum(manifest["splits"].values()) == 20
    assert any("skipped 190 of 200 classes" in n for n in res.notes)
    for item in manifest["items"]:
        corners = map_points(item["transform"], [item["box"][:2], item["box"][2:]])
        assert corners.min() >= -1 and corners.max() <= 49
    train = build_cache(out, 32, cache_dir=tmp_path / "cache", split="train")
    assert 0 < len(train) < 20 and len(train) == manifest["splits"].get("train")
