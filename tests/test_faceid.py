"""dlib's face embedding (evaluation/faceid.py): deterministic, any crop size, two photos of one
real person closer than two people (and mostly on the right side of dlib's 0.6), one-line errors
when dlib or a model file is missing."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from cvaegan.runtime.errors import CvaeganError

GLINT = ("faces", "glint360k_aligned_112", "images")
LFW = ("faces", "lfw_deepfunneled")


@pytest.fixture(scope="module")
def embedder():
    pytest.importorskip("dlib")
    from cvaegan.evaluation.faceid import FaceEmbedder, default_model_dir

    if default_model_dir() is None:
        pytest.skip("face_recognition_models is not installed")
    return FaceEmbedder()


def _people(root, n_people: int, per: int, pattern: str = "*.png") -> dict[str, np.ndarray]:
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(d.glob(pattern))[:per]
        if len(files) == per:
            out[d.name] = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
        if len(out) == n_people:
            break
    if len(out) < n_people:
        pytest.skip(f"{root}: fewer than {n_people} people with {per} images")
    return out


def _same_and_other(emb: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    names = list(emb)
    same = [np.linalg.norm(a - b) for n in names for i, a in enumerate(emb[n]) for b in emb[n][i + 1:]]
    other = [np.linalg.norm(a - b) for i, n in enumerate(names) for m in names[i + 1:] for a in emb[n] for b in emb[m]]
    return np.asarray(same), np.asarray(other)


def test_same_crop_twice_is_identical_at_any_size(embedder, test_data):
    crops = _people(test_data.joinpath(*GLINT), 1, 2)
    crop = next(iter(crops.values()))
    a, b = embedder.embed(crop), embedder.embed(crop)
    assert a.shape == (2, 128) and a.dtype == np.float32 and np.array_equal(a, b)
    small = np.stack([np.asarray(Image.fromarray(c).resize((64, 64), Image.Resampling.LANCZOS)) for c in crop])
    assert np.linalg.norm(embedder.embed(small) - a, axis=1).max() < 0.3   # a 64-px crop: still that face
    x = torch.from_numpy(crop).permute(0, 3, 1, 2).float() / 127.5 - 1     # the evaluator's callable form
    assert torch.allclose(embedder(x), torch.from_numpy(a), atol=1e-5)


def test_two_people_are_farther_apart_than_one_person(embedder, test_data):
    emb = {k: embedder.embed(v) for k, v in _people(test_data.joinpath(*GLINT), 3, 3).items()}
    same, other = _same_and_other(emb)
    assert same.mean() < other.mean()
    assert (same < embedder.threshold).mean() >= 0.75 and (other >= embedder.threshold).mean() >= 0.9


def test_lfw_photos_with_a_face_box(test_data):
    """LFW's deep-funnelled 250-px photos are not tight crops: the face box is their centre."""
    pytest.importorskip("dlib")
    from cvaegan.evaluation.faceid import FaceEmbedder

    emb = FaceEmbedder(box=(0.28, 0.28, 0.72, 0.72))
    people = _people(test_data.joinpath(*LFW), 3, 3, "*.jpg")
    same, other = _same_and_other({k: emb.embed(v) for k, v in people.items()})
    assert same.mean() < other.mean()


def test_missing_dlib_is_one_line(monkeypatch):
    from cvaegan.evaluation import faceid

    monkeypatch.setitem(sys.modules, "dlib", None)   # `import dlib` raises ImportError
    with pytest.raises(CvaeganError, match="pip install") as exc:
        faceid.FaceEmbedder()
    assert "\n" not in str(exc.value)


def test_model_paths_are_parameters(tmp_path):
    pytest.importorskip("dlib")
    from cvaegan.evaluation.faceid import PREDICTOR_FILE, FaceEmbedder, model_paths

    with pytest.raises(CvaeganError, match=PREDICTOR_FILE):
        FaceEmbedder(tmp_path)                      # a folder without the models
    (tmp_path / "p.dat").write_bytes(b"x")
    (tmp_path / "r.dat").write_bytes(b"x")
    assert model_paths(None, tmp_path / "p.dat", tmp_path / "r.dat") == (tmp_path / "p.dat", tmp_path / "r.dat")
    with pytest.raises(CvaeganError, match="could not read"):
        FaceEmbedder(predictor=tmp_path / "p.dat", recognition=tmp_path / "r.dat")
    with pytest.raises(CvaeganError, match="face box"):
        FaceEmbedder(box=(0.5, 0, 0.4, 1))


def test_leave_one_out_identification_has_known_answers():
    from cvaegan.evaluation.faceid import leave_one_out_identification

    rng = np.random.default_rng(0)
    person = np.repeat(np.arange(4), 5)
    centres = rng.normal(size=(4, 8)) * 10
    tight = centres[person] + rng.normal(size=(20, 8)) * 0.1
    assert leave_one_out_identification(tight, person) == 1.0        # four tight clusters
    noise = rng.normal(size=(20, 8))
    assert leave_one_out_identification(noise, person) < 0.6          # no structure: about chance (0.25)
    alone = np.array([0, 0, 1])                                       # a person with one image is a miss
    assert leave_one_out_identification(np.array([[0.0], [0.1], [5.0]]), alone) == 2 / 3


def test_fit_box_keeps_the_candidate_that_separates_people(monkeypatch):
    """fit_box scores every candidate on real images of known people and keeps the best one."""
    from cvaegan.evaluation import faceid

    emb = faceid.FaceEmbedder.__new__(faceid.FaceEmbedder)   # no dlib models needed for the choice
    person = np.repeat(np.arange(3), 4)
    good = np.eye(3)[person] * 5.0
    bad = np.random.default_rng(1).normal(size=(12, 3))
    boxes = ((0.0, 0.0, 1.0, 1.0), (0.2, 0.2, 0.8, 0.8))
    monkeypatch.setattr(faceid.FaceEmbedder, "__call__",
                        lambda self, x: torch.from_numpy(good if self.box == boxes[1] else bad))
    rec = emb.fit_box(torch.zeros(12, 3, 8, 8), person, candidates=boxes)
    assert emb.box == boxes[1] and rec["box"] == list(boxes[1])
    assert [c["leave_one_out_identification"] for c in rec["candidates"]][1] == 1.0
