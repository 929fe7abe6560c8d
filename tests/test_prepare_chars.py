"""`cvaegan prepare chars`: Chars74K font glyphs, class = character, style = font, split by font
(index % 5 == 0 held out, the reference font always train), never flipped — on a small fake tree,
and on a few classes of the shared data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console

from cvaegan.data.dataset import build_cache
from cvaegan.prepare.common import PrepareOptions
from cvaegan.prepare.runner import prepare
from cvaegan.runtime.errors import CvaeganError

QUIET = Console(stderr=True, quiet=True)
CHARS = {1: "0", 11: "A", 12: "B"}        # Chars74K sample number -> character
FONTS = range(1, 7)                         # 6 fonts: font 5 is the held-out one


def _fake(root: Path, fonts=FONTS) -> Path:
    """RAW/<NNN_c>/imgNNN-FFFFF.png (28×28 grey, random) and labels.csv, as in the shared copy."""
    rng = np.random.default_rng(0)
    lines = ["file,char,font_index"]
    for num, char in CHARS.items():
        (root / f"{num:03d}_{char}").mkdir(parents=True)
        for font in fonts:
            rel = f"{num:03d}_{char}/img{num:03d}-{font:05d}.png"
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(root / rel)
            lines.append(f"{rel},{char},{font}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def _run(raw: Path, out: Path, **kw):
    return prepare(PrepareOptions(kind="chars", raw=raw, out=out, **{"size": 32, **kw}), QUIET, show_progress=False)


def _manifest(out: Path) -> dict:
    return json.loads((out / "dataset.json").read_text())


def test_classes_styles_font_wise_split_and_rgb_glyphs(tmp_path):
    raw, out = _fake(tmp_path / "raw"), tmp_path / "out"
    res = _run(raw, out)
    assert res.kept == 18 and res.rejected == 0
    m = _manifest(out)
    assert [c["name"] for c in m["classes"]] == ["0", "A", "B"]
    assert [c["folder"] for c in m["classes"]] == ["0", "A", "B"] and all(c["count"] == 6 for c in m["classes"])
    assert m["flip"] is False
    assert m["styles"] == {"name": "font", "reference": "1", "source": "labels.csv"}
    assert m["splits"] == {"test": 3, "train": 15}
    names = {c["index"]: c["name"] for c in m["classes"]}
    for item in m["items"]:
        font = int(Path(item["source"]).stem.split("-")[1])
        assert item["style"] == str(font) and isinstance(item["style"], str)
        assert item["split"] == ("test" if font == 5 else "train")
        assert item["source"].startswith(f"{[k for k, v in CHARS.items() if v == names[item['class']]][0]:03d}_")
        rgb = np.asarray(Image.open(out / item["file"]))
        assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
        # a resize, not a crop: the mean grey of the glyph survives
        src = np.asarray(Image.open(raw / item["source"]), dtype=np.float64)
        assert abs(rgb[..., 0].mean() - src.mean()) < 3
    cache = build_cache(out, 32, cache_dir=tmp_path / "cache", split=None)
    assert cache.images.shape == (18, 32, 32, 3)


def _copy_font(raw: Path, src: int, dst: int, noise: int = 0, chars=CHARS) -> None:
    """Overwrite font `dst`'s glyphs with font `src`'s, each pixel moved by up to ±noise grey levels."""
    rng = np.random.default_rng(dst)
    for num, char in chars.items():
        glyph = np.asarray(Image.open(raw / f"{num:03d}_{char}/img{num:03d}-{src:05d}.png"), dtype=np.int16)
        glyph = np.clip(glyph + rng.integers(-noise, noise + 1, glyph.shape), 0, 255).astype(np.uint8)
        Image.fromarray(glyph).save(raw / f"{num:03d}_{char}/img{num:03d}-{dst:05d}.png")


def test_duplicate_fonts_are_dropped_so_no_heldout_font_has_a_twin_in_training(tmp_path):
    raw = _fake(tmp_path / "raw", fonts=range(1, 11))
    _copy_font(raw, 5, 6)               # an exact twin of held-out font 5
    _copy_font(raw, 2, 10, noise=3)     # held-out font 10 renders as font 2, up to 3 grey levels off (≈ 42 dB)
    _copy_font(raw, 3, 7, noise=40)     # font 7 is font 3 under heavy noise (≈ 21 dB): a font of its own
    _copy_font(raw, 4, 8, chars={1: "0"})  # font 8 shares one glyph of three with font 4: a font of its own
    _copy_font(raw, 4, 9)               # font 9 is font 4, but its "B" is stored 30 px tall: left out of the
    Image.fromarray(np.full((30, 28), 255, np.uint8)).save(raw / "012_B" / "img012-00009.png")  # comparison
    res = _run(raw, tmp_path / "out")
    m = _manifest(tmp_path / "out")
    assert m["styles"]["duplicates"] == {"6": "5", "9": "4", "10": "2"}
    assert {it["style"] for it in m["items"]} == {"1", "2", "3", "4", "5", "7", "8"}
    assert m["splits"] == {"test": 3, "train": 18}  # font 5 alone is held out; font 10 went with its twin
    assert any("skipped 3 fonts" in n and "6→5" in n and "10→2" in n for n in res.notes)
    # a reference font is always kept, even where it duplicates an earlier index
    _run(raw, tmp_path / "ref", reference_style="6")
    m = _manifest(tmp_path / "ref")
    assert m["styles"]["duplicates"] == {"5": "6", "9": "4", "10": "2"}
    assert {it["style"] for it in m["items"]} >= {"6"} and "5" not in {it["style"] for it in m["items"]}


def test_reference_font_is_always_train_and_limit_counts_per_class(tmp_path):
    raw = _fake(tmp_path / "raw", fonts=range(1, 11))
    _run(raw, tmp_path / "out", reference_style="5")
    m = _manifest(tmp_path / "out")
    assert m["styles"]["reference"] == "5"
    split = {(it["class"], it["style"]): it["split"] for it in m["items"]}
    assert all(split[(c, "5")] == "train" and split[(c, "10")] == "test" for c in range(3))
    assert sum(s == "test" for s in split.values()) == 3

    _run(raw, tmp_path / "lim", limit=4)
    m = _manifest(tmp_path / "lim")
    assert [c["count"] for c in m["classes"]] == [4, 4, 4]
    assert {it["style"] for it in m["items"]} == {"1", "2", "3", "4"} and m["splits"] == {"train": 12}

    with pytest.raises(CvaeganError, match="no image of font 11"):
        _run(raw, tmp_path / "bad", reference_style="11")
    with pytest.raises(CvaeganError, match="for the chars kind only"):
        prepare(PrepareOptions(kind="folder", raw=raw, out=tmp_path / "x", reference_style="2"), QUIET,
                show_progress=False)


@pytest.mark.parametrize("edit, needle", [
    (lambda ls: ["file;char;font"] + ls[1:], "line 1 is not the header"),
    (lambda ls: ls[:3] + ["001_0/img001-00002.png,0"] + ls[3:], "line 4 is not '<file>,<char>,<font_index>'"),
    (lambda ls: ls[:2] + [ls[2].replace(",0,2", ",0,two")] + ls[3:], "line 3: font_index 'two'"),
    (lambda ls: ls[:2] + [ls[2].replace(",0,2", ",AB,2")] + ls[3:], "line 3: char 'AB'"),
    (lambda ls: ls + ["011_A/img011-00001.png,0,1"], "line 20: char '0' font 1 is already listed on line 2"),
    (lambda ls: ls + ["../elsewhere.png,C,1"], "line 20: '../elsewhere.png' is not a path inside RAW"),
])
def test_a_malformed_labels_csv_is_one_error_naming_the_line(tmp_path, edit, needle):
    raw = _fake(tmp_path / "raw")
    lines = (raw / "labels.csv").read_text().splitlines()
    (raw / "labels.csv").write_text("\n".join(edit(lines)) + "\n")
    with pytest.raises(CvaeganError, match=needle) as err:
        _run(raw, tmp_path / "out")
    assert "\n" not in str(err.value) and "labels.csv" in str(err.value)
    assert not (tmp_path / "out" / "dataset.json").exists()


def test_missing_labels_csv_is_one_error(tmp_path):
    raw = _fake(tmp_path / "raw")
    (raw / "labels.csv").unlink()
    with pytest.raises(CvaeganError, match="labels.csv: missing") as err:
        _run(raw, tmp_path / "out")
    assert "\n" not in str(err.value)


def test_corrupt_png_is_a_reject_missing_file_a_note_and_rerun_skips_finished_work(tmp_path):
    raw, out = _fake(tmp_path / "raw"), tmp_path / "out"
    (raw / "011_A" / "img011-00003.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (raw / "012_B" / "img012-00006.png").unlink()
    res = _run(raw, out)
    assert res.kept == 16 and res.rejected == 1 and res.processed == 17
    assert any("skipped 1 images" in n for n in res.notes)
    rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
    assert [(r["source"], r["class"]) for r in rejects] == [("011_A/img011-00003.png", "A")]
    assert rejects[0]["reason"] in ("not_an_image", "corrupt", "truncated") and rejects[0]["detail"]

    snapshot = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    again = _run(raw, out)
    assert again.processed == 0 and again.kept == 16 and again.rejected == 1
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == snapshot
    with pytest.raises(CvaeganError, match="reference_style differ"):
        _run(raw, out, reference_style="2")


@pytest.mark.data
def test_a_few_classes_of_the_real_chars74k_fonts(test_data, tmp_path):
    src = test_data / "chars" / "chars74k_fnt"
    if not (src / "labels.csv").is_file():
        pytest.skip(f"{src} not present")
    raw = tmp_path / "raw"
    raw.mkdir()
    head, *rows = (src / "labels.csv").read_text().splitlines()
    rows = [r for r in rows if r.split(",")[1] in ("0", "A", "Z")]
    (raw / "labels.csv").write_text("\n".join([head, *rows]) + "\n")
    for d in {r.split("/")[0] for r in rows}:
        (raw / d).symlink_to(src / d)
    res = _run(raw, tmp_path / "out", limit=10, workers=2)
    assert res.kept == 30 and res.rejected == 0
    m = _manifest(tmp_path / "out")
    assert [c["name"] for c in m["classes"]] == ["0", "A", "Z"] and [c["count"] for c in m["classes"]] == [10] * 3
    assert m["splits"] == {"test": 6, "train": 24}  # fonts 5 and 10 of each class
    # fonts 6 and 8 of the real data render as fonts 5 and 7: skipped, so the limit reaches font 12
    assert m["styles"]["duplicates"]["6"] == "5" and m["styles"]["duplicates"]["8"] == "7"
    assert {it["style"] for it in m["items"]} == {str(f) for f in (1, 2, 3, 4, 5, 7, 9, 10, 11, 12)}
    glyph = np.asarray(Image.open(tmp_path / "out" / m["items"][0]["file"]))
    assert glyph.shape == (32, 32, 3) and glyph[0, 0].tolist() == [255, 255, 255]  # white paper, black ink
