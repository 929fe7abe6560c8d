"""The stylize evaluation (SAAE, issue 14) on a tiny styled dataset with known answers: a model
that draws the exact ground truth scores perfectly, one that returns its content image scores as
the content baseline, data without style groups or without a test split is a one-line error, and
`cvaegan evaluate` dispatches a real SAAE checkpoint to it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from rich.console import Console
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.data.dataset import build_cache, cache_images, content_items
from cvaegan.evaluation.judge import JudgeConfig, JudgeNet, JudgeTrainOptions, load_judge, train_judge
from cvaegan.evaluation.stylize import evaluate_stylize, stylize_table
from cvaegan.runtime.errors import CvaeganError
from tests.helpers import make_shapes_dataset

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 32
CLASSES = 4
STYLES = 9          # style groups "0".."8"; every third ("0", "3", "6") is the test split
COLOURS = [(230, 60, 60), (60, 200, 90), (70, 110, 240), (240, 210, 60), (220, 90, 220), (80, 220, 220),
           (250, 150, 40), (160, 160, 160), (130, 70, 30)]


def make_styled_dataset(root, split: bool = True):
    """Class k: shape k (bar, box, cross, ring); style s: its colour and stroke width; the reference
    style "1" draws the content images. Test split: styles 0, 3, 6."""
    items = []
    for k in range(CLASSES):
        (root / str(k)).mkdir(parents=True, exist_ok=True)
        for s in range(STYLES):
            im = Image.new("RGB", (SIZE, SIZE), (0, 0, 0))
            d = ImageDraw.Draw(im)
            w, col = 2 + s % 3, COLOURS[s]
            if k == 0:
                d.line([(16, 5), (16, 27)], fill=col, width=w)
            elif k == 1:
                d.rectangle([7, 7, 25, 25], outline=col, width=w)
            elif k == 2:
                d.line([(6, 6), (26, 26)], fill=col, width=w)
                d.line([(6, 26), (26, 6)], fill=col, width=w)
            else:
                d.ellipse([6, 6, 26, 26], outline=col, width=w)
            im.save(root / str(k) / f"style_{s}.png")
            item = {"file": f"{k}/style_{s}.png", "class": k, "style": str(s)}
            if split:
                item["split"] = "test" if s % 3 == 0 else "train"
            items.append(item)
    (root / "dataset.json").write_text(json.dumps({
        "format": "cvaegan-dataset", "version": 1, "kind": "synthetic-styles",
        "classes": [{"index": k, "name": f"shape{k}"} for k in range(CLASSES)], "items": items,
        "styles": {"name": "font", "reference": "1"}, "flip": False}))
    return root


class FakeStylizer(torch.nn.Module):
    """Knows every image of the dataset: finds the style image's group, then returns class c of
    that group (`truth`), or its own content image (`content`)."""

    def __init__(self, cache, mode: str):
        super().__init__()
        self.register_buffer("contents", cache_images(cache, content_items(cache)))
        x = cache_images(cache, np.arange(len(cache)))
        self.group_of = {x[i].numpy().tobytes(): int(cache.styles[i]) for i in range(len(cache))}
        self.image_of = {(int(cache.labels[i]), int(cache.styles[i])): x[i] for i in range(len(cache))}
        self.mode = mode

    @torch.no_grad()
    def stylize_class(self, labels, style):
        if self.mode == "content":
            return self.contents[labels]
        return torch.stack([self.image_of[(int(c), self.group_of[s.float().numpy().tobytes()])]
                            for c, s in zip(labels, style)])


@pytest.fixture(scope="module")
def styled(tmp_path_factory):
    root = tmp_path_factory.mktemp("styled")
    data = make_styled_dataset(root / "data")
    judge = train_judge(JudgeTrainOptions(data=data, out=root / "judge.pt", resolution=SIZE, width=8, epochs=3,
                                          batch_size=8, seed=0, device="cpu", workers=0, cache_dir=root / "c")).path
    cache = build_cache(data, SIZE, cache_dir=root / "c")
    return {"root": root, "data": data, "judge": judge, "cache": cache}


def test_exact_ground_truth_scores_perfectly(styled, tmp_path):
    cache = styled["cache"]
    net, state = load_judge(styled["judge"])
    rec = evaluate_stylize(FakeStylizer(cache, "truth"), cache, net, judge_state=state, seed=0,
                           grid=tmp_path / "grid.png")
    o = rec["overall"]
    assert rec["n_fonts"] == 3 and rec["n_pairs"] == 3 * CLASSES and rec["n_classes"] == CLASSES
    assert rec["fonts"] == ["0", "3", "6"] and not rec["notes"]
    assert o["output"]["psnr_db"] >= 99 and o["output"]["ssim"] == pytest.approx(1.0) and o["output"]["mse"] == 0
    assert o["output"]["top1"] == pytest.approx(o["real"]["top1"])     # the judge reads the truth as it reads it
    assert o["output"]["font_id_pixel"] == 1.0 and o["output"]["font_id_feature"] == 1.0
    assert o["font_id_chance"] == pytest.approx(1 / 3)
    for name, v in rec["per_class"].items():
        assert v["n"] == 3 and v["output"]["psnr_db"] >= 99 and v["output"]["top1"] == v["real"]["top1"], name
    # the floors are floors: neither baseline is the truth
    assert o["content_baseline"]["psnr_db"] < 40 and o["style_baseline"]["psnr_db"] < 40
    assert o["content_baseline"]["font_id_pixel"] < 1.0
    assert 0 < o["nearest_train_styles"]["psnr_db"] < 40  # no held-out style is a training style here
    assert (tmp_path / "grid.png").is_file() and rec["grid"] == str(tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size[1] > 3 * SIZE  # three font rows
    Console(width=200, file=open(tmp_path / "t.txt", "w")).print(stylize_table(rec))
    assert "content image" in (tmp_path / "t.txt").read_text()
    assert "nearest 5 training styles" in (tmp_path / "t.txt").read_text()


def test_nearest_training_styles_find_a_twin_style_and_nothing_else(tmp_path):
    from cvaegan.evaluation.judge import to_float
    from cvaegan.evaluation.stylize import heldout_style_rows, nearest_train_styles, style_pairs

    data = make_styled_dataset(tmp_path / "data")
    for k in range(CLASSES):  # held-out style "0" now draws every class exactly as training style "1"
        (data / str(k) / "style_0.png").write_bytes((data / str(k) / "style_1.png").read_bytes())
    cache = build_cache(data, SIZE, cache_dir=tmp_path / "c")
    pairs = style_pairs(cache, heldout_style_rows(cache), seed=0)
    truth = to_float(cache.images, pairs.truth.tolist())
    twin = pairs.fonts == cache.style_names.index("0")
    assert twin.sum() == CLASSES and (~twin).sum() == 2 * CLASSES
    x1, missing = nearest_train_styles(cache, pairs.labels, pairs.style, k=1)
    assert missing == 0
    assert torch.equal(x1[torch.from_numpy(twin)], truth[torch.from_numpy(twin)])
    for i in np.flatnonzero(~twin):  # the other held-out styles have no twin: a lookup cannot draw them
        assert not torch.equal(x1[i], truth[i])
    x3, _ = nearest_train_styles(cache, pairs.labels, pairs.style, k=3)  # an average of three styles
    assert not torch.equal(x3[torch.from_numpy(twin)], truth[torch.from_numpy(twin)])


def test_content_image_scores_as_the_content_baseline(styled):
    cache = styled["cache"]
    rec = evaluate_stylize(FakeStylizer(cache, "content"), cache, styled["judge"], seed=3)
    for scope in (rec["overall"], *rec["per_class"].values()):
        assert scope["output"] == pytest.approx(scope["content_baseline"])
    # one reference glyph for every font: the nearest font is the same for all three
    assert rec["overall"]["output"]["font_id_pixel"] == pytest.approx(1 / 3)


def test_style_images_show_another_class_and_are_seeded(styled):
    from cvaegan.evaluation.stylize import heldout_style_rows, style_pairs

    cache = styled["cache"]
    rows = heldout_style_rows(cache)
    a, b = style_pairs(cache, rows, 0), style_pairs(cache, rows, 0)
    assert np.array_equal(a.style, b.style)
    assert (cache.labels[a.style] != a.labels).all() and (cache.styles[a.style] == a.fonts).all()
    assert any(not np.array_equal(style_pairs(cache, rows, s).style, a.style) for s in range(1, 6))


def test_data_without_styles_or_test_split_is_a_one_line_error(styled, tmp_path):
    judge = JudgeNet(JudgeConfig(num_classes=3, resolution=SIZE, width=4))
    plain = build_cache(make_shapes_dataset(tmp_path / "shapes", classes=3, per_class=4, size=SIZE), SIZE,
                        cache_dir=tmp_path / "c")
    model = FakeStylizer.__new__(FakeStylizer)
    torch.nn.Module.__init__(model)
    model.register_buffer("contents", torch.zeros(3, 3, SIZE, SIZE))
    with pytest.raises(CvaeganError, match="no style groups") as e:
        evaluate_stylize(model, plain, judge)
    assert "\n" not in str(e.value)
    unsplit = build_cache(make_styled_dataset(tmp_path / "unsplit", split=False), SIZE, cache_dir=tmp_path / "c")
    model.contents = torch.zeros(CLASSES, 3, SIZE, SIZE)
    with pytest.raises(CvaeganError, match="no test split") as e:
        evaluate_stylize(model, unsplit, JudgeNet(JudgeConfig(num_classes=CLASSES, resolution=SIZE, width=4)))
    assert "\n" not in str(e.value)


def test_cvaegan_evaluate_dispatches_an_saae_checkpoint(styled, tmp_path):
    from cvaegan.pipelines.train import TrainOptions, train

    res = train(TrainOptions(data=styled["data"], out=tmp_path / "runs", name="saae", model="saae", resolution=SIZE,
                             width=0.125, latent_dim=8, batch_size=8, steps=3, seed=0, device="cpu", workers=0,
                             cache_dir=styled["root"] / "c", log_every=1, sample_every=100, ckpt_every=100,
                             precision="fp32"), Console(stderr=True, quiet=True))
    out = tmp_path / "eval.json"
    r = CliRunner().invoke(app, ["evaluate", "--ckpt", str(res.checkpoint), "--judge", str(styled["judge"]),
                                 "--data", str(styled["data"]), "--out", str(out), "--device", "cpu",
                                 "--workers", "0", "--cache-dir", str(styled["root"] / "c")])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    assert rec["kind"] == "stylize" and rec["model"] == "saae" and rec["n_pairs"] == 3 * CLASSES
    assert out.with_suffix(".png").is_file() and "held-out" in r.output
    # a dataset without a test split: one line, no traceback
    unsplit = make_styled_dataset(tmp_path / "unsplit", split=False)
    r = CliRunner().invoke(app, ["evaluate", "--ckpt", str(res.checkpoint), "--judge", str(styled["judge"]),
                                 "--data", str(unsplit), "--out", str(tmp_path / "e2.json"), "--device", "cpu",
                                 "--workers", "0", "--cache-dir", str(tmp_path / "c")])
    assert r.exit_code == 1 and "no test split" in r.output and "Traceback" not in r.output
