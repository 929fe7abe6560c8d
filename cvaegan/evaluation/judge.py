"""The judge: an independent classifier trained on real images, used to score generated ones.

§5.2 scores generated faces with a face classifier trained on the real data (top-1 accuracy) and
an Inception-style score from a classifier. No pretrained weights can be downloaded, so the judge
is our own, and deliberately NOT the model's C: a model's C has been trained alongside its G (and
G has been trained to please it), so it would grade its own homework. The judge is a small ResNet
(a different architecture from C's AlexNet layout), trained from scratch with its own seed.

Held-out images: when the dataset's manifest records a split, its "test" items are held out;
otherwise a seeded per-class split (`--heldout` of each class) is drawn. Either way the held-out
files are listed in the judge checkpoint, so `cvaegan evaluate` scores real images the judge never
saw, whatever DATA path it is given later.

Two kinds of judge share the network body (`JudgeNet`), the split and the file format:

- "class" (the default): softmax over the dataset's classes; `cvaegan evaluate` scores generated
  images with its top-1 and its features.
- "attributes" (`--attributes Smiling,Eyeglasses,…`): one sigmoid output per chosen binary target
  of the manifest (`"targets": {"names": [...]}`), trained with BCE-with-logits because attributes
  are independent labels, not mutually exclusive classes. It reads whether each attribute is on in
  an edited image (edit success, and that the others stayed put) and gives features for an
  identity distance. Rare attributes (Eyeglasses: ~6 % of CelebA) are weighted by the train split's
  negatives/positives (`pos_weight`), so that a judge answering "never" cannot look good; its
  metrics report balanced accuracy (mean of TPR and TNR) and the base rate next to plain accuracy,
  which for a rare attribute says little.

Checkpoint (a plain dict; `torch.load(..., weights_only=True)` reads it; written atomically)::

    {"format": "cvaegan-judge", "version": 2, "kind": "class"|"attributes",
     "config": JudgeConfig, "class_names": [the dataset's classes],
     "attribute_names": [...], "threshold": 0.5,                  # attributes kind only
     "state_dict": {...}, "split": {"source": "manifest"|"seeded", "seed", "fraction",
     "heldout": [relative paths], "train": [relative paths]}, "train": {...options...},
     "metrics": {"train_acc", "heldout_acc", ...}                       # class kind
              | {"heldout": {name: {"accuracy", "balanced_accuracy", "base_rate", "tpr", "tnr"}},
                 "train": {...}, "heldout_mean_balanced_accuracy", ...},  # attributes kind
     "meta": {...}}

Version 1 files (before the attributes kind) have no "kind" and are read as class judges.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import Tensor, nn

from cvaegan import __version__
from cvaegan.data.dataset import ImageCache, build_cache, may_flip
from cvaegan.data.images import from_hwc_uint8
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.checkpoint_io import load_weights_only, torch_save_atomic
from cvaegan.runtime.device import configure, resolve_device
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import check_out_file, record_path
from cvaegan.runtime.progress import make_progress

JUDGE_FORMAT = "cvaegan-judge"
JUDGE_VERSION = 2
READABLE_VERSIONS = (1, 2)   # version 1: class judges only, no "kind"
JUDGE_KINDS = ("class", "attributes")
ATTRIBUTE_THRESHOLD = 0.5    # an attribute is "on" when its probability is at least this


# --------------------------------------------------------------------------- network

@dataclass
class JudgeConfig:
    """`width` = channels of the first stage; stages double it up to 4×. log2(R/4) stride-2 stages
    take any resolution to a 4×4 map; the feature is its global average (4·width numbers).

    `num_classes` is the number of outputs: classes for a "class" judge, attributes for an
    "attributes" judge (the name is kept so that version-1 configs load unchanged)."""

    num_classes: int
    resolution: int = 32
    width: int = 32
    kind: str = "class"

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"judge resolution must be a power of two ≥ 8, got {self.resolution}")
        if self.kind not in JUDGE_KINDS:
            raise ValueError(f"judge kind must be one of {', '.join(JUDGE_KINDS)}, got {self.kind!r}")
        if self.kind == "class" and self.num_classes < 2:
            raise ValueError("a class judge needs at least 2 classes")
        if self.kind == "attributes" and self.num_classes < 1:
            raise ValueError("an attribute judge needs at least 1 attribute")
        if self.width < 4:
            raise ValueError("judge width must be ≥ 4")


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.skip(x))


class JudgeNet(nn.Module):
    """Small pre-activation-free ResNet: stem → [block(stride 2)] × log2(R/4) → GAP → FC."""

    def __init__(self, cfg: JudgeConfig):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        n_stages = int(math.log2(cfg.resolution // 4))
        chans = [w * min(2**i, 4) for i in range(n_stages)]
        blocks, cin = [], w
        for cout in chans:
            blocks.append(_Block(cin, cout, 2))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.feature_dim = cin
        self.fc = nn.Linear(cin, cfg.num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x in [-1, 1] at the judge's resolution → (logits, feature)."""
        feature = self.blocks(self.stem(x)).mean((2, 3))
        return self.fc(feature), feature


@torch.no_grad()
def _forward_all(net: JudgeNet, images: Tensor, batch_size: int,
                 progress: Callable[[int], None] | None) -> tuple[Tensor, Tensor]:
    """Logits and features (on the CPU, float32) of images in [-1, 1], in eval mode, in batches,
    resized to the judge's resolution; the net's train/eval mode is restored afterwards."""
    device = next(net.parameters()).device
    was = net.training
    net.eval()
    logits, feats = [], []
    try:
        for i in range(0, images.shape[0], batch_size):
            x = fit_resolution(images[i:i + batch_size].to(device).float(), net.cfg.resolution)
            out, f = net(x)
            logits.append(out.float().cpu())
            feats.append(f.float().cpu())
            if progress is not None:
                progress(min(i + batch_size, images.shape[0]))
    finally:
        net.train(was)
    if not logits:
        return torch.zeros(0, net.cfg.num_classes), torch.zeros(0, net.feature_dim)
    return torch.cat(logits), torch.cat(feats)


def _kind_error(what: str, found: str, wanted: str) -> CvaeganError:
    article = {"class": "a class", "attributes": "an attribute"}
    hint = ("`cvaegan judge train DATA --attributes NAMES`" if wanted == "attributes"
            else "`cvaegan judge train DATA` (without --attributes)")
    return CvaeganError(f"{what} is {article.get(found, repr(found))} judge; this needs {article[wanted]} judge: "
                        f"train one with {hint}")


def _require_kind(net: JudgeNet, kind: str, what: str) -> None:
    if net.cfg.kind != kind:
        raise _kind_error(f"the judge given for {what}", net.cfg.kind, kind)


def judge_outputs(net: JudgeNet, images: Tensor, batch_size: int = 256,
                  progress: Callable[[int], None] | None = None) -> tuple[Tensor, Tensor]:
    """Class probabilities (N, K) and features (N, d) of images in [-1, 1] (N, 3, H, W), resized
    (antialiased bilinear) to the judge's resolution when they differ. Returned on the CPU.

    Class judges only: a softmax over an attribute judge's independent outputs would be a
    plausible-looking but meaningless "top-1", so that is refused (see `attribute_outputs`)."""
    _require_kind(net, "class", "class probabilities")
    logits, feats = _forward_all(net, images, batch_size, progress)
    return torch.softmax(logits, 1), feats


def attribute_outputs(net: JudgeNet, images: Tensor, batch_size: int = 256,
                      progress: Callable[[int], None] | None = None) -> tuple[Tensor, Tensor]:
    """Per-attribute probabilities (N, D) (sigmoid, independent) and features (N, d) of images in
    [-1, 1] (N, 3, H, W) from an attribute judge, in one pass; resized like `judge_outputs`. CPU.
    Column j is `ckpt["attribute_names"][j]`; "on" means ≥ `ATTRIBUTE_THRESHOLD`."""
    _require_kind(net, "attributes", "attribute probabilities")
    logits, feats = _forward_all(net, images, batch_size, progress)
    return torch.sigmoid(logits), feats


def attribute_probabilities(net: JudgeNet, images: Tensor, batch_size: int = 256,
                            progress: Callable[[int], None] | None = None) -> Tensor:
    """Per-attribute probabilities (N, D) of images in [-1, 1] (see `attribute_outputs`)."""
    return attribute_outputs(net, images, batch_size, progress)[0]


def judge_features(net: JudgeNet, images: Tensor, batch_size: int = 256,
                   progress: Callable[[int], None] | None = None) -> Tensor:
    """Features (N, d) of images in [-1, 1] from a judge of either kind (the global average of its
    last stage, before the output layer): the space for an identity or Fréchet distance."""
    return _forward_all(net, images, batch_size, progress)[1]


def fit_resolution(x: Tensor, resolution: int) -> Tensor:
    """x (N, 3, H, W) resized (antialiased bilinear) to resolution² when it differs."""
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)


# --------------------------------------------------------------------------- attributes

def select_attributes(available: Sequence[str] | None, wanted: str | Sequence[str],
                      data: str | os.PathLike[str] = "DATA") -> list[int]:
    """Columns of the dataset's targets named by `wanted`: "all", "A,B,…" or a list of names.

    One-line CvaeganError for a dataset without targets, an unknown name (with the close names it
    may have meant), a repeated name or an empty list."""
    if not available:
        raise CvaeganError(f"{data}: the dataset has no per-item targets (its dataset.json declares no "
                           "\"targets\"), so there are no attributes to judge; drop --attributes")
    names = _spec_names(wanted)
    if names == ["all"]:
        return list(range(len(available)))
    if not names:
        raise CvaeganError("--attributes is empty; give comma-separated names or 'all'")
    cols: list[int] = []
    for name in names:
        if name not in available:
            lower = {a.lower(): a for a in available}  # "smiling" → "Smiling"
            close = [lower[c] for c in difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)]
            shown = (f"did you mean {', '.join(close)}?" if close else
                     f"it has {len(available)}: " + ", ".join(available[:8]) + (", …" if len(available) > 8 else ""))
            raise CvaeganError(f"{data}: no attribute '{name}'; {shown}")
        col = list(available).index(name)
        if col in cols:
            raise CvaeganError(f"--attributes names '{name}' twice")
        cols.append(col)
    return cols


def _spec_names(wanted: str | Sequence[str]) -> list[str]:
    parts = [wanted] if isinstance(wanted, str) else list(wanted)
    return [n.strip() for part in parts for n in part.split(",") if n.strip()]


def _is_all(wanted: str | Sequence[str] | None) -> bool:
    return wanted is not None and _spec_names(wanted) == ["all"]


def attribute_metrics(probs: Tensor, targets: Tensor, names: Sequence[str],
                      threshold: float = ATTRIBUTE_THRESHOLD) -> dict[str, dict[str, float | None]]:
    """Per attribute: accuracy, balanced accuracy (mean of TPR and TNR), base rate (fraction on),
    TPR and TNR of probabilities (N, D) thresholded at `threshold` against 0/1 targets (N, D).

    Plain accuracy of a rare attribute is close to 1 − base rate for a judge that always says
    "off"; balanced accuracy is 0.5 for it. TPR/TNR (and so balanced accuracy) are None when the
    targets hold no positives/negatives of that attribute."""
    pred = probs >= threshold
    truth = targets >= 0.5
    out: dict[str, dict[str, float | None]] = {}
    for j, name in enumerate(names):
        p, t = pred[:, j], truth[:, j]
        n_pos, n_neg = int(t.sum()), int((~t).sum())
        tpr = float((p & t).sum()) / n_pos if n_pos else None
        tnr = float((~p & ~t).sum()) / n_neg if n_neg else None
        out[name] = {"accuracy": float((p == t).double().mean()) if len(t) else None,
                     "balanced_accuracy": (tpr + tnr) / 2 if tpr is not None and tnr is not None else None,
                     "base_rate": n_pos / len(t) if len(t) else None, "tpr": tpr, "tnr": tnr}
    return out


def mean_metric(metrics: dict[str, dict[str, float | None]], key: str) -> float | None:
    """Mean of one metric over the attributes where it is defined (None when it is nowhere)."""
    vals = [m[key] for m in metrics.values() if m.get(key) is not None]
    return float(np.mean(vals)) if vals else None


# --------------------------------------------------------------------------- split

@dataclass
class Split:
    source: str              # "manifest" or "seeded"
    train: list[int]         # rows of the image cache
    heldout: list[int]


def cache_files(cache: ImageCache) -> list[Path]:
    """The file of each row of the cache (the index minus the files that failed to decode)."""
    skipped = {s[0] for s in cache.skipped}
    files = [f for f in cache.index.files if str(f) not in skipped]
    if len(files) != len(cache):
        raise CvaeganError(f"{cache.index.root}: the image cache does not match the dataset index; "
                           "remove the cache folder and retry")
    return files


def cache_splits(cache: ImageCache) -> list[str | None]:
    skipped = {s[0] for s in cache.skipped}
    splits = cache.index.splits or [None] * len(cache.index.files)
    return [s for f, s in zip(cache.index.files, splits) if str(f) not in skipped]


def relative_names(cache: ImageCache) -> list[str]:
    """Each row's file relative to the dataset root (POSIX), the key the split is recorded by."""
    root = Path(cache.index.root).resolve()
    return [Path(os.path.relpath(Path(f).resolve(), root)).as_posix() for f in cache_files(cache)]


def make_split(cache: ImageCache, fraction: float, seed: int) -> Split:
    """The manifest's "test" items when it records a split, else `fraction` of every class (at
    least one image of each class that has two or more), drawn with `seed`.

    Attribute judges use the same split (one rule for both kinds; CelebA's manifest split also
    keeps the test identities out of training). A seeded split is per class, so the held-out
    images are other photos of people the judge trained on."""
    splits = cache_splits(cache)
    if any(s == "test" for s in splits):
        held = [i for i, s in enumerate(splits) if s == "test"]
        return Split("manifest", [i for i, s in enumerate(splits) if s != "test"], held)
    if not 0 < fraction < 1:
        raise CvaeganError(f"--heldout must be in (0, 1), got {fraction}")
    gen = torch.Generator().manual_seed(seed)
    labels = torch.from_numpy(np.asarray(cache.labels))
    train, held = [], []
    for k in range(len(cache.class_names)):
        rows = torch.nonzero(labels == k).flatten()
        rows = rows[torch.randperm(len(rows), generator=gen)].tolist()
        n_held = 0 if len(rows) < 2 else min(len(rows) - 1, max(1, round(fraction * len(rows))))
        held += rows[:n_held]
        train += rows[n_held:]
    return Split("seeded", sorted(train), sorted(held))


def heldout_rows(cache: ImageCache, judge_ckpt: dict[str, Any]) -> list[int]:
    """Rows of `cache` that the judge held out (matched by path relative to the dataset root)."""
    wanted = set(judge_ckpt["split"]["heldout"])
    rows = [i for i, name in enumerate(relative_names(cache)) if name in wanted]
    if not rows:
        raise CvaeganError(f"{cache.index.root}: none of the judge's {len(wanted)} held-out images are in this "
                           "dataset; pass the DATA the judge was trained on")
    return rows


# --------------------------------------------------------------------------- training

@dataclass
class JudgeTrainOptions:
    data: Path
    out: Path | None = None          # default: judges/<data>-<resolution>[-attributes].pt
    resolution: int = 32
    width: int = 32
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    heldout: float = 0.1
    seed: int = 0
    device: str = "auto"
    workers: int = 2
    cache_dir: Path | None = None
    # None: a class judge. "all", "Smiling,Eyeglasses" or a list of target names: an attribute judge.
    attributes: str | Sequence[str] | None = None
    # Attribute judges: weight each attribute's positives by negatives/positives of the train split
    # (BCE pos_weight, clipped to [0.01, 100]) so that rare attributes are learnt, not ignored.
    balance: bool = True


@dataclass
class JudgeTrainResult:
    """`train_acc`/`heldout_acc`: top-1 of a class judge; for an attribute judge the mean of the
    per-attribute accuracies (see `heldout_attributes` for balanced accuracy and base rates)."""

    path: Path
    train_acc: float
    heldout_acc: float
    n_train: int
    n_heldout: int
    split_source: str
    seconds: float
    kind: str = "class"
    attribute_names: list[str] | None = None
    train_attributes: dict[str, dict[str, float | None]] | None = None
    heldout_attributes: dict[str, dict[str, float | None]] | None = None


def to_float(images: np.ndarray, rows: list[int] | None = None) -> Tensor:
    """uint8 (N, R, R, 3) cache rows → float (N, 3, R, R) in [-1, 1]."""
    return from_hwc_uint8(images if rows is None else images[np.asarray(rows, dtype=np.int64)])


def _u8_to_float(x: Tensor) -> Tensor:
    """uint8 (N, R, R, 3) → float (N, 3, R, R) in [-1, 1], on x's device."""
    return from_hwc_uint8(x).contiguous()


def augment(x: Tensor, gen: torch.Generator, flip: bool = True) -> Tensor:
    """Random horizontal flip (unless `flip` is False) and a random shift of up to R/8 pixels
    (reflect padding), per image. Faces are roughly aligned, so this is mild on purpose. (Face
    attributes such as CelebA's do not depend on left/right, so the flip is safe for attribute
    judges too; characters are not mirror-symmetric, and their manifests say `"flip": false`.)"""
    b, _, r, _ = x.shape
    pad = max(1, r // 8)
    if flip:
        mirror = torch.rand(b, generator=gen, device=x.device) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=x.device)
    base = torch.arange(r, device=x.device)
    rows = (dy[:, None] + base)[:, :, None]          # (b, r, 1)
    cols = (dx[:, None] + base)[:, None, :]          # (b, 1, r)
    bidx = torch.arange(b, device=x.device)[:, None, None]
    return xp.permute(0, 2, 3, 1)[bidx, rows, cols].permute(0, 3, 1, 2).contiguous()


def default_judge_path(data: Path, resolution: int, kind: str = "class") -> Path:
    """judges/<data>-<R>.pt, or judges/<data>-<R>-attributes.pt (the two kinds never overwrite
    each other by default)."""
    name = Path(data).resolve().name
    if name == "dataset.json":
        name = Path(data).resolve().parent.name
    return Path("judges") / f"{name}-{resolution}{'-attributes' if kind == 'attributes' else ''}.pt"


@dataclass
class _Targets:
    """What one kind of judge learns: targets of the train rows, its loss, its hit count."""

    kind: str
    names: list[str]                  # outputs: classes or attributes
    all_rows: Tensor                  # (N,) int64 labels or (N, D) float 0/1 of every cache row
    pos_weight: Tensor | None = None  # attributes with `balance`

    def loss(self, logits: Tensor, y: Tensor) -> Tensor:
        if self.kind == "class":
            return F.cross_entropy(logits, y)
        return F.binary_cross_entropy_with_logits(logits, y, pos_weight=self.pos_weight)

    def hits(self, logits: Tensor, y: Tensor) -> Tensor:
        """Correct answers summed over the batch (attributes: the fraction right per image)."""
        if self.kind == "class":
            return (logits.argmax(1) == y).sum()
        return ((logits >= 0) == (y >= 0.5)).float().mean(1).sum()  # logit ≥ 0 ⇔ p ≥ 0.5


def _attribute_targets(cache: ImageCache, opts: JudgeTrainOptions, split: Split, device: torch.device,
                       console: Console) -> _Targets:
    """The chosen 0/1 target columns. Attributes constant over the train split cannot be learnt:
    named ones are an error; with "all" they are left out, with a note."""
    available = cache.index.target_names
    assert opts.attributes is not None
    cols = select_attributes(available, opts.attributes, opts.data)
    assert available is not None and cache.targets is not None
    names = [available[c] for c in cols]
    y = np.asarray(cache.targets, dtype=np.float32)[:, cols]
    bad = [n for j, n in enumerate(names) if not np.isin(y[:, j], (0.0, 1.0)).all()]
    if bad:
        raise CvaeganError(f"{opts.data}: attribute(s) {', '.join(bad[:5])} hold values other than 0 and 1; "
                           "an attribute judge needs binary targets")
    pos = y[split.train].sum(0)
    neg = len(split.train) - pos
    constant = [j for j in range(len(names)) if pos[j] == 0 or neg[j] == 0]
    if constant:
        said = ", ".join(f"{names[j]} ({'never' if pos[j] == 0 else 'always'} on)" for j in constant[:5])
        if not _is_all(opts.attributes) or len(constant) == len(names):
            raise CvaeganError(f"{opts.data}: {said} in the {len(split.train)} training images: a judge cannot "
                               "learn that; leave it out of --attributes")
        console.print(f"[yellow]note:[/] left out {len(constant)} attribute(s) constant in the training images: "
                      f"{said}")
        keep = [j for j in range(len(names)) if j not in constant]
        names, y, pos, neg = [names[j] for j in keep], y[:, keep], pos[keep], neg[keep]
    pw = torch.from_numpy(np.clip(neg / pos, 0.01, 100.0).astype(np.float32)).to(device) if opts.balance else None
    return _Targets("attributes", names, torch.from_numpy(y), pw)


def train_judge(opts: JudgeTrainOptions, console: Console | None = None) -> JudgeTrainResult:
    """Train the judge on the train rows of DATA, score it on the held-out rows, save it.

    A class judge without `opts.attributes`, else an attribute judge (see the module docstring)."""
    console = console or Console(stderr=True)
    if opts.epochs < 1 or opts.batch_size < 2:
        raise CvaeganError("--epochs must be ≥ 1 and --batch-size ≥ 2")
    kind = "class" if opts.attributes is None else "attributes"
    path = Path(opts.out) if opts.out else default_judge_path(opts.data, opts.resolution, kind)
    record_file = record_path(check_out_file(path))  # before decoding anything
    if kind == "attributes":  # a wrong name is reported before any image is decoded
        from cvaegan.data.manifest import index_dataset

        select_attributes(index_dataset(opts.data).target_names, opts.attributes, opts.data)
    device = resolve_device(opts.device)
    configure(device)
    torch.manual_seed(opts.seed)
    with make_progress(console, transient=True) as prog:
        task = prog.add_task("decoding images", total=None, info="")
        cache = build_cache(opts.data, opts.resolution, workers=opts.workers, cache_dir=opts.cache_dir,
                            split=None, progress=lambda i, n: prog.update(task, completed=i, total=n))
    split = make_split(cache, opts.heldout, opts.seed)
    if len(split.train) < 2 or not split.heldout:
        raise CvaeganError(f"{opts.data}: too few images to hold some out ({len(cache)} images)")
    if kind == "attributes":
        tg = _attribute_targets(cache, opts, split, device, console)
    else:
        tg = _Targets("class", list(cache.class_names), torch.from_numpy(np.asarray(cache.labels)))
    try:
        cfg = JudgeConfig(num_classes=len(tg.names), resolution=opts.resolution, width=opts.width, kind=kind)
    except ValueError as exc:
        raise CvaeganError(str(exc)) from exc
    # uint8 on the device (a quarter of float32's memory: 80k 128-px images fit in 4 GB), converted per batch
    u8_train = torch.from_numpy(np.ascontiguousarray(cache.images[np.asarray(split.train)])).to(device)
    y_train = tg.all_rows[split.train].to(device)
    net = JudgeNet(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    bs = min(opts.batch_size, len(split.train))
    steps_per_epoch = max(1, len(split.train) // bs)
    total = opts.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opts.lr, total_steps=total, pct_start=0.15)
    flip = may_flip(cache)
    gen_cpu = torch.Generator().manual_seed(opts.seed)
    gen_dev = torch.Generator(device=device).manual_seed(opts.seed + 1)
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    net.train()
    with make_progress(console) as prog:
        task = prog.add_task("training judge", total=total, info="")
        for epoch in range(opts.epochs):
            order = torch.randperm(len(split.train), generator=gen_cpu).to(device)
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device)
            for s in range(steps_per_epoch):
                idx = order[s * bs:(s + 1) * bs]
                x, y = augment(_u8_to_float(u8_train[idx]), gen_dev, flip), y_train[idx]
                logits, _ = net(x)
                loss = tg.loss(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach() * len(idx)
                correct += tg.hits(logits.detach(), y)
                prog.update(task, advance=1)
            seen = steps_per_epoch * bs
            rec = {"epoch": epoch + 1, "loss": float(loss_sum) / seen, "train_acc_augmented": float(correct) / seen}
            history.append(rec)
            prog.update(task, info=f"loss {rec['loss']:.3f}  acc {rec['train_acc_augmented']:.0%}")
    seconds = time.perf_counter() - t0
    logits_tr = torch.cat([_forward_all(net, _u8_to_float(u8_train[i:i + 4096]), 256, None)[0]
                           for i in range(0, len(u8_train), 4096)])
    del u8_train
    logits_he, _ = _forward_all(net, to_float(cache.images, split.heldout), 256, None)
    y_tr, y_he = tg.all_rows[split.train], tg.all_rows[split.heldout]
    names = relative_names(cache)
    train_opts: dict[str, Any] = {"epochs": opts.epochs, "batch_size": bs, "lr": opts.lr,
                                  "weight_decay": opts.weight_decay, "seed": opts.seed,
                                  "augment": "flip + shift ≤ R/8" if flip else "shift ≤ R/8 (manifest: no flip)",
                                  "flip": flip, "history": history}
    extra: dict[str, Any] = {}
    if kind == "class":
        train_acc = float((logits_tr.argmax(1) == y_tr).double().mean())
        heldout_acc = float((logits_he.argmax(1) == y_he).double().mean())
        m_tr = m_he = None
        metrics: dict[str, Any] = {"train_acc": train_acc, "heldout_acc": heldout_acc, "n_train": len(split.train),
                                   "n_heldout": len(split.heldout), "chance": 1.0 / len(cache.class_names)}
    else:
        m_tr = attribute_metrics(torch.sigmoid(logits_tr), y_tr, tg.names)
        m_he = attribute_metrics(torch.sigmoid(logits_he), y_he, tg.names)
        train_acc, heldout_acc = mean_metric(m_tr, "accuracy") or 0.0, mean_metric(m_he, "accuracy") or 0.0
        metrics = {"heldout": m_he, "train": m_tr,
                   "heldout_mean_balanced_accuracy": mean_metric(m_he, "balanced_accuracy"),
                   "train_mean_balanced_accuracy": mean_metric(m_tr, "balanced_accuracy"),
                   "heldout_mean_accuracy": heldout_acc, "train_mean_accuracy": train_acc,
                   "n_train": len(split.train), "n_heldout": len(split.heldout), "threshold": ATTRIBUTE_THRESHOLD}
        extra = {"attribute_names": tg.names, "threshold": ATTRIBUTE_THRESHOLD}
        train_opts.update(loss="bce-with-logits", balance=opts.balance,
                          pos_weight=(dict(zip(tg.names, tg.pos_weight.cpu().tolist()))
                                      if tg.pos_weight is not None else None))
    ckpt = {
        "format": JUDGE_FORMAT, "version": JUDGE_VERSION, "kind": kind, "config": asdict(cfg),
        "class_names": list(cache.class_names), **extra,
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "split": {"source": split.source, "seed": opts.seed, "fraction": opts.heldout,
                  "heldout": [names[i] for i in split.heldout], "train": [names[i] for i in split.train]},
        "train": train_opts,
        "metrics": metrics,
        "meta": {"cvaegan": __version__, "torch": str(torch.__version__), "python": platform.python_version(),
                 "device": str(device), "data": str(Path(opts.data).resolve()), "seconds": round(seconds, 2),
                 "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")},
    }
    torch_save_atomic(path, ckpt)
    atomic_write_json(record_file, {
        "command": "judge train", "judge": str(path), "kind": kind, "data": ckpt["meta"]["data"],
        "config": ckpt["config"], "train": ckpt["train"], "metrics": ckpt["metrics"], "split_source": split.source,
        "classes": ckpt["class_names"], **({"attributes": tg.names} if kind == "attributes" else {}),
        "meta": ckpt["meta"]})
    return JudgeTrainResult(path, train_acc, heldout_acc, len(split.train), len(split.heldout), split.source,
                            seconds, kind, tg.names if kind == "attributes" else None, m_tr, m_he)


# --------------------------------------------------------------------------- loading

def judge_kind(ckpt: dict[str, Any]) -> str:
    """"class" or "attributes" for a judge checkpoint dict (version-1 files are class judges)."""
    return str(ckpt.get("kind", "class"))


def load_judge(path: str | os.PathLike[str], device: torch.device | str = "cpu",
               kind: str | None = None) -> tuple[JudgeNet, dict[str, Any]]:
    """Read a judge checkpoint (weights_only) of either kind, version 1 or 2, and rebuild the
    network in eval mode. Returns (net, checkpoint dict); the dict always has "kind" (set to
    "class" for version-1 files). `kind`, when given, refuses a judge of the other kind with one
    line, so that a command finds out before it generates anything."""
    path = Path(path)
    if not path.is_file():
        raise CvaeganError(f"{path}: no such judge file; train one with `cvaegan judge train DATA`")
    obj = load_weights_only(path, "judge checkpoint")
    if isinstance(obj, dict) and obj.get("format") == "cvaegan-checkpoint":
        raise CvaeganError(f"{path} is a cvaegan model checkpoint, not a judge; train a judge with "
                           "`cvaegan judge train DATA`")
    if not isinstance(obj, dict) or obj.get("format") != JUDGE_FORMAT:
        raise CvaeganError(f"{path}: not a cvaegan judge checkpoint")
    if obj.get("version") not in READABLE_VERSIONS:
        raise CvaeganError(f"{path}: judge format version {obj.get('version')!r}; this cvaegan reads "
                           f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    try:
        found = judge_kind(obj)
        cfg = JudgeConfig(**obj["config"])
        if obj["version"] == 1 and (found != "class" or cfg.kind != "class"):
            raise ValueError("a version-1 judge can only be a class judge")
        if cfg.kind != found:
            raise ValueError(f"kind {found!r} but its config says {cfg.kind!r}")
        if found == "attributes":
            names = obj["attribute_names"]
            if (not isinstance(names, list) or len(names) != cfg.num_classes
                    or not all(isinstance(n, str) for n in names)):
                raise ValueError(f"attribute_names must be {cfg.num_classes} strings")
        net = JudgeNet(cfg)
        net.load_state_dict(obj["state_dict"])
        for key in ("class_names", "split"):
            obj[key]  # noqa: B018 — presence check
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CvaeganError(f"{path}: judge checkpoint is damaged ({_first_line(exc)})") from exc
    obj["kind"] = found
    if kind is not None and found != kind:
        raise _kind_error(str(path), found, kind)
    return net.to(device).eval(), obj


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
