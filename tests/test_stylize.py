"""`cvaegan stylize` (SAAE): results, strips and records; a class's content is exactly the model's
`stylize_class`; the Fig. 6 grid has a row per style and a column per content after the style
image; every bad request is one `error:` line. The model is a tiny SAAE trained for a few steps on
a synthetic character set (4 shapes × 3 "fonts" of colour and stroke) written here."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from cvaegan.apps.common import read_crop
from cvaegan.apps.stylize import MARK, StylizeRequest, cell_box, run
from cvaegan.cli.app import app
from cvaegan.data.images import to_hwc_uint8
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import open_session

runner = CliRunner()
CLASSES = ["square", "circle", "cross", "7"]   # "7" at index 3: names win over indices
FONTS = {"1": ((0, 0, 0), 2), "2": ((200, 30, 30), 4), "3": ((30, 60, 200), 1)}  # colour, stroke
SIZE = 32


def draw_glyph(cls: int, font: str, jitter: int = 0, size: int = SIZE) -> Image.Image:
    colour, w = FONTS[font]
    im = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(im)
    a, b = 7 + jitter, size - 8 + jitter
    if cls == 0:
        d.rectangle((a, a, b, b), outline=colour, width=w)
    elif cls == 1:
        d.ellipse((a, a, b, b), outline=colour, width=w)
    elif cls == 2:
        d.line((a, a, b, b), fill=colour, width=w)
        d.line((a, b, b, a), fill=colour, width=w)
    else:
        d.line((a, a, b, a), fill=colour, width=w)
        d.line((b, a, a + 4, b), fill=colour, width=w)
    return im


def write_chars(root: Path) -> Path:
    """A prepared-chars-like dataset: items with a "style" (the font), font "1" the reference."""
    items = []
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for font in FONTS:
            for j in range(2):
                rel = f"{name}/font_{font}_{j}.png"
                draw_glyph(k, font, j).save(root / rel)
                items.append({"file": rel, "class": k, "style": font, "split": "train"})
    manifest = {"format": "cvaegan-dataset", "version": 1, "kind": "chars", "size": SIZE,
                "classes": [{"index": k, "name": n, "folder": n, "count": 6} for k, n in enumerate(CLASSES)],
                "styles": {"name": "font", "reference": "1"}, "flip": False, "items": items}
    (root / "dataset.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def saae(tmp_path_factory, one_torch_thread) -> dict[str, Path]:
    from rich.console import Console

    from cvaegan.pipelines.train import TrainOptions, train

    root = tmp_path_factory.mktemp("stylize")
    data = write_chars(root / "data")
    res = train(TrainOptions(data=data, out=root / "runs", name="saae", model="saae", resolution=32, width=0.125,
                             latent_dim=8, batch_size=8, steps=6, seed=0, device="cpu", workers=0,
                             cache_dir=root / "cache", log_every=50, sample_every=10_000, ckpt_every=10_000,
                             precision="fp32"),
                Console(stderr=True, quiet=True))
    styles = root / "styles"
    styles.mkdir()
    for i, (k, font) in enumerate([(1, "2"), (2, "3"), (0, "2")]):
        draw_glyph(k, font).save(styles / f"s{i}.png")
    return {"data": data, "ckpt": res.checkpoint, "styles": styles, "root": root}


def reference_contents(data: Path) -> torch.Tensor:
    """What `train` stores as the classes' content images: each class's first image in the
    reference font "1"."""
    return torch.stack([read_crop(data / name / "font_1_0.png", 32) for name in CLASSES])


@pytest.fixture(scope="module")
def session(saae):
    return open_session(saae["ckpt"], device="cpu", precision="fp32")


def test_the_checkpoint_keeps_the_class_content_images(saae):
    s = open_session(saae["ckpt"], device="cpu", precision="fp32")
    assert torch.allclose(s.model.contents, reference_contents(saae["data"]), atol=1e-6)


def invoke(saae, *args):
    return runner.invoke(app, ["stylize", *map(str, args), "--ckpt", str(saae["ckpt"]), "--device", "cpu",
                               "--precision", "fp32"])


def png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# ---------------------------------------------------------------- results

def test_content_image_in_a_style_writes_result_strip_and_record(saae, session, tmp_path):
    """Inputs of other sizes and modes (grey 50×40, RGBA palette) are read as training reads them;
    the result is G on exactly those crops, the strip [content | style | result] enlarged 4×."""
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    draw_glyph(2, "1", size=50).resize((50, 40)).convert("L").save(content)
    draw_glyph(0, "2").convert("RGBA").convert("P").save(style)
    out = tmp_path / "res" / "r.png"
    r = invoke(saae, "--content", content, "--style", style, "--out", out)
    assert r.exit_code == 0, r.output
    assert png(out).shape == (32, 32, 3)
    xc, xs = read_crop(content, 32), read_crop(style, 32)
    want = to_hwc_uint8(session.model.stylize(xc[None], xs[None]))[0]
    assert np.array_equal(png(out), want)
    strip = out.with_name("r-strip.png")
    with Image.open(strip) as im:
        assert im.size == ((3 * 34 + 2) * 4, 36 * 4)
    cell = np.asarray(Image.open(strip).convert("RGB"))[8:8 + 128:4, 8 + 2 * 34 * 4:8 + 2 * 34 * 4 + 128:4]
    assert np.array_equal(cell, want)  # nearest-neighbour: every 4th pixel is the result
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["command"] == "stylize" and rec["model"] == "saae" and rec["device"] == "cpu"
    assert rec["checkpoint"] == str(saae["ckpt"]) and rec["content"]["file"] == str(content)
    assert rec["content"]["size"] == [50, 40] and rec["content"]["mode"] == "L"
    assert rec["results"] == [{"style": {"file": str(style), "size": [32, 32], "mode": "P"},
                               "result": str(out), "strip": str(strip)}]


def test_content_class_is_the_models_stylize_class(saae, session, tmp_path):
    style = saae["styles"] / "s0.png"
    xs = read_crop(style, 32)
    for spec, k in (("circle", 1), ("2", 2), ("7", 3), ("SQUARE", 0)):
        out = tmp_path / f"{k}.png"
        r = invoke(saae, "--content-class", spec, "--style", style, "-o", out)
        assert r.exit_code == 0, r.output
        want = to_hwc_uint8(session.model.stylize_class(torch.tensor([k]), xs[None]))[0]
        assert np.array_equal(png(out), want), spec
        assert json.loads(out.with_suffix(".json").read_text())["content"] == {"class": k, "name": CLASSES[k]}
    strip = np.asarray(Image.open(tmp_path / "3-strip.png").convert("RGB"))[8:8 + 128:4, 8:8 + 128:4]
    assert np.array_equal(strip, to_hwc_uint8(reference_contents(saae["data"])[3:4])[0])  # the stored content


def test_several_styles_give_one_result_each(saae, tmp_path):
    s = sorted(saae["styles"].iterdir())
    out = tmp_path / "many.png"
    r = invoke(saae, "--content-class", "cross", "--style", s[0], "--style", s[1], "-o", out)
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "many.json").read_text())
    assert [e["result"] for e in rec["results"]] == [str(tmp_path / "many-s0.png"), str(tmp_path / "many-s1.png")]
    for e in rec["results"]:
        assert png(Path(e["result"])).shape == (32, 32, 3) and Path(e["strip"]).is_file()
    # the library, called directly: --styles DIR adds every image of the folder
    res = run(session_of(saae), StylizeRequest(style_dir=saae["styles"], content_classes=["0"], out=tmp_path / "d.png"))
    assert len(res.outputs) == 3 and all(p.is_file() for p in res.outputs + res.strips)


def session_of(saae):
    return open_session(saae["ckpt"], device="cpu", precision="fp32")


def test_grid_is_styles_by_contents_with_the_style_image_first_and_marked(saae, session, tmp_path):
    out = tmp_path / "g.png"
    r = invoke(saae, "--grid", "--styles", saae["styles"], "--content-class", "circle,7", "-o", out, "--scale", "1")
    assert r.exit_code == 0, r.output
    rec = json.loads(out.with_suffix(".json").read_text())
    assert (rec["rows"], rec["columns"]) == (3, 3) and [c["class"] for c in rec["contents"]] == [1, 3]
    img = png(out)
    assert img.shape == (3 * 34 + 2, 3 * 34 + 2, 3)
    styles = sorted(saae["styles"].iterdir())
    for row, f in enumerate(styles):
        xs = read_crop(f, 32)
        left, top, right, bottom = cell_box(row, 0, 32)
        assert np.array_equal(img[top:bottom, left:right], to_hwc_uint8(xs[None])[0])  # the style, unchanged
        assert tuple(img[top - 1, left]) == MARK and tuple(img[bottom, right]) == MARK  # framed
        want = to_hwc_uint8(session.model.stylize_class(torch.tensor([1, 3]), xs[None].expand(2, -1, -1, -1)))
        for col in (1, 2):
            left, top, right, bottom = cell_box(row, col, 32)
            assert np.array_equal(img[top:bottom, left:right], want[col - 1])
            assert tuple(img[top - 1, left]) == (255, 255, 255)
    # default: every class, enlarged 2× at 32 px
    r = invoke(saae, "--grid", "--style", styles[0], "-o", tmp_path / "all.png")
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "all.json").read_text())
    assert (rec["rows"], rec["columns"], rec["scale"]) == (1, len(CLASSES) + 1, 2)
    assert png(tmp_path / "all.png").shape == (36 * 2, ((len(CLASSES) + 1) * 34 + 2) * 2, 3)


# ---------------------------------------------------------------- errors

def assert_one_error(r, *needles: str) -> None:
    assert r.exit_code != 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_bad_requests_are_one_line_errors(saae, tmp_path):
    style = str(saae["styles"] / "s0.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "file").write_text("x")
    cases = [
        (["--content-class", "circel", "--style", style], "unknown class 'circel'; closest: circle"),
        (["--content-class", "9", "--style", style], "class index 9 is out of range"),
        (["--content", style, "--content-class", "circle", "--style", style], "not both"),
        (["--style", style], "nothing to draw"),
        (["--content-class", "circle"], "no style"),
        (["--content-class", "circle,cross", "--style", style], "--grid"),
        (["--content", tmp_path / "missing.png", "--style", style], "missing.png: no such image file"),
        (["--content-class", "circle", "--style", tmp_path / "corrupt.png"], "not a readable image"),
        (["--content-class", "circle", "--style", tmp_path], "is a folder"),
        (["--grid", "--styles", tmp_path / "nope"], "no such folder"),
        (["--grid", "--styles", saae["root"] / "runs"], "no image files"),
        (["--content-class", "circle", "--style", style, "-o", tmp_path / "file" / "x.png"], "is a file, not a folder"),
        (["--content-class", "circle", "--style", style, "-o", tmp_path / "x.txt"], "cannot write '.txt'"),
        (["--content-class", "circle", "--style", style, "--scale", "0"], "--scale 0"),
    ]
    for args, needle in cases:
        assert_one_error(invoke(saae, *args), needle)


def test_a_model_that_cannot_stylize_is_refused(tmp_path, saae):
    from cvaegan.families.checkpoint import make_checkpoint
    from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
    from cvaegan.runtime.checkpoint_io import save_checkpoint

    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=2, resolution=32, latent_dim=8, width=0.125)))
    ckpt = tmp_path / "cvaegan.pt"
    save_checkpoint(ckpt, make_checkpoint(model, class_names=["a", "b"], step=1))
    r = runner.invoke(app, ["stylize", "--content-class", "a", "--style", str(saae["styles"] / "s0.png"),
                            "--ckpt", str(ckpt), "--device", "cpu"])
    assert_one_error(r, "cannot stylize", "saae")


def test_an_unwritable_output_folder_is_one_line(saae, tmp_path, monkeypatch):
    import tempfile

    def refuse(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied", str(kw.get("dir", "")))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    r = invoke(saae, "--content-class", "circle", "--style", saae["styles"] / "s0.png", "-o", tmp_path / "o.png")
    assert_one_error(r, "cannot write", "Permission denied")
    assert not (tmp_path / "o.png").exists()


def test_a_checkpoint_without_content_images_refuses_content_classes(tmp_path, saae):
    from cvaegan.core.arch import ModelConfig
    from cvaegan.families.checkpoint import make_checkpoint
    from cvaegan.families.saae.config import SAAEConfig
    from cvaegan.families.saae.model import SAAE
    from cvaegan.runtime.checkpoint_io import save_checkpoint

    model = SAAE(SAAEConfig(ModelConfig(num_classes=2, resolution=32, latent_dim=8, width=0.125, model="saae")))
    ckpt = tmp_path / "blank.pt"
    save_checkpoint(ckpt, make_checkpoint(model, class_names=["a", "b"], step=1))
    r = runner.invoke(app, ["stylize", "--content-class", "b", "--style", str(saae["styles"] / "s0.png"),
                            "--ckpt", str(ckpt), "--device", "cpu", "-o", str(tmp_path / "o.png")])
    assert_one_error(r, "no content image for class b", "--content IMAGE")
    r = runner.invoke(app, ["stylize", "--content", str(saae["styles"] / "s1.png"), "--style",
                            str(saae["styles"] / "s0.png"), "--ckpt", str(ckpt), "--device", "cpu",
                            "-o", str(tmp_path / "o.png")])
    assert r.exit_code == 0, r.output


def test_request_checks_without_a_model():
    with pytest.raises(CvaeganError, match="not both"):
        StylizeRequest(styles=[Path("s.png")], content=Path("c.png"), content_classes=["a"])
    assert StylizeRequest(styles=[Path("s.png")], content_classes=["a, b", "c"], grid=True).content_classes == \
        ["a", "b", "c"]
