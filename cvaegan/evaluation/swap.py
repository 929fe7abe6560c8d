"""`cvaegan evaluate` for an identity-swap model (open-set synthesis, Bao et al., CVPR 2018): does
x' = swap(x_s, x_a) show person s with the pose, expression and light of photo a, for people the
model never saw?

Scored on the dataset's `test` items, whose people (in an open-set dataset: the demo's
`heldout_identities`, `benchmarks/swap.py`'s identity-disjoint split) never appear in training. A
seeded set of pairs (s, a) of test images of two different people (s drawn without repetition
while it can be), each person with at least two scored test images. Beside every number its two
floors, the images a model that does nothing would return: "copy the identity source" (x' := x_s:
perfect identity, no transfer) and "copy the attributes source" (x' := x_a: perfect transfer, the
wrong person).

  identity        an embedding E of x' against a gallery: each test person's mean embedding over
                  their scored test images, the pair's own s and a images left out (else copying
                  x_s would find itself). identification: share of pairs whose nearest gallery
                  person is s's (chance 1 / #people); verification: share with d(E(x'), s-person)
                  below the threshold; false accept: share with d(E(x'), a-person) below it. With a
                  classifier that knows the test people (a judge trained on them), also its top-1
                  among the test people.
  attributes      5-point landmark agreement of x' with x_a (SCRFD, `prepare/detect.py`): mean
                  landmark distance over x_a's inter-ocular distance, beside the same for pasting
                  x_s unchanged (x_s vs x_a); pairs where any of the three has no detected face are
                  left out (the detection rates are recorded). Skipped, with the reason, without a
                  detector. Aligned crops share the template's landmarks, so this mostly measures
                  residual pose and the mouth.
  the model's I   where the model has an identity encoder (`identity(x)`, openset's f_I): how well
                  it tells the unseen people apart on their real photos (leave-one-out
                  identification by I's feature, beside the same for the embedding above), and
                  how often I itself identifies the swap as s. It separates the two ways a swap
                  can lose s: I does not describe new people (its own identification of real
                  photos is low), or G does not draw what I describes (I reads the swaps as s,
                  the independent embedding does not).
  ground truth    on the demo cartoons (manifest kind "synthetic-faces"): PSNR / SSIM of x' against
                  `render_swap(manifest, class of s, item of a)`, the exact face, and of both
                  floors against it.

The embedding is a callable, images in [-1, 1] (N, 3, R, R) → (N, F), because no single one fits
both kinds of data: on real faces dlib's face-recognition network (`faceid.FaceEmbedder`,
threshold 0.6), trained on millions of other people's photos, is independent of everything here;
on the cartoons dlib sees no face, so the project's judge (`cvaegan judge train`) serves: its
features, and its top-1 when it was trained on (other images of) the test people. A callable's
`threshold` attribute is its same-person distance; without one the threshold is calibrated on the
real test images (the equal-error point of leave-one-out distances to one's own person against
distances to other people), and the record says which.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor

from cvaegan import __version__
from cvaegan.data.dataset import ImageCache, build_cache
from cvaegan.data.images import from_hwc_uint8, save_grid, to_hwc_uint8
from cvaegan.evaluation.fidelity import reconstruction_quality
from cvaegan.evaluation.judge import JudgeNet, cache_files, cache_splits, judge_outputs, load_judge, relative_names, \
    to_float
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.progress import make_progress
from cvaegan.session import Session

ROWS = ("swap", "copy_identity", "copy_attributes")
ROW_LABELS = {"swap": "swap x'", "copy_identity": "copy identity source (x_s)",
              "copy_attributes": "copy attributes source (x_a)"}
ROW_NOTE = ("swap = model.swap(x_s, x_a); the floors: x' := x_s (identity kept, nothing transferred) and "
            "x' := x_a (everything transferred, the wrong person)")
PROTOCOL = ("test-split (unseen) people; seeded pairs (s, a) of test images of two different people, each with ≥ 2 "
            "scored test images; gallery = each test person's mean embedding over their scored test images, the "
            "pair's s and a images left out")
DETECT_UPSAMPLE = 128   # tight crops are enlarged to this before SCRFD (SOURCES.md: det_size 128 finds them)

Embedder = Callable[[Tensor], Tensor]


# --------------------------------------------------------------------------- pairs and identity

def swap_pairs(person: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` pairs (s, a) of indices into `person` (the person of each scored image) with
    person[s] != person[a], both of people with at least two images. s runs through a seeded
    permutation of the eligible images (repeated when n is larger); a is a seeded image of
    another eligible person."""
    person = np.asarray(person)
    people, counts = np.unique(person, return_counts=True)
    ok_people = people[counts >= 2]
    eligible = np.flatnonzero(np.isin(person, ok_people))
    if len(ok_people) < 2:
        raise CvaeganError(f"need at least two test people with two or more scored images each; found "
                           f"{len(ok_people)}")
    if n < 1:
        raise CvaeganError(f"the number of swap pairs must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    reps = -(-n // len(eligible))
    s = np.concatenate([rng.permutation(eligible) for _ in range(reps)])[:n]
    a = np.empty(n, dtype=np.int64)
    for p in np.unique(person[s]):
        mine = np.flatnonzero(person[s] == p)
        others = eligible[person[eligible] != p]
        a[mine] = others[rng.integers(0, len(others), len(mine))]
    return s.astype(np.int64), a


def _gallery(e: np.ndarray, person: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    people, inv, counts = np.unique(person, return_inverse=True, return_counts=True)
    sums = np.zeros((len(people), e.shape[1]))
    np.add.at(sums, inv, e)
    return people, sums, counts


def gallery_distances(e_out: np.ndarray, e_test: np.ndarray, person: np.ndarray, s: np.ndarray,
                      a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Distances (P, K) of each output embedding to each test person's mean embedding, where for
    pair i the mean of s's person leaves out image s[i] and that of a's person leaves out a[i].
    Returns (D, people (K,), column of s's person (P,), column of a's person (P,))."""
    e_out, e_test = np.asarray(e_out, np.float64), np.asarray(e_test, np.float64)
    people, sums, counts = _gallery(e_test, person)
    col = {p: k for k, p in enumerate(people.tolist())}
    ks = np.asarray([col[p] for p in person[s].tolist()], np.int64)
    ka = np.asarray([col[p] for p in person[a].tolist()], np.int64)
    if (counts[ks] < 2).any() or (counts[ka] < 2).any():
        raise ValueError("every s and a must be of a person with at least two images")
    means = sums / counts[:, None]
    d = np.sqrt(np.maximum(((e_out[:, None, :] - means[None]) ** 2).sum(-1), 0.0))
    idx = np.arange(len(s))
    g_s = (sums[ks] - e_test[s]) / (counts[ks] - 1)[:, None]
    g_a = (sums[ka] - e_test[a]) / (counts[ka] - 1)[:, None]
    d[idx, ks] = np.linalg.norm(e_out - g_s, axis=1)
    d[idx, ka] = np.linalg.norm(e_out - g_a, axis=1)
    return d, people, ks, ka


def identity_scores(e_out: np.ndarray, e_test: np.ndarray, person: np.ndarray, s: np.ndarray, a: np.ndarray,
                    threshold: float) -> dict[str, float]:
    """identification (nearest gallery person is s's), identified_as_attributes_person (it is a's),
    verification (distance to s's person < threshold), false_accept (distance to a's person <
    threshold) and the mean distances to both, over the pairs (module docstring)."""
    d, _, ks, ka = gallery_distances(e_out, e_test, person, s, a)
    idx = np.arange(len(s))
    nearest = d.argmin(1)
    return {"identification": float((nearest == ks).mean()),
            "identified_as_attributes_person": float((nearest == ka).mean()),
            "verification": float((d[idx, ks] < threshold).mean()),
            "false_accept": float((d[idx, ka] < threshold).mean()),
            "distance_to_identity_person": float(d[idx, ks].mean()),
            "distance_to_attributes_person": float(d[idx, ka].mean())}


def calibrated_threshold(e_test: np.ndarray, person: np.ndarray) -> dict[str, float]:
    """The equal-error threshold on real images: leave-one-out distance of each image (of a person
    with ≥ 2) to its own person's mean, against its distances to every other person's mean. Returns
    the threshold and the two error rates there."""
    e = np.asarray(e_test, np.float64)
    people, sums, counts = _gallery(e, person)
    col = np.searchsorted(people, person)
    ok = counts[col] >= 2
    means = sums / counts[:, None]
    same = np.linalg.norm(e[ok] - (sums[col[ok]] - e[ok]) / (counts[col[ok]] - 1)[:, None], axis=1)
    d = np.sqrt(np.maximum(((e[ok][:, None, :] - means[None]) ** 2).sum(-1), 0.0))
    mask = np.ones_like(d, dtype=bool)
    mask[np.arange(len(d)), col[ok]] = False
    diff = d[mask]
    if not len(same) or not len(diff):
        raise CvaeganError("too few test images to calibrate an identity threshold")
    same_s, diff_s = np.sort(same), np.sort(diff)
    cand = np.unique(np.concatenate([same_s, diff_s, [same_s[-1] + 1e-6]]))
    frr = 1.0 - np.searchsorted(same_s, cand, side="left") / len(same_s)   # same-person distance ≥ t
    far = np.searchsorted(diff_s, cand, side="left") / len(diff_s)         # other-person distance < t
    k = int(np.argmin(np.abs(frr - far) + 1e-9 * cand))
    return {"threshold": float(cand[k]), "false_reject": float(frr[k]), "false_accept": float(far[k]),
            "n_same": int(len(same)), "n_other": int(len(diff))}


def leave_one_out_identification(e: np.ndarray, person: np.ndarray) -> float:
    """Share of the images (of people with ≥ 2) whose nearest person mean, their own person's mean
    leaving the image out, is their own person: how well an embedding tells these people apart."""
    e = np.asarray(e, np.float64)
    people, sums, counts = _gallery(e, person)
    col = np.searchsorted(people, person)
    ok = counts[col] >= 2
    d = np.sqrt(np.maximum(((e[ok][:, None, :] - (sums / counts[:, None])[None]) ** 2).sum(-1), 0.0))
    own = col[ok]
    d[np.arange(len(own)), own] = np.linalg.norm(e[ok] - (sums[own] - e[ok]) / (counts[own] - 1)[:, None], axis=1)
    return float((d.argmin(1) == own).mean()) if len(own) else float("nan")


@torch.no_grad()
def own_identity_scores(net: Any, x_test: Tensor, x_out: Tensor, person: np.ndarray, s: np.ndarray,
                        a: np.ndarray, batch_size: int = 256, autocast: Any = None) -> dict[str, Any]:
    """The model's identity encoder as the embedding (module docstring, "the model's I"): its
    leave-one-out identification of the real test photos, and `identity_scores` of the swaps with
    a threshold calibrated on those photos."""
    device = _device(net)

    def identity(x: Tensor) -> Tensor:
        with autocast() if autocast is not None else contextlib.nullcontext():
            return net.identity(x.to(device))

    def embed(x: Tensor) -> np.ndarray:
        e = _embed(identity, x, batch_size, None)
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)  # compared by direction

    e_test, e_out = embed(x_test), embed(x_out)
    thr = calibrated_threshold(e_test, person)["threshold"]
    return {"identification_of_real_photos": leave_one_out_identification(e_test, person),
            "swap": identity_scores(e_out, e_test, person, s, a, thr), "threshold": thr,
            "note": "the model's own identity encoder I (direction of f_I), not independent of the model"}


# --------------------------------------------------------------------------- embedders

class JudgeEmbedder:
    """A class judge as the identity embedding: its features (N, d) of images in [-1, 1]. `proba`
    gives its class posteriors mapped to `class_names` (the dataset's classes; a class the judge
    does not know gets 0), for a top-1 among the test people."""

    threshold = None  # calibrated on the real test images

    def __init__(self, net: JudgeNet, state: dict[str, Any] | None = None, batch_size: int = 256):
        self.net, self.state, self.batch_size = net, state, batch_size
        self.name = "judge features"

    def __call__(self, x: Tensor) -> Tensor:
        return judge_outputs(self.net, x, self.batch_size)[1]

    def proba(self, x: Tensor, class_names: list[str]) -> Tensor:
        p, _ = judge_outputs(self.net, x, self.batch_size)
        names = list((self.state or {}).get("class_names") or [])
        out = torch.zeros(p.shape[0], len(class_names))
        for c, name in enumerate(class_names):
            if name in names:
                out[:, c] = p[:, names.index(name)]
        return out

    def describe(self) -> dict[str, Any]:
        st = self.state or {}
        return {"name": self.name, "threshold": None, "resolution": self.net.cfg.resolution,
                "classes": len(st.get("class_names") or []), "data": (st.get("meta") or {}).get("data"),
                "heldout_acc_at_training": (st.get("metrics") or {}).get("heldout_acc")}


def write_judge_view(data: str | os.PathLike[str], out: str | os.PathLike[str], fraction: float = 0.5,
                     seed: int = 0) -> Path:
    """A split-view dataset (OUT/dataset.json over DATA's files) of DATA's test people only, for
    a judge that knows the unseen people: of each person's test images a seeded `fraction` is
    `train` (what the judge learns them from), the rest `test` (the judge's held-out images, and
    so the only ones the swap evaluation scores: `judge_train_files` are left out). Classes are
    the test people, under their names (a person with one image goes to `train`). Returns OUT."""
    from cvaegan.data.manifest import MANIFEST_NAME, index_dataset, new_manifest

    if not 0 < fraction < 1:
        raise CvaeganError(f"the judge's share of the test images must be in (0, 1), got {fraction}")
    index = index_dataset(data)
    test = [i for i, sp in enumerate(index.splits) if sp == "test"]
    if not test:
        raise CvaeganError(f"{data}: no test split, so no unseen people to train a judge on")
    people = sorted({index.labels[i] for i in test})
    rng = np.random.default_rng(seed)
    items, classes = [], []
    for k, p in enumerate(people):
        rows = [i for i in test if index.labels[i] == p]
        rows = [rows[j] for j in rng.permutation(len(rows))]
        n_train = len(rows) if len(rows) < 2 else min(len(rows) - 1, max(1, round(fraction * len(rows))))
        classes.append({"index": k, "name": index.class_names[p], "count": len(rows)})
        items += [{"file": str(Path(index.files[i]).resolve()), "class": k,
                   "split": "train" if j < n_train else "test"} for j, i in enumerate(rows)]
    extras = {}
    if isinstance(index.manifest, dict) and "flip" in index.manifest:
        extras["flip"] = index.manifest["flip"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / MANIFEST_NAME, new_manifest(
        "identity-judge-view", classes, items, sources=[str(Path(index.root).resolve())], fraction=fraction,
        seed=seed, note="the test people of the source dataset; train = what a judge learns them from, test = "
                        "the images the swap evaluation scores", **extras))
    return out


def judge_train_files(state: dict[str, Any]) -> set[str]:
    """The absolute paths of the images a judge trained on (its split is recorded relative to the
    dataset it was trained on, `meta.data`)."""
    root = Path((state.get("meta") or {}).get("data") or ".")
    return {os.path.normpath(str(root / rel)) for rel in state["split"]["train"]}


# --------------------------------------------------------------------------- landmarks

def detect_landmarks(detector: Any, x: Tensor, upsample: int = DETECT_UPSAMPLE,
                     progress: Callable[[int], None] | None = None) -> np.ndarray:
    """5 landmarks (N, 5, 2) in pixels of x's resolution of the largest face SCRFD finds in each
    image in [-1, 1] (enlarged to `upsample` px first: tight crops); NaN where none is found."""
    from PIL import Image

    u8 = to_hwc_uint8(x.detach().float().cpu())
    out = np.full((len(u8), 5, 2), np.nan, np.float32)
    res = u8.shape[1]
    for i, im in enumerate(u8):
        big = np.asarray(Image.fromarray(im).resize((upsample, upsample), Image.Resampling.BICUBIC)) \
            if upsample != res else im
        faces = detector.detect(np.ascontiguousarray(big))
        if faces:
            out[i] = faces[0].landmarks * (res / big.shape[0])
        if progress is not None and (i % 64 == 63 or i == len(u8) - 1):
            progress(i + 1)
    return out


def landmark_error(pts: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Mean distance of 5 landmarks to the reference's, over the reference's inter-ocular distance
    (N,); NaN where either is missing."""
    iod = np.linalg.norm(ref[:, 0] - ref[:, 1], axis=1)
    return np.linalg.norm(pts - ref, axis=2).mean(1) / np.where(iod > 0, iod, np.nan)


def landmark_scores(l_out: np.ndarray, l_s: np.ndarray, l_a: np.ndarray) -> dict[str, Any]:
    """Landmark agreement of swap and of the pasted identity source with the attributes source, on
    the pairs where all three have a face (module docstring)."""
    found = [~np.isnan(v).any(axis=(1, 2)) for v in (l_out, l_s, l_a)]
    common = found[0] & found[1] & found[2]
    e_out, e_s = landmark_error(l_out, l_a), landmark_error(l_s, l_a)
    n = int(common.sum())
    return {"swap_vs_attributes": float(np.mean(e_out[common])) if n else None,
            "identity_source_vs_attributes": float(np.mean(e_s[common])) if n else None,
            "swap_vs_attributes_median": float(np.median(e_out[common])) if n else None,
            "identity_source_vs_attributes_median": float(np.median(e_s[common])) if n else None,
            "swap_closer_share": float((e_out[common] < e_s[common]).mean()) if n else None,
            "n_pairs_scored": n,
            "detected": {"swap": float(found[0].mean()), "identity_source": float(found[1].mean()),
                         "attributes_source": float(found[2].mean())}}


# --------------------------------------------------------------------------- ground truth

def swap_ground_truth(cache: ImageCache, s_rows: list[int], a_rows: list[int], res: int) -> tuple[Tensor | None, str]:
    """For the demo cartoons: the exact renders of "person of s with the attributes of a", (P, 3,
    R, R) in [-1, 1], and "" — or (None, why not) for other data."""
    manifest = cache.index.manifest
    if not isinstance(manifest, dict) or manifest.get("kind") != "synthetic-faces":
        return None, "not the demo cartoons (manifest kind synthetic-faces): no ground truth"
    from cvaegan.data import demo_faces

    render_swap = getattr(demo_faces, "render_swap", None)
    if render_swap is None:
        return None, "this cvaegan's demo_faces has no render_swap"
    by_file = {it["file"]: it for it in manifest.get("items", [])}
    rel = relative_names(cache)
    imgs = []
    for s, a in zip(s_rows, a_rows):
        it_s, it_a = by_file.get(rel[s]), by_file.get(rel[a])
        if it_s is None or it_a is None:
            return None, "the manifest does not list every scored image"
        try:
            img = render_swap(manifest, it_s["class"], it_a, res)
        except (ValueError, KeyError) as exc:
            return None, f"render_swap failed ({' '.join(str(exc).split())[:160]})"
        imgs.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    return from_hwc_uint8(np.stack(imgs)).contiguous(), ""


# --------------------------------------------------------------------------- the evaluation

@dataclass
class _Scored:
    rows: np.ndarray      # cache rows scored (test split, minus excluded files)
    person: np.ndarray    # their class (person)
    excluded: int
    open_set: bool
    overlap_people: int


def _scored_rows(cache: ImageCache, exclude_files: set[str] | None) -> _Scored:
    splits = cache_splits(cache)
    test = np.asarray([i for i, s in enumerate(splits) if s == "test"], np.int64)
    if not len(test):
        raise CvaeganError(f"{cache.index.root}: no test split; a swap model is scored on unseen people, the "
                           "manifest's `test` items (e.g. `DemoDataConfig(heldout_identities=k)` or "
                           "`benchmarks/swap.py`'s identity-disjoint split)")
    labels = np.asarray(cache.labels)
    train_people = set(labels[[i for i, s in enumerate(splits) if s != "test"]].tolist())
    test_people = set(labels[test].tolist())
    excluded = 0
    if exclude_files:
        files = [os.path.normpath(str(Path(f).resolve())) for f in cache_files(cache)]
        keep = np.asarray([files[i] not in exclude_files for i in test], dtype=bool)
        excluded = int((~keep).sum())
        test = test[keep]
    return _Scored(test, labels[test], excluded, not (train_people & test_people), len(train_people & test_people))


@torch.no_grad()
def _device(model: Any) -> torch.device:
    """Where the model's parameters are (the CPU for a model without any)."""
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def swap_all(model: Any, x_s: Tensor, x_a: Tensor, batch_size: int = 256, autocast: Any = None,
             progress: Callable[[int], None] | None = None) -> Tensor:
    """model.swap in batches on the model's device; float on the CPU."""
    device = _device(model)
    outs = []
    for i in range(0, len(x_s), batch_size):
        with autocast() if autocast is not None else contextlib.nullcontext():
            out = model.swap(x_s[i:i + batch_size].to(device), x_a[i:i + batch_size].to(device))
        outs.append(out.float().cpu())
        if progress is not None:
            progress(min(i + batch_size, len(x_s)))
    return torch.cat(outs) if outs else torch.zeros_like(x_s)


def _embed(embedder: Embedder, x: Tensor, batch_size: int, progress: Callable[[int], None] | None) -> np.ndarray:
    out = []
    for i in range(0, len(x), batch_size):
        out.append(np.asarray(torch.as_tensor(embedder(x[i:i + batch_size])).detach().float().cpu().numpy(),
                              np.float64))
        if progress is not None:
            progress(min(i + batch_size, len(x)))
    return np.concatenate(out) if out else np.zeros((0, 1))


def evaluate_swap(model: Any, cache_or_data: ImageCache | str | os.PathLike[str], embedder: Embedder, *,
                  pairs: int = 1000, seed: int = 0, batch_size: int = 256,
                  classifier: Callable[[Tensor], Tensor] | None = None, exclude_files: set[str] | None = None,
                  detector: Any = None, detector_upsample: int = DETECT_UPSAMPLE,
                  grid: str | os.PathLike[str] | None = None, cache_dir: str | os.PathLike[str] | None = None,
                  workers: int = 0, console: Console | None = None) -> dict[str, Any]:
    """Score an identity-swap model on the unseen (test-split) people of a dataset (module
    docstring). `model`: anything with `swap(x_identity, x_attributes)` (or a `Session` holding
    one: its precision is used); `cache_or_data`: an ImageCache at the model's resolution or a
    dataset folder; `embedder`: images in [-1, 1] → (N, F) identity embeddings (`threshold`
    attribute: its same-person distance, else calibrated); `classifier`: images → (N, #classes)
    posteriors over the dataset's classes, for a top-1 among the test people (only meaningful
    when it was trained on them); `exclude_files`: absolute paths never scored (the images such a
    classifier or embedder trained on); `detector`: a `prepare.detect.FaceDetector` or the path
    of an SCRFD ONNX file, for the landmark measure (None: skipped); `grid`: where to save a grid
    (rows: identity sources, attribute sources, swaps, and the ground truth when there is one)."""
    t0 = time.perf_counter()
    console = console or Console(stderr=True, quiet=True)
    session = model if isinstance(model, Session) else None
    net = session.model if session is not None else model
    autocast = session.autocast if session is not None else None
    if not hasattr(net, "swap"):
        name = getattr(getattr(getattr(net, "cfg", None), "model", None), "model", type(net).__name__)
        raise CvaeganError(f"a '{name}' model cannot swap identities; the swap evaluation needs an identity-swap "
                           "model such as openset")
    if isinstance(cache_or_data, ImageCache):
        cache = cache_or_data
    else:
        res = int(net.cfg.model.resolution)
        with make_progress(console, transient=True) as prog:
            task = prog.add_task("decoding images", total=None, info="")
            cache = build_cache(cache_or_data, res, workers=workers, cache_dir=cache_dir, split=None,
                                progress=lambda i, n: prog.update(task, completed=i, total=n))
    res = cache.resolution
    model_res = getattr(getattr(getattr(net, "cfg", None), "model", None), "resolution", res)
    if model_res != res:
        raise CvaeganError(f"the images are {res} px; the model draws {model_res} px")
    scored = _scored_rows(cache, exclude_files)
    notes: list[str] = []
    if not scored.open_set:
        notes.append(f"not open-set: {scored.overlap_people} test people also have training images")
    if scored.excluded:
        notes.append(f"{scored.excluded} test images left out: the identity embedding / classifier trained on them")
    s, a = swap_pairs(scored.person, pairs, seed)
    s_rows, a_rows = scored.rows[s].tolist(), scored.rows[a].tolist()
    people = np.unique(scored.person)
    x_test = to_float(cache.images, scored.rows.tolist())
    x_s, x_a = x_test[torch.from_numpy(s)], x_test[torch.from_numpy(a)]
    n = len(s)

    with make_progress(console) as prog:
        task = prog.add_task("swapping", total=n, info=f"{n} pairs, {len(people)} unseen people")
        x_out = swap_all(net, x_s, x_a, batch_size, autocast, lambda i: prog.update(task, completed=i))
        name = getattr(embedder, "name", type(embedder).__name__)
        task = prog.add_task("embedding", total=len(x_test) + n, info=name)
        fit = embedder.fit_box(x_test, scored.person) if hasattr(embedder, "fit_box") else None
        e_test = _embed(embedder, x_test, batch_size, lambda i: prog.update(task, completed=i))
        e_out = _embed(embedder, x_out, batch_size, lambda i: prog.update(task, completed=len(x_test) + i))
        fixed = getattr(embedder, "threshold", None)
        calib = calibrated_threshold(e_test, scored.person) if fixed is None else None
        thr = float(fixed) if fixed is not None else calib["threshold"]
        outs = {"swap": e_out, "copy_identity": e_test[s], "copy_attributes": e_test[a]}
        identity: dict[str, Any] = {key: identity_scores(outs[key], e_test, scored.person, s, a, thr) for key in ROWS}
        identity.update({"chance": 1.0 / len(people), "threshold": thr,
                         "threshold_kind": "fixed" if fixed is not None else "calibrated",
                         "threshold_source": "fixed (the embedding's own same-person distance)" if fixed is not None
                         else "calibrated: equal-error point on the real test images (leave-one-out)",
                         "calibration": calib,
                         "embedder": embedder.describe() if hasattr(embedder, "describe") else {"name": name}})
        if fit is not None:
            identity["embedder_fit"] = fit  # the face rectangle chosen on the real test images
        identity["embedder_identification_of_real_photos"] = leave_one_out_identification(e_test, scored.person)
        if hasattr(net, "identity"):
            identity["model_identity_encoder"] = own_identity_scores(net, x_test, x_out, scored.person, s, a,
                                                                     batch_size, autocast)
        if classifier is not None:
            cols = torch.from_numpy(people)
            pos = {p: k for k, p in enumerate(people.tolist())}
            want = np.asarray([pos[p] for p in scored.person[s].tolist()])
            wrong = np.asarray([pos[p] for p in scored.person[a].tolist()])
            for key, x in (("swap", x_out), ("copy_identity", x_s), ("copy_attributes", x_a)):
                top = torch.as_tensor(classifier(x)).float()[:, cols].argmax(1).numpy()
                identity[key]["top1"] = float((top == want).mean())
                identity[key]["top1_as_attributes_person"] = float((top == wrong).mean())
        if detector is not None:
            if not hasattr(detector, "detect"):
                from cvaegan.prepare.detect import FaceDetector

                detector = FaceDetector(Path(detector), threads=1)
            task = prog.add_task("landmarks", total=3 * n, info=getattr(detector, "name", ""))
            l_out = detect_landmarks(detector, x_out, detector_upsample, lambda i: prog.update(task, completed=i))
            l_s = detect_landmarks(detector, x_s, detector_upsample, lambda i: prog.update(task, completed=n + i))
            l_a = detect_landmarks(detector, x_a, detector_upsample, lambda i: prog.update(task, completed=2 * n + i))
            attributes: dict[str, Any] = {**landmark_scores(l_out, l_s, l_a),
                                          "detector": str(getattr(detector, "path", detector)),
                                          "upsample": detector_upsample,
                                          "measure": "mean 5-landmark distance over the attributes source's "
                                                     "inter-ocular distance (0 = same landmarks)"}
        else:
            attributes = {"skipped": "no face detector given (--detector PATH to an SCRFD ONNX file with keypoints)"}
        task = prog.add_task("ground truth", total=None, info="")
        truth, why = swap_ground_truth(cache, s_rows, a_rows, res)
        ground: dict[str, Any]
        if truth is not None:
            ground = {}
            for key, x in (("swap", x_out), ("copy_identity", x_s), ("copy_attributes", x_a)):
                q = reconstruction_quality(x, truth)
                ground[key] = {"psnr_db": q["psnr_db"], "ssim": q["ssim"], "mse": q["mse"]}
            ground["note"] = "against render_swap(manifest, class of s, item of a): the exact face"
        else:
            ground = {"skipped": why}
        prog.update(task, total=1, completed=1)

    manifest = cache.index.manifest if isinstance(cache.index.manifest, dict) else {}
    record: dict[str, Any] = {
        "kind": "swap", "data": str(Path(cache.index.root).resolve()), "resolution": res, "seed": seed,
        "n_pairs": n, "n_people": int(len(people)), "n_images": int(len(scored.rows)),
        "people": [cache.class_names[p] for p in people.tolist()], "open_set": scored.open_set,
        "heldout_identities": manifest.get("heldout_identities"),
        "identity": identity, "attributes": attributes, "ground_truth": ground,
        "protocol": PROTOCOL, "rows": ROW_NOTE, "notes": notes,
    }
    if grid is not None:
        shown = min(8, n)
        tiles = [x_s[:shown], x_a[:shown], x_out[:shown]] + ([truth[:shown]] if truth is not None else [])
        record["grid"] = str(save_grid(torch.cat(tiles), Path(grid), nrow=shown))
        record["grid_rows"] = ["identity source", "attributes source", "swap"] + (
            ["ground truth"] if truth is not None else [])
    record["seconds"] = round(time.perf_counter() - t0, 2)
    return record


def _is_cartoons(data: str | os.PathLike[str]) -> bool:
    from cvaegan.data.manifest import index_dataset

    m = index_dataset(data).manifest
    return isinstance(m, dict) and m.get("kind") == "synthetic-faces"


def evaluate_swap_session(session: Session, opts: Any, out: Path, console: Console) -> dict[str, Any]:
    """`cvaegan evaluate` of a model with the "swap" capability (options: `EvaluateOptions`);
    returns the record, also written to `out` (the grid beside it). The identity embedding:
    `opts.identity` "dlib", "judge" or "auto" (the judge on the demo cartoons, dlib otherwise)."""
    mode = getattr(opts, "identity", "auto") or "auto"
    if mode == "auto":
        mode = "judge" if _is_cartoons(opts.data) else "dlib"
    classifier, exclude, jstate = None, None, None
    if mode == "judge":
        if opts.judge is None:
            raise CvaeganError("the judge identity embedding needs --judge (a class judge: `cvaegan judge train`)")
        net, jstate = load_judge(opts.judge, session.device, kind="class")
        embedder: Any = JudgeEmbedder(net, jstate, opts.batch_size)
        exclude = judge_train_files(jstate)
    elif mode == "dlib":
        from cvaegan.evaluation.faceid import FaceEmbedder

        embedder = FaceEmbedder(getattr(opts, "faceid_model", None))
    else:
        raise CvaeganError(f"--identity must be auto, dlib or judge, got {mode!r}")
    res = session.resolution
    with make_progress(console, transient=True) as prog:
        task = prog.add_task("decoding images", total=None, info="")
        cache = build_cache(opts.data, res, workers=opts.workers, cache_dir=opts.cache_dir, split=None,
                            progress=lambda i, n: prog.update(task, completed=i, total=n))
    if mode == "judge":
        # a top-1 among the test people only when the judge trained on (other images of) every one of them
        train_rows = [i for i, f in enumerate(cache_files(cache))
                      if os.path.normpath(str(Path(f).resolve())) in exclude]
        splits = cache_splits(cache)
        test_people = {int(cache.labels[i]) for i, sp in enumerate(splits) if sp == "test"}
        known = {int(cache.labels[i]) for i in train_rows}
        names = set(jstate["class_names"])
        if test_people <= known and all(cache.class_names[p] in names for p in test_people):
            classifier = lambda x: embedder.proba(x, list(cache.class_names))  # noqa: E731
    detector = getattr(opts, "detector", None)
    rec = evaluate_swap(session, cache, embedder, pairs=getattr(opts, "swap_pairs", 1000), seed=opts.seed,
                        batch_size=opts.batch_size, classifier=classifier, exclude_files=exclude, detector=detector,
                        grid=out.with_suffix(".png") if opts.grid else None, console=console)
    if mode == "judge" and classifier is None:
        rec["notes"].append("no judge top-1: the judge did not train on images of every test person (its features "
                            "still serve as the identity embedding)")
    rec = {"command": "evaluate", "kind": "swap", "checkpoint": str(session.path),
           "model": session.model.cfg.model.model, "step": session.step, "precision": session.precision,
           "identity_embedding": mode, "judge": str(opts.judge) if opts.judge is not None else None, **rec}
    rec["meta"] = {"cvaegan": __version__, "torch": str(torch.__version__), "device": str(session.device),
                   "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(out, rec)
    rec["json"] = str(out)
    return rec


def swap_table(rec: dict[str, Any]) -> Table:
    """The rich table `cvaegan evaluate` prints for an identity-swap model."""
    idn, att, gt = rec["identity"], rec["attributes"], rec["ground_truth"]
    head = f"{rec.get('model', 'model')} @ step {rec.get('step', '?')}: " if "step" in rec else ""
    t = Table(title=f"{head}{rec['n_pairs']} swaps among {rec['n_people']} unseen people")
    cols = ["images", "identified as s", "as a", "verified (d < thr)", "false accept vs a"]
    has_top1 = "top1" in idn["swap"]
    has_gt = "skipped" not in gt
    if has_top1:
        cols.append("judge top-1 s")
    if has_gt:
        cols += ["PSNR to truth", "SSIM"]
    for c in cols:
        t.add_column(c, justify="left" if c == "images" else "right")
    for key in ROWS:
        r = idn[key]
        row = [ROW_LABELS[key], f"{r['identification']:.1%}", f"{r['identified_as_attributes_person']:.1%}",
               f"{r['verification']:.1%}", f"{r['false_accept']:.1%}"]
        if has_top1:
            row.append(f"{r['top1']:.1%}")
        if has_gt:
            row += [f"{gt[key]['psnr_db']:.2f} dB", f"{gt[key]['ssim']:.3f}"]
        t.add_row(*row)
    land = ("landmarks: skipped (" + att["skipped"] + ")" if "skipped" in att else
            f"landmark error to x_a: swap {_num(att['swap_vs_attributes'])} vs pasted x_s "
            f"{_num(att['identity_source_vs_attributes'])} (of inter-ocular distance; {att['n_pairs_scored']} pairs "
            f"with faces)")
    own = idn.get("model_identity_encoder")
    mine = (f". The model's own I: it identifies {own['identification_of_real_photos']:.1%} of the real "
            f"photos (the embedding {idn['embedder_identification_of_real_photos']:.1%}) and "
            f"{own['swap']['identification']:.1%} of the swaps as s." if own else "")
    t.caption = (f"identity: {idn['embedder'].get('name')}, threshold {idn['threshold']:.3f} "
                 f"({idn['threshold_kind']}); chance {idn['chance']:.1%}. {land}{mine}")
    return t


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"
