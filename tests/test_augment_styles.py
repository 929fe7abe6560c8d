"""`cvaegan augment --style-from DIR` (SAAE §3.4): every class drawn in the style of each image of a
folder — the tree, the manifest, the pixels against `stylize_class`, resume and regeneration,
changed or unreadable style images, merge, dry run, and the one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from rich.console import Console
from typer.testing import CliRunner

from cvaegan.apps.augment import AugmentOptions, augment, dry_run, regenerate_unit
from cvaegan.cli.app import app
from cvaegan.data.dataset import build_cache, load_image_square
from cvaegan.data.images import from_hwc_uint8, to_hwc_uint8
from cvaegan.data.manifest import index_dataset
from cvaegan.runtime.device import autocast
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import open_session

runner = CliRunner()
QUIET = Console(quiet=True)
SHAPES = ("square", "disc", "bar")
GROUPS = {"thin": (1, (255, 255, 255), (0, 0, 0)), "bold": (4, (255, 255, 255), (0, 0, 0)),
          "red": (2, (230, 40, 40), (20, 20, 60)), "green": (3, (40, 200, 60), (250, 250, 250))}


def _draw(shape: str, group: str, size: int = 32) -> Image.Image:
    width, ink, paper = GROUPS[group]
    im = Image.new("RGB", (size, size), paper)
    d = ImageDraw.Draw(im)
    box = (7, 7, size - 8, size - 8)
    if shape == "square":
        d.rectangle(box, outline=ink, width=width)
    elif shape == "disc":
        d.ellipse(box, outline=ink, width=width)
    else:
        d.line((size // 2, 5, size // 2, size - 6), fill=ink, width=width + 1)
    return im


def _styled_dataset(root: Path) -> Path:
    """classes = shapes, style groups = stroke/colour ("fonts"), "thin" the reference group."""
    classes, items = [], []
    for k, shape in enumerate(SHAPES):
        (root / shape).mkdir(parents=True)
        for g in GROUPS:
            for rep in range(2):
                rel = f"{shape}/{g}_{rep}.png"
                _draw(shape, g).save(root / rel)
                items.append({"file": rel, "class": k, "style": g, "split": "train"})
        classes.append({"index": k, "name": shape, "folder": shape, "count": 2 * len(GROUPS)})
    (root / "dataset.json").write_text(json.dumps({
        "format": "cvaegan-dataset", "version": 1, "kind": "shapes", "classes": classes, "items": items,
        "styles": {"name": "font", "reference": "thin"}, "flip": False}))
    return root


@pytest.fixture(scope="module")
def tiny_saae(tmp_path_factory) -> dict[str, Path]:
    from cvaegan.pipelines.train import TrainOptions, train

    root = tmp_path_factory.mktemp("tiny_saae")
    data = _styled_dataset(root / "data")
    res = train(TrainOptions(data=data, out=root / "runs", name="saae", model="saae", resolution=32, width=0.25,
                             latent_dim=8, batch_size=8, steps=24, seed=0, device="cpu", workers=0,
                             cache_dir=root / "cache", log_every=12, sample_every=10_000, ckpt_every=10_000,
                             flip=False, precision="fp32"), QUIET)
    return {"data": data, "ckpt": res.checkpoint}


@pytest.fixture(scope="module")
def styles(tmp_path_factory) -> Path:
    """Three style images in new "fonts": a sub-folder, a non-square one, a greyscale one."""
    d = tmp_path_factory.mktemp("styles")
    (d / "sub").mkdir()
    _draw("square", "bold", 48).resize((48, 40)).save(d / "b_wide.png")
    _draw("disc", "red").save(d / "sub" / "a_red.png")
    _draw("bar", "green").convert("L").save(d / "c_grey.jpg")
    (d / ".hidden.png").write_bytes(b"not an image, and hidden")  # left out
    (d / "notes.txt").write_text("not an image")
    return d


STYLE_FILES = ["b_wide.png", "c_grey.jpg", "sub/a_red.png"]  # sorted relative paths


def _opts(style_dir: Path, **kw) -> AugmentOptions:
    # batch 4: batches straddle class folders
    return AugmentOptions(**{"style_from": style_dir, "batch_size": 4, "writers": 2, "precision": "fp32", **kw})


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png")) if "merged" not in p.parts}


@pytest.fixture(scope="module")
def straight(tiny_saae, styles, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("aug") / "styled"
    res = augment(open_session(tiny_saae["ckpt"], device="cpu"), out, _opts(styles), console=QUIET)
    assert res.total == len(SHAPES) * 3 and res.written == res.total and res.skipped == 0
    return out


def test_every_class_in_every_style_labelled_in_the_manifest(straight):
    assert sorted(_files(straight)) == [f"{s}/{j:05d}.png" for s in sorted(SHAPES) for j in range(3)]
    m = json.loads((straight / "dataset.json").read_text())
    assert [c["name"] for c in m["classes"]] == list(SHAPES)
    assert all(c["source_class"] == k and c["count"] == 3 and "seed" not in c for k, c in enumerate(m["classes"]))
    assert m["flip"] is False and m["styles"]["name"] == "style"
    for it in m["items"]:
        j = int(Path(it["file"]).stem)
        assert it["file"].split("/")[0] == SHAPES[it["class"]]
        assert it["style"] == ["b_wide", "c_grey", "sub/a_red"][j] and it["style_index"] == j
        assert it["split"] == "train" and it["synthetic"] is True
    plan = json.loads((straight / "augment.json").read_text())
    assert plan["status"] == "complete" and plan["seed"] is None
    assert [s["file"] for s in plan["styles"]] == STYLE_FILES and all(len(s["sha256"]) == 64 for s in plan["styles"])
    index = index_dataset(straight)  # readable as a dataset with its style groups
    assert index.class_names == list(SHAPES) and len(index) == 9 and set(index.styles) == {"b_wide", "c_grey",
                                                                                            "sub/a_red"}


def test_pixels_are_stylize_class_of_the_style_images(tiny_saae, styles, straight):
    loaded = open_session(tiny_saae["ckpt"], device="cpu")
    style = from_hwc_uint8(np.stack([load_image_square(styles / f, 32) for f in STYLE_FILES])).contiguous()
    m = json.loads((straight / "dataset.json").read_text())
    files = np.stack([np.asarray(Image.open(straight / it["file"])) for it in m["items"]])
    labels = torch.tensor([it["class"] for it in m["items"]])
    picks = torch.tensor([it["style_index"] for it in m["items"]])
    assert m["precision"] == "fp32"
    # exact, in the recorded batches of 4 over the flat item list
    bs = m["batch_size"]
    x = torch.cat([loaded.model.stylize_class(labels[b:b + bs], style[picks[b:b + bs]])
                   for b in range(0, len(labels), bs)])
    assert np.array_equal(to_hwc_uint8(x), files)
    # and in one call, to the last bit of rounding
    with autocast(loaded.device, m["precision"]):
        one = to_hwc_uint8(loaded.model.stylize_class(labels, style[picks]))
    assert np.abs(one.astype(int) - files.astype(int)).max() <= 1
    for c in m["classes"]:  # a class folder regenerated from the manifest alone
        ours = files[[it["class"] == c["index"] for it in m["items"]]]
        assert np.array_equal(regenerate_unit(loaded, m, c["name"]), ours)


def test_rerun_resumes_and_a_deleted_image_comes_back_identical(tiny_saae, styles, straight, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(straight, out)
    before = _files(out)
    loaded = open_session(tiny_saae["ckpt"], device="cpu")
    res = augment(loaded, out, _opts(styles, batch_size=64), console=QUIET)
    assert res.written == 0 and res.skipped == 9 and _files(out) == before
    (out / "disc" / "00001.png").unlink()
    res = augment(loaded, out, _opts(styles, batch_size=64), console=QUIET)  # the first run's batch of 4 is kept
    assert res.written == 1 and res.skipped == 8 and _files(out) == before


def test_changed_added_or_missing_style_images_are_refused(tiny_saae, styles, straight, tmp_path):
    loaded = open_session(tiny_saae["ckpt"], device="cpu")
    for change in ("changed", "added", "missing"):
        out, sty = tmp_path / f"out_{change}", tmp_path / f"sty_{change}"
        shutil.copytree(straight, out)
        shutil.copytree(styles, sty)
        if change == "changed":
            _draw("bar", "thin").save(sty / "sub" / "a_red.png")
        elif change == "added":
            _draw("bar", "thin").save(sty / "d_new.png")
        else:
            (sty / "c_grey.jpg").unlink()
        with pytest.raises(CvaeganError) as e:
            augment(loaded, out, _opts(sty), console=QUIET)
        msg = str(e.value)
        assert "\n" not in msg and "other style images" in msg and f"{change}:" in msg
        assert _files(out) == _files(straight)
        with pytest.raises(CvaeganError, match="not the style images"):  # nor regenerated from them
            regenerate_unit(loaded, json.loads((straight / "dataset.json").read_text()), "disc", style_from=sty)
    # the same images in a moved folder resume
    moved = tmp_path / "moved"
    shutil.copytree(styles, moved)
    out = tmp_path / "out_moved"
    shutil.copytree(straight, out)
    assert augment(loaded, out, _opts(moved), console=QUIET).written == 0


def test_unreadable_style_image_is_a_one_line_error_naming_it(tiny_saae, styles, tmp_path):
    sty = tmp_path / "sty"
    shutil.copytree(styles, sty)
    (sty / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    loaded = open_session(tiny_saae["ckpt"], device="cpu")
    with pytest.raises(CvaeganError) as e:
        augment(loaded, tmp_path / "out", _opts(sty), console=QUIET)
    assert "broken.png" in str(e.value) and "\n" not in str(e.value) and "unreadable style image" in str(e.value)
    assert not (tmp_path / "out").exists()
    with pytest.raises(CvaeganError, match="no images"):
        (tmp_path / "empty").mkdir()
        augment(loaded, tmp_path / "out", _opts(tmp_path / "empty"), console=QUIET)
    with pytest.raises(CvaeganError, match="overlap"):
        augment(loaded, styles / "out", _opts(styles), console=QUIET)


def test_merge_with_and_dry_run(tiny_saae, styles, tmp_path):
    loaded = open_session(tiny_saae["ckpt"], device="cpu")
    d = dry_run(loaded, tmp_path / "aug", _opts(styles))
    assert d.total == 9 and d.units == 3 and d.pending == 9 and d.bytes_per_image > 0
    assert not (tmp_path / "aug").exists()
    res = augment(loaded, tmp_path / "aug", _opts(styles), merge_with=tiny_saae["data"], console=QUIET)
    real = index_dataset(tiny_saae["data"])
    merged = index_dataset(res.merged)
    assert merged.class_names == list(SHAPES) and len(merged) == len(real) + 9
    m = json.loads((res.merged / "dataset.json").read_text())
    assert m["flip"] is False and m["styles"]["reference"] == "thin"
    assert {s for s in merged.styles if s.startswith("synthetic/")} == {"synthetic/b_wide", "synthetic/c_grey",
                                                                        "synthetic/sub/a_red"}
    assert set(GROUPS) <= set(merged.styles)
    cache = build_cache(res.merged, 32, cache_dir=tmp_path / "cache", split="train")
    assert len(cache) == len(real) + 9 and not cache.skipped


def test_cli_dry_run_run_resume_and_one_line_errors(tiny_saae, styles, tmp_path):
    from cvaegan.pipelines.train import TrainOptions, train

    generator = train(TrainOptions(data=tiny_saae["data"], out=tmp_path / "runs", name="cgan", model="cgan",
                                   resolution=32, width=0.25, latent_dim=8, batch_size=8, steps=2, device="cpu",
                                   workers=0, cache_dir=tmp_path / "cache", sample_every=10_000, ckpt_every=10_000),
                      QUIET).checkpoint  # a model that generates but cannot stylize
    out, ck = tmp_path / "cli", str(tiny_saae["ckpt"])
    base = ["augment", "--style-from", str(styles), "--out", str(out), "--ckpt", ck, "--device", "cpu"]
    r = runner.invoke(app, [*base, "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "would write 9 images" in r.output and "3 classes × 3 styles" in r.output and not out.exists()
    r = runner.invoke(app, [*base, "--no-fsync", "--merge-with", str(tiny_saae["data"])])
    assert r.exit_code == 0, r.output
    assert "9 images written" in r.output and "merged dataset" in r.output
    r = runner.invoke(app, base)
    assert r.exit_code == 0 and "0 images written, 9 already there" in r.output

    def fails(args: list[str], *needles: str) -> None:
        r = runner.invoke(app, args)
        assert r.exit_code not in (0, None) and r.output.startswith("error: "), r.output
        assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert all(n in r.output for n in needles), r.output

    fails([*base, "--per-class", "2"], "--style-from", "--per-class")
    fails([*base, "--new-identities", "3", "--per-identity", "2"], "--style-from")
    fails(["augment", "--per-class", "2", "--out", str(tmp_path / "x"), "--ckpt", ck, "--device", "cpu"],
          "cannot generate")
    fails(["augment", "--style-from", str(styles), "--out", str(tmp_path / "y"), "--ckpt", str(generator),
           "--device", "cpu"], "cannot stylize", "saae")
    fails(["augment", "--style-from", str(tmp_path / "nowhere"), "--out", str(tmp_path / "z"), "--ckpt", ck,
           "--device", "cpu"], "not a folder")
    with pytest.raises(CvaeganError, match="does not combine"):
        _opts(styles, per_class=2).validate()
