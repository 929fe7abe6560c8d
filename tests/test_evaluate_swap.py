"""The identity-swap evaluation (issue 13) on inputs with known answers: with an embedding that
reads a person's colour, a model that returns the identity source is identified as s every time
and one that returns the attributes source never; the gallery leaves the pair's own images out;
the calibrated threshold sits between same- and other-person distances; on the open-set cartoons
a model that draws the exact ground truth scores ~100 dB where the copies do not; and a tiny
trained `openset` model goes through `cvaegan evaluate` with every key of the record."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.data.dataset import build_cache
from cvaegan.data.images import from_hwc_uint8, to_hwc_uint8
from cvaegan.evaluation.swap import (calibrated_threshold, evaluate_swap, gallery_distances, identity_scores,
                                     judge_train_files, leave_one_out_identification, landmark_error, landmark_scores, swap_ground_truth, swap_pairs,
                                     swap_table, write_judge_view)
from cvaegan.runtime.errors import CvaeganError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SIZE = 16
PEOPLE = 6          # people 0..2 train, 3..5 test (all of their images)
PER_PERSON = 5
COLOURS = [(230, 40, 40), (40, 200, 60), (50, 80, 240), (240, 210, 40), (210, 60, 220), (40, 210, 220)]


def make_people(root, split: bool = True):
    """Person p: background colour COLOURS[p] (± a little per image); image j: a white square at a
    per-image place (the "attributes"). The top-left pixel is never in the square."""
    rng = np.random.default_rng(0)
    items = []
    for p in range(PEOPLE):
        (root / str(p)).mkdir(parents=True, exist_ok=True)
        for j in range(PER_PERSON):
            col = np.clip(np.asarray(COLOURS[p]) + rng.integers(-6, 7, 3), 0, 255)
            im = np.empty((SIZE, SIZE, 3), np.uint8)
            im[:] = col
            y, x = 3 + (j * 3) % 8, 3 + (j * 5) % 8
            im[y:y + 4, x:x + 4] = 255
            Image.fromarray(im).save(root / str(p) / f"{j}.png")
            item = {"file": f"{p}/{j}.png", "class": p}
            if split:
                item["split"] = "test" if p >= 3 else "train"
            items.append(item)
    (root / "dataset.json").write_text(json.dumps({
        "format": "cvaegan-dataset", "version": 1, "kind": "synthetic-people",
        "classes": [{"index": p, "name": f"person{p}"} for p in range(PEOPLE)], "items": items}))
    return root


def colour(x: torch.Tensor) -> torch.Tensor:
    """The embedding of these images: the top-left pixel's colour (the person)."""
    return x[:, :, 0, 0].float()


class Fake(nn.Module):
    def __init__(self, which: str, res: int = SIZE):
        super().__init__()
        self.which = which
        self.cfg = SimpleNamespace(model=SimpleNamespace(resolution=res, model=f"fake-{which}"))

    def swap(self, x_identity, x_attributes):
        if self.which == "identity":
            return x_identity.clone()
        if self.which == "attributes":
            return x_attributes.clone()
        # "ideal": a's square on s's background
        square = (x_attributes > 0.99).all(1, keepdim=True)
        return torch.where(square, x_attributes, x_identity[:, :, :1, :1].expand_as(x_identity))


@pytest.fixture()
def people(tmp_path):
    return make_people(tmp_path / "people")


def test_copying_the_identity_source_is_identified_as_s(people, tmp_path):
    rec = evaluate_swap(Fake("identity"), people, colour, pairs=40, seed=1, cache_dir=tmp_path / "c",
                        grid=tmp_path / "g.png")
    idn = rec["identity"]
    assert rec["n_people"] == 3 and rec["n_images"] == 15 and rec["open_set"] and rec["n_pairs"] == 40
    assert idn["chance"] == pytest.approx(1 / 3)
    assert idn["swap"]["identification"] == 1.0 and idn["swap"]["identified_as_attributes_person"] == 0.0
    assert idn["swap"] == idn["copy_identity"]
    assert idn["copy_attributes"]["identification"] == 0.0
    assert idn["copy_attributes"]["identified_as_attributes_person"] == 1.0
    assert idn["threshold_kind"] == "calibrated" and idn["calibration"]["false_reject"] == 0.0
    assert idn["swap"]["verification"] == 1.0 and idn["swap"]["false_accept"] == 0.0
    assert "skipped" in rec["attributes"] and "skipped" in rec["ground_truth"]
    assert rec["grid"].endswith("g.png") and rec["grid_rows"] == ["identity source", "attributes source", "swap"]
    assert "swap" in swap_table(rec).title


def test_copying_the_attributes_source_is_never_s(people, tmp_path):
    rec = evaluate_swap(Fake("attributes"), people, colour, pairs=30, cache_dir=tmp_path / "c")
    sw = rec["identity"]["swap"]
    assert sw["identification"] == 0.0 and sw["identified_as_attributes_person"] == 1.0
    assert sw["verification"] == 0.0 and sw["false_accept"] == 1.0
    ideal = evaluate_swap(Fake("ideal"), people, colour, pairs=30, cache_dir=tmp_path / "c")
    assert ideal["identity"]["swap"]["identification"] == 1.0


def test_a_fixed_threshold_and_a_classifier_are_used(people, tmp_path):
    def emb(x):
        return colour(x)

    emb.threshold = 1e-9  # nothing is "the same person"
    rec = evaluate_swap(Fake("identity"), people, emb, pairs=10, cache_dir=tmp_path / "c",
                        classifier=lambda x: torch.nn.functional.one_hot(  # reads the person exactly
                            colour(x).mul(127.5).add(127.5).sub(torch.tensor(COLOURS)[:, None, :].float())
                            .norm(dim=2).argmin(0), PEOPLE).float())
    idn = rec["identity"]
    assert idn["threshold"] == 1e-9 and idn["threshold_kind"] == "fixed" and idn["swap"]["verification"] == 0.0
    assert idn["swap"]["top1"] == 1.0 and idn["copy_attributes"]["top1"] == 0.0
    assert idn["copy_attributes"]["top1_as_attributes_person"] == 1.0


def test_pairs_are_seeded_two_people_and_sources_cycle():
    person = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3])   # person 3 has one image: never a source
    s, a = swap_pairs(person, 20, seed=3)
    s2, a2 = swap_pairs(person, 20, seed=3)
    assert (s == s2).all() and (a == a2).all()
    assert (person[s] != person[a]).all() and 8 not in s and 8 not in a
    assert sorted(s[:8].tolist()) == list(range(8))  # every eligible image once before any repeats
    with pytest.raises(CvaeganError, match="two test people"):
        swap_pairs(np.array([0, 0, 1]), 5)


class FakeWithI(Fake):
    """A swapper with an identity encoder: `identity` reads the person (the colour) exactly, or
    sees nothing (`blind`: the same vector for every face)."""

    def __init__(self, which: str, blind: bool = False):
        super().__init__(which)
        self.blind = blind

    def identity(self, x):
        return torch.ones(len(x), 3) if self.blind else colour(x) + 2.0  # off the origin: a direction per person


def test_the_models_own_identity_encoder_is_scored_beside_the_embedding(people, tmp_path):
    rec = evaluate_swap(FakeWithI("identity"), people, colour, pairs=20, cache_dir=tmp_path / "c")
    own, idn = rec["identity"]["model_identity_encoder"], rec["identity"]
    assert own["identification_of_real_photos"] == 1.0 and idn["embedder_identification_of_real_photos"] == 1.0
    assert own["swap"]["identification"] == 1.0           # I reads the copied identity source as s
    rec = evaluate_swap(FakeWithI("attributes"), people, colour, pairs=20, cache_dir=tmp_path / "c")
    assert rec["identity"]["model_identity_encoder"]["swap"]["identification"] == 0.0
    rec = evaluate_swap(FakeWithI("identity", blind=True), people, colour, pairs=20, cache_dir=tmp_path / "c")
    assert rec["identity"]["model_identity_encoder"]["identification_of_real_photos"] < 0.5  # ties: one person
    assert "model's own I" in swap_table(rec).caption
    assert "model_identity_encoder" not in evaluate_swap(Fake("identity"), people, colour, pairs=5,
                                                         cache_dir=tmp_path / "c")["identity"]


def test_leave_one_out_identification_leaves_the_image_out():
    e = np.array([[0.0], [6.0], [10.0], [11.0]])   # image 1: 6 from {0}, 4.5 from person 1's mean (10.5)
    assert leave_one_out_identification(e, np.array([0, 0, 1, 1])) == 0.75  # with itself in: 3 from {0, 6}
    assert leave_one_out_identification(np.array([[0.0], [1.0], [10.0], [11.0]]), np.array([0, 0, 1, 1])) == 1.0


def test_the_gallery_leaves_the_pair_images_out():
    e = np.array([[0.0], [2.0], [10.0], [12.0]])       # person 0: 0, 2; person 1: 10, 12
    person = np.array([0, 0, 1, 1])
    d, people, ks, ka = gallery_distances(e[[0]], e, person, np.array([0]), np.array([2]))
    assert people.tolist() == [0, 1] and ks.tolist() == [0] and ka.tolist() == [1]
    assert d[0].tolist() == [2.0, 12.0]                 # to {2} (not {0, 2}) and to {12} (not {10, 12})
    sc = identity_scores(e[[0]], e, person, np.array([0]), np.array([2]), threshold=3.0)
    assert sc["identification"] == 1.0 and sc["verification"] == 1.0 and sc["false_accept"] == 0.0


def test_calibrated_threshold_separates_people():
    e = np.array([[0.0], [1.0], [10.0], [11.0], [20.0], [21.0]])
    c = calibrated_threshold(e, np.array([0, 0, 1, 1, 2, 2]))
    assert 1.0 < c["threshold"] <= 9.5 and c["false_reject"] == 0.0 and c["false_accept"] == 0.0


def test_landmark_error_is_relative_to_the_eye_distance():
    ref = np.array([[[10, 10], [20, 10], [15, 15], [11, 20], [19, 20]]], np.float32)
    assert landmark_error(ref, ref)[0] == 0.0
    assert landmark_error(ref + [1.0, 0.0], ref)[0] == pytest.approx(0.1)
    missing = np.full_like(ref, np.nan)
    sc = landmark_scores(np.concatenate([ref + 1, missing]), np.concatenate([ref + 2, ref]), np.concatenate([ref, ref]))
    assert sc["n_pairs_scored"] == 1 and sc["detected"]["swap"] == 0.5 and sc["swap_closer_share"] == 1.0
    assert sc["swap_vs_attributes"] < sc["identity_source_vs_attributes"]


def test_landmarks_on_real_crops(test_data, people, tmp_path):
    """SCRFD finds the faces of 64-px Glint crops; a real face against itself agrees exactly."""
    from cvaegan.evaluation.swap import detect_landmarks
    from cvaegan.prepare.detect import FaceDetector

    model = test_data / "models" / "scrfd_500m_kps.onnx"
    files = sorted((test_data / "faces" / "glint360k_aligned_112" / "images").glob("*/*.png"))[:4]
    if not model.is_file() or not files:
        pytest.skip("no SCRFD model or Glint crops in the test data")
    x = from_hwc_uint8(np.stack([np.asarray(Image.open(f).convert("RGB").resize((64, 64))) for f in files]))
    pts = detect_landmarks(FaceDetector(model, threads=1), x)
    assert not np.isnan(pts).any()
    iod = np.linalg.norm(pts[:, 0] - pts[:, 1], axis=1)
    assert (iod > 10).all() and (iod < 40).all()
    assert landmark_scores(pts, pts[::-1].copy(), pts)["swap_vs_attributes"] == 0.0


def test_no_test_split_is_an_error(tmp_path):
    data = make_people(tmp_path / "nosplit", split=False)
    with pytest.raises(CvaeganError, match="no test split"):
        evaluate_swap(Fake("identity"), data, colour, cache_dir=tmp_path / "c")


def test_a_model_that_cannot_swap_is_refused(people, tmp_path):
    with pytest.raises(CvaeganError, match="cannot swap"):
        evaluate_swap(nn.Linear(1, 1), people, colour, cache_dir=tmp_path / "c")


class Oracle(nn.Module):
    """Draws the exact ground truth: looks each input up among the dataset's images."""

    def __init__(self, manifest, images, items, res):
        super().__init__()
        from cvaegan.data.demo_faces import render_swap

        self.cfg = SimpleNamespace(model=SimpleNamespace(resolution=res, model="oracle"))
        self.render, self.manifest, self.res = render_swap, manifest, res
        self.lookup = {im.tobytes(): it for im, it in zip(images, items)}

    def swap(self, x_s, x_a):
        out = []
        for s, a in zip(to_hwc_uint8(x_s), to_hwc_uint8(x_a)):
            it_s, it_a = self.lookup[s.tobytes()], self.lookup[a.tobytes()]
            out.append(np.asarray(self.render(self.manifest, it_s["class"], it_a, self.res).convert("RGB")))
        return from_hwc_uint8(np.stack(out)).contiguous()


def test_cartoon_ground_truth(tmp_path):
    from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset
    from cvaegan.evaluation.judge import relative_names

    data = write_demo_dataset(tmp_path / "cartoons", DemoDataConfig(num_classes=5, per_class=6, size=32, seed=0,
                                                                    heldout_identities=2))
    cache = build_cache(data, 32, cache_dir=tmp_path / "c")
    manifest = cache.index.manifest
    by_file = {it["file"]: it for it in manifest["items"]}
    items = [by_file[r] for r in relative_names(cache)]
    test = [i for i, it in enumerate(items) if it["split"] == "test"]
    truth, why = swap_ground_truth(cache, test, test, 32)   # "s with its own attributes" is its own image
    assert why == "" and torch.equal(truth, from_hwc_uint8(cache.images[test]).contiguous())
    rec = evaluate_swap(Oracle(manifest, list(cache.images), items, 32), cache, colour, pairs=12, seed=0)
    gt = rec["ground_truth"]
    assert gt["swap"]["psnr_db"] >= 99 and gt["swap"]["ssim"] > 0.999
    assert gt["copy_identity"]["psnr_db"] < 40 and gt["copy_attributes"]["psnr_db"] < 40
    assert rec["heldout_identities"] == [3, 4] and rec["open_set"]


def test_judge_view_splits_the_test_people(people, tmp_path):
    from cvaegan.data.manifest import index_dataset

    view = write_judge_view(people, tmp_path / "view", fraction=0.4, seed=0)
    idx = index_dataset(view)
    assert idx.class_names == ["person3", "person4", "person5"]
    assert [idx.splits.count("train"), idx.splits.count("test")] == [6, 9]   # 2 + 3 of each person's 5
    assert all(str(f).startswith(str(people.resolve())) for f in idx.files)
    state = {"meta": {"data": str(view.resolve())},
             "split": {"train": ["../people/3/0.png"]}}
    assert judge_train_files(state) == {str((people / "3" / "0.png").resolve())}


@pytest.mark.slow
def test_evaluate_a_trained_openset_model(tmp_path):
    """A tiny openset model (a few steps) through `cvaegan evaluate`: the judge trained on half of
    the unseen people's images, dlib as the other embedding; every key of the record is there."""
    from rich.console import Console

    from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset
    from cvaegan.evaluation.judge import JudgeTrainOptions, train_judge
    from cvaegan.pipelines.train import TrainOptions, train

    data = write_demo_dataset(tmp_path / "data", DemoDataConfig(num_classes=5, per_class=16, size=32, seed=0,
                                                                heldout_identities=2))
    quiet = Console(stderr=True, quiet=True)
    res = train(TrainOptions(data=data, out=tmp_path / "runs", name="os", model="openset", resolution=32, width=0.125,
                             latent_dim=16, batch_size=16, steps=6, seed=0, device="cpu", workers=0,
                             cache_dir=tmp_path / "cache", log_every=3, sample_every=10_000, ckpt_every=10_000,
                             precision="fp32"), quiet)
    view = write_judge_view(data, tmp_path / "view", fraction=0.5, seed=0)
    judge = train_judge(JudgeTrainOptions(data=view, out=tmp_path / "judge.pt", resolution=32, width=8, epochs=2,
                                          batch_size=8, device="cpu", workers=0, cache_dir=tmp_path / "cache"),
                        quiet).path
    out = tmp_path / "eval.json"
    r = CliRunner().invoke(app, ["evaluate", "--ckpt", str(res.checkpoint), "--judge", str(judge), "--data", str(data),
                                 "--swap-pairs", "12", "--device", "cpu", "--workers", "0", "--cache-dir",
                                 str(tmp_path / "cache"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    rec = json.loads(out.read_text())
    assert rec["kind"] == "swap" and rec["model"] == "openset" and rec["identity_embedding"] == "judge"
    assert rec["n_images"] == 16 and rec["n_people"] == 2 and rec["n_pairs"] == 12
    assert any("left out" in n for n in rec["notes"])   # the judge's half of the test images
    for key in ("swap", "copy_identity", "copy_attributes"):
        row = rec["identity"][key]
        assert set(row) >= {"identification", "identified_as_attributes_person", "verification", "false_accept",
                            "distance_to_identity_person", "distance_to_attributes_person", "top1"}
        assert set(rec["ground_truth"][key]) == {"psnr_db", "ssim", "mse"}
    assert rec["identity"]["threshold_kind"] == "calibrated"
    assert "skipped" in rec["attributes"] and out.with_suffix(".png").is_file()
    assert rec["grid_rows"][-1] == "ground truth"

    pytest.importorskip("dlib")
    out2 = tmp_path / "eval-dlib.json"
    r = CliRunner().invoke(app, ["evaluate", "--ckpt", str(res.checkpoint), "--data", str(data), "--identity", "dlib",
                                 "--swap-pairs", "8", "--device", "cpu", "--workers", "0", "--cache-dir",
                                 str(tmp_path / "cache"), "-o", str(out2)])
    assert r.exit_code == 0, r.output
    rec2 = json.loads(out2.read_text())
    assert rec2["identity_embedding"] == "dlib" and rec2["identity"]["threshold"] == 0.6
    assert rec2["n_images"] == 32 and rec2["judge"] is None
