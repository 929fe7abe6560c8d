"""`cvaegan swap` (open-set identity swap): the result, strip and record of one swap; the
identities × attributes grid; a raw attributes photo changes nothing outside the feathered face
region; every bad request is one `error:` line; a model that cannot swap is refused. The model is a
tiny `openset` trained for a few steps on an open-set cartoon set (the last identity held out)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from cvaegan.apps.common import array_to_tensor, read_crop
from cvaegan.apps.paste import blended_face, changed_band, face_mask
from cvaegan.apps.swap import MAX_GRID_SIDE, SwapRequest, cell_box, run
from cvaegan.cli.app import app
from cvaegan.cli.commands.swap import EPILOG
from cvaegan.data.images import to_hwc_uint8
from cvaegan.families import registry
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import open_session
from tests.apps_common import DETECTOR

runner = CliRunner()
R = 32
QUIET_TRAIN = dict(resolution=R, width=0.125, latent_dim=8, batch_size=8, seed=0, device="cpu", workers=0,
                   log_every=50, sample_every=10_000, ckpt_every=10_000, precision="fp32")


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> dict[str, Path]:
    """An open-set cartoon set (4 identities, the last held out), a tiny openset model trained on
    it for 3 steps and a tiny CVAE-GAN (which cannot swap)."""
    from rich.console import Console

    from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset
    from cvaegan.pipelines.train import TrainOptions, train

    if "openset" not in registry.model_names():
        pytest.skip("the openset family is not registered")
    root = tmp_path_factory.mktemp("swap")
    data = write_demo_dataset(root / "data", DemoDataConfig(num_classes=4, per_class=6, size=R, seed=0,
                                                            heldout_identities=1))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        quiet = Console(stderr=True, quiet=True)
        ckpt = train(TrainOptions(data=data, out=root / "runs", name="os", model="openset", steps=3,
                                  cache_dir=root / "cache", **QUIET_TRAIN), quiet).checkpoint
        other = train(TrainOptions(data=data, out=root / "runs", name="cv", model="cvaegan", steps=1,
                                   cache_dir=root / "cache", **QUIET_TRAIN), quiet).checkpoint
    finally:
        torch.set_num_threads(before)
    manifest = json.loads((data / "dataset.json").read_text())
    unseen = [data / it["file"] for it in manifest["items"] if it["split"] == "test"]
    seen = [data / it["file"] for it in manifest["items"] if it["split"] == "train"]
    return {"data": data, "ckpt": ckpt, "cvaegan": other, "unseen": unseen, "seen": seen, "root": root}


def _swap(ckpt, a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    s = open_session(ckpt, device="cpu", precision="fp32")
    return to_hwc_uint8(s.model.swap(a, b))


def _one_error(r, needle: str) -> None:
    assert r.exit_code == 1, r.output
    out = r.output.strip()
    assert out.startswith("error: ") and needle in out and "\n" not in out and "Traceback" not in out, out


def _args(faces, *rest):
    return ["swap", *map(str, rest), "--ckpt", str(faces["ckpt"]), "--device", "cpu", "--precision", "fp32"]


def test_swap_writes_the_result_its_strip_and_record(faces, tmp_path):
    a, b = faces["unseen"][0], faces["seen"][0]       # an identity the model never saw, a training image
    out = tmp_path / "s.png"
    r = runner.invoke(app, _args(faces, "--identity", a, "--attributes", b, "-o", out, "--seed", 3))
    assert r.exit_code == 0, r.output
    assert np.asarray(Image.open(out)).shape == (R, R, 3)
    assert Image.open(tmp_path / "s-strip.png").size == (3 * R + 4 * 2, R + 2 * 2)
    assert not (tmp_path / "s-crop.png").exists()     # aligned B: the result is the crop
    want = _swap(faces["ckpt"], read_crop(a, R)[None], read_crop(b, R)[None])[0]
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), want)
    strip = np.asarray(Image.open(tmp_path / "s-strip.png").convert("RGB"))
    for k, cell in enumerate((to_hwc_uint8(read_crop(a, R)[None])[0], to_hwc_uint8(read_crop(b, R)[None])[0], want)):
        x0 = 2 + k * (R + 2)
        assert np.array_equal(strip[2:2 + R, x0:x0 + R], cell), k
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["command"] == "swap" and rec["mode"] == "single" and rec["seed"] == 3
    assert rec["checkpoint"] == str(faces["ckpt"]) and rec["step"] == 3 and rec["model"] == "openset"
    assert rec["device"] == "cpu" and rec["precision"] == "fp32" and rec["resolution"] == R
    assert rec["identity"] == {"path": str(a), "raw": False} and rec["attributes"] == {"path": str(b), "raw": False}
    assert rec["outputs"] == {"result": str(out), "strip": str(tmp_path / "s-strip.png")}


def test_default_output_names_both_inputs(faces, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a, b = faces["unseen"][1], faces["seen"][2]
    r = runner.invoke(app, _args(faces, "-i", a, "-a", b))
    assert r.exit_code == 0, r.output
    stem = f"{a.stem}_as_{b.stem}"
    for name in (f"{stem}.png", f"{stem}-strip.png", f"{stem}.json"):
        assert (tmp_path / "swap" / name).is_file(), name


def test_grid_has_a_header_row_a_header_column_and_the_swaps(faces, tmp_path):
    ids, attrs = tmp_path / "ids", tmp_path / "attrs"
    ids.mkdir(), attrs.mkdir()
    for f in faces["unseen"][:2]:
        shutil.copy(f, ids / f"{f.parent.name}_{f.name}")
    for f in faces["seen"][::7][:3]:
        shutil.copy(f, attrs / f"{f.parent.name}_{f.name}")
    (attrs / "notes.txt").write_text("not an image")    # other files are left alone
    out = tmp_path / "g.png"
    r = runner.invoke(app, _args(faces, "--grid", ids, attrs, "-o", out))
    assert r.exit_code == 0, r.output
    n, m = 2, 3
    img = np.asarray(Image.open(out).convert("RGB"))
    assert img.shape == ((1 + n) * R + (2 + n) * 2, (1 + m) * R + (2 + m) * 2, 3)
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["mode"] == "grid" and (rec["rows"], rec["columns"]) == (1 + n, 1 + m)
    assert rec["size"] == [img.shape[1], img.shape[0]] and len(rec["identities"]) == n and len(rec["attributes"]) == m

    def cell(i, j):
        x0, y0, x1, y1 = cell_box(i, j, R)
        return img[y0:y1, x0:x1]

    xa = torch.stack([read_crop(p, R) for p in sorted(ids.iterdir())])
    xb = torch.stack([read_crop(p, R) for p in sorted(attrs.glob("*.png"))])
    assert (cell(0, 0) == 255).all()                                  # the blank corner
    for j in range(m):
        assert np.array_equal(cell(0, 1 + j), to_hwc_uint8(xb[j:j + 1])[0])
    for i in range(n):
        assert np.array_equal(cell(1 + i, 0), to_hwc_uint8(xa[i:i + 1])[0])
    want = _swap(faces["ckpt"], xa.repeat_interleave(m, 0), xb.repeat(n, 1, 1, 1)).reshape(n, m, R, R, 3)
    for i in range(n):
        for j in range(m):
            assert np.array_equal(cell(1 + i, 1 + j), want[i, j]), (i, j)


class _CanvasAligner:
    """Stands in for prepare's detector + aligner on a synthetic "raw photo": an aligned crop pasted
    at a known place into a larger canvas, so the photo → crop affine is a known translation."""

    at = (21, 13)

    def __init__(self, detector=None):
        pass

    def load(self, path, resolution, face):
        from cvaegan.apps.faces import FaceInput

        photo = np.asarray(Image.open(path).convert("RGB"))
        x0, y0 = self.at
        matrix = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
        crop = photo[y0:y0 + resolution, x0:x0 + resolution]
        return FaceInput(Path(path), array_to_tensor(crop), True, photo, matrix, 0, 1, 0.99)


def _canvas_photo(crop_file: Path, path: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (70, 90, 3), dtype=np.uint8)   # not square: auto mode reads it as a photo
    x0, y0 = _CanvasAligner.at
    canvas[y0:y0 + R, x0:x0 + R] = np.asarray(Image.open(crop_file).convert("RGB"))
    Image.fromarray(canvas).save(path)
    return canvas


def test_a_raw_attributes_photo_changes_only_the_face_region(faces, tmp_path, monkeypatch):
    import cvaegan.apps.faces as faces_mod

    monkeypatch.setattr(faces_mod, "FaceAligner", _CanvasAligner)
    photo = _canvas_photo(faces["seen"][1], tmp_path / "party.png")
    x_attrs = read_crop(faces["seen"][1], R)
    want = _swap(faces["ckpt"], read_crop(faces["unseen"][0], R)[None], x_attrs[None])[0]
    # pasted as drawn, or Poisson-blended into B's crop first (the default)
    for flag, face in (("--no-blend", want), ("--blend", blended_face(want, x_attrs))):
        out = tmp_path / f"r{flag}.png"
        r = runner.invoke(app, _args(faces, "-i", faces["unseen"][0], "-a", tmp_path / "party.png", "-o", out,
                                     "--feather", 2, flag))
        assert r.exit_code == 0, r.output
        assert "face region" in r.output and ("Poisson-blended" in r.output) == (flag == "--blend")
        result = np.asarray(Image.open(out).convert("RGB"))
        assert result.shape == photo.shape
        changed = (result != photo).any(axis=2)
        band = changed_band(np.array([[1.0, 0, -21], [0, 1.0, -13]]), face_mask(R), 2, photo.shape[:2])
        assert changed.any() and not changed[~band].any(), f"{int(changed[~band].sum())} pixels outside"
        crop = np.asarray(Image.open(out.with_name(out.stem + "-crop.png")).convert("RGB"))
        assert np.array_equal(crop, want)  # the crop beside the result is the swap as drawn
        inside = face_mask(R)              # inside the mask the photo shows the face (to rounding of the warp)
        pasted = result[13:13 + R, 21:21 + R].astype(int)
        assert np.abs(pasted[inside] - face[inside].astype(int)).max() <= 1, flag
    assert not np.array_equal(blended_face(want, x_attrs)[inside], want[inside])
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["attributes"]["raw"] is True and rec["attributes"]["photo_size"] == [90, 70]
    assert rec["outputs"]["crop"] == str(tmp_path / "r--blend-crop.png") and rec["identity"]["raw"] is False


@pytest.mark.data
def test_a_real_raw_photo_changes_only_the_face_region(faces, test_data, tmp_path):
    from cvaegan.apps.faces import load_inputs

    photos = sorted((test_data / "faces" / "celeba_wild" / "images").rglob("*.jpg"), key=lambda p: p.stat().st_size)
    photo = photos[len(photos) // 3]
    det = str(test_data / DETECTOR)
    out = tmp_path / "swapped.png"
    r = runner.invoke(app, _args(faces, "-i", faces["unseen"][0], "-a", photo, "--face", 0, "--feather", 2,
                                 "--detector", det, "-o", out))
    assert r.exit_code == 0, r.output
    inp = load_inputs([photo], R, "raw", det, 0)[0]
    result = np.asarray(Image.open(out).convert("RGB"))
    assert result.shape == inp.photo.shape
    band = changed_band(inp.matrix, face_mask(R), 2, inp.photo.shape[:2])
    changed = (result != inp.photo).any(axis=2)
    assert changed.any() and not changed[~band].any() and band.mean() < 0.5
    # --raw on a cartoon crop: the detector finds no face there
    r = runner.invoke(app, _args(faces, "-i", faces["unseen"][0], "-a", faces["seen"][0], "--raw", "--detector", det,
                                 "-o", tmp_path / "x.png"))
    _one_error(r, "no face found")


def test_bad_inputs_are_one_error_line(faces, tmp_path):
    a, b = faces["unseen"][0], faces["seen"][0]
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    many = tmp_path / "many"
    many.mkdir()
    for k in range(MAX_GRID_SIDE + 1):
        shutil.copy(b, many / f"{k:02d}.png")
    o = ["-o", tmp_path / "o.png"]
    for args, needle in (
            (["-i", bad, "-a", b, *o], "not a readable image"),
            (["-i", a, "-a", tmp_path / "missing.png", *o], "no such image file"),
            (["-i", a, *o], "nothing to swap: give --attributes"),
            (["-i", a, "-a", b, "--grid", empty, empty, *o], "not both"),
            (["--grid", empty, faces["data"], *o], "no image files in it"),
            (["--grid", many, empty, *o], f"at most {MAX_GRID_SIDE} a side"),
            (["--grid", tmp_path / "nowhere", empty, *o], "no such folder"),
            (["--grid", b, empty, *o], "is a file"),
            (["-i", a, "-a", b, "-o", tmp_path / "o.gif"], "cannot write '.gif' images"),
            (["-i", a, "-a", b, "--raw", "--aligned", *o], "contradict"),
            (["-i", a, "-a", b, "-o", tmp_path], "is a folder")):
        _one_error(runner.invoke(app, _args(faces, *args)), needle)
    assert not (tmp_path / "o.png").exists()


def test_a_model_that_cannot_swap_is_refused(faces, tmp_path):
    r = runner.invoke(app, ["swap", "-i", str(faces["unseen"][0]), "-a", str(faces["seen"][0]), "--ckpt",
                            str(faces["cvaegan"]), "--device", "cpu", "-o", str(tmp_path / "o.png")])
    _one_error(r, "cannot swap")
    assert "openset" in r.output
    session = open_session(faces["cvaegan"], device="cpu")
    with pytest.raises(CvaeganError, match="cannot swap"):
        run(session, SwapRequest(faces["unseen"][0], faces["seen"][0], out=tmp_path / "o.png"))


def test_requests_are_checked_when_built():
    with pytest.raises(CvaeganError, match="nothing to swap: give --identity and --attributes"):
        SwapRequest()
    with pytest.raises(CvaeganError, match="--feather nan"):
        SwapRequest("a.png", "b.png", feather=float("nan"))
    with pytest.raises(CvaeganError, match="--seed -1"):
        SwapRequest("a.png", "b.png", seed=-1)
    with pytest.raises(CvaeganError, match="two folders"):
        SwapRequest(grid=(Path("x"), None))
    assert SwapRequest("x/ann.png", "y/bob.jpg").out == Path("swap/ann_as_bob.png")
    assert SwapRequest(grid=("people", "poses")).out == Path("swap/grid-people_x_poses.png")
    assert SwapRequest("a.png", "b.png", grid=(None, None)).grid is None   # the CLI's unset --grid


def test_help_has_examples_that_fit_80_columns():
    r = runner.invoke(app, ["swap", "--help"])
    assert r.exit_code == 0 and "Examples" in r.output and "cvaegan swap --grid" in r.output
    assert max(len(line) for line in EPILOG.splitlines()) <= 78
    r = runner.invoke(app, ["--help"])
    assert "swap" in r.output
