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

Checkpoint (a plain dict; `torch.load(..., weights_only=True)` reads it; written atomically)::

    {"format": "cvaegan-judge", "version": 1, "config": JudgeConfig, "class_names": [...],
     "state_dict": {...}, "split": {"source": "manifest"|"seeded", "seed", "fraction",
     "heldout": [relative paths], "train": [relative paths]}, "train": {...options...},
     "metrics": {"train_acc", "heldout_acc", ...}, "meta": {...}}
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from torch import Tensor, nn

from cvaegan import __version__
from cvaegan.data.dataset import ImageCache, build_cache
from cvaegan.data.images import from_hwc_uint8
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.checkpoint_io import load_weights_only, torch_save_atomic
from cvaegan.runtime.device import configure, resolve_device
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import check_out_file, record_path
from cvaegan.runtime.progress import make_progress

JUDGE_FORMAT = "cvaegan-judge"
JUDGE_VERSION = 1


# --------------------------------------------------------------------------- network

@dataclass
class JudgeConfig:
    """`width` = channels of the first stage; stages double it up to 4×. log2(R/4) stride-2 stages
    take any resolution to a 4×4 map; the feature is its global average (4·width numbers)."""

    num_classes: int
    resolution: int = 32
    width: int = 32

    def __post_init__(self) -> None:
        if self.resolution < 8 or self.resolution & (self.resolution - 1):
            raise ValueError(f"judge resolution must be a power of two ≥ 8, got {self.resolution}")
        if self.num_classes < 2:
            raise ValueError("a judge needs at least 2 classes")
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
def judge_outputs(net: JudgeNet, images: Tensor, batch_size: int = 256,
                  progress: Callable[[int], None] | None = None) -> tuple[Tensor, Tensor]:
    """Class probabilities (N, K) and features (N, d) of images in [-1, 1] (N, 3, H, W), resized
    (antialiased bilinear) to the judge's resolution when they differ. Returned on the CPU."""
    device = next(net.parameters()).device
    was = net.training
    net.eval()
    probs, feats = [], []
    try:
        for i in range(0, images.shape[0], batch_size):
            x = fit_resolution(images[i:i + batch_size].to(device).float(), net.cfg.resolution)
            logits, f = net(x)
            probs.append(torch.softmax(logits.float(), 1).cpu())
            feats.append(f.float().cpu())
            if progress is not None:
                progress(min(i + batch_size, images.shape[0]))
    finally:
        net.train(was)
    return torch.cat(probs), torch.cat(feats)


def fit_resolution(x: Tensor, resolution: int) -> Tensor:
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False)


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
    least one image of each class that has two or more), drawn with `seed`."""
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
    out: Path | None = None          # default: judges/<data>-<resolution>.pt
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


@dataclass
class JudgeTrainResult:
    path: Path
    train_acc: float
    heldout_acc: float
    n_train: int
    n_heldout: int
    split_source: str
    seconds: float


def to_float(images: np.ndarray, rows: list[int] | None = None) -> Tensor:
    """uint8 (N, R, R, 3) cache rows → float (N, 3, R, R) in [-1, 1]."""
    return from_hwc_uint8(images if rows is None else images[np.asarray(rows, dtype=np.int64)])


def _u8_to_float(x: Tensor) -> Tensor:
    """uint8 (N, R, R, 3) → float (N, 3, R, R) in [-1, 1], on x's device."""
    return from_hwc_uint8(x).contiguous()


def augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Random horizontal flip and a random shift of up to R/8 pixels (reflect padding), per image.
    Faces are roughly aligned, so this is mild on purpose."""
    b, _, r, _ = x.shape
    pad = max(1, r // 8)
    flip = torch.rand(b, generator=gen, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen, device=x.device)
    base = torch.arange(r, device=x.device)
    rows = (dy[:, None] + base)[:, :, None]          # (b, r, 1)
    cols = (dx[:, None] + base)[:, None, :]          # (b, 1, r)
    bidx = torch.arange(b, device=x.device)[:, None, None]
    return xp.permute(0, 2, 3, 1)[bidx, rows, cols].permute(0, 3, 1, 2).contiguous()


def default_judge_path(data: Path, resolution: int) -> Path:
    name = Path(data).resolve().name
    if name == "dataset.json":
        name = Path(data).resolve().parent.name
    return Path("judges") / f"{name}-{resolution}.pt"


def train_judge(opts: JudgeTrainOptions, console: Console | None = None) -> JudgeTrainResult:
    """Train the judge on the train rows of DATA, score it on the held-out rows, save it."""
    console = console or Console(stderr=True)
    if opts.epochs < 1 or opts.batch_size < 2:
        raise CvaeganError("--epochs must be ≥ 1 and --batch-size ≥ 2")
    path = Path(opts.out) if opts.out else default_judge_path(opts.data, opts.resolution)
    record_file = record_path(check_out_file(path))  # before decoding anything
    device = resolve_device(opts.device)
    configure(device)
    torch.manual_seed(opts.seed)
    with make_progress(console, transient=True) as prog:
        task = prog.add_task("decoding images", total=None, info="")
        cache = build_cache(opts.data, opts.resolution, workers=opts.workers, cache_dir=opts.cache_dir,
                            split=None, progress=lambda i, n: prog.update(task, completed=i, total=n))
    try:
        cfg = JudgeConfig(num_classes=len(cache.class_names), resolution=opts.resolution, width=opts.width)
    except ValueError as exc:
        raise CvaeganError(str(exc)) from exc
    split = make_split(cache, opts.heldout, opts.seed)
    if len(split.train) < 2 or not split.heldout:
        raise CvaeganError(f"{opts.data}: too few images to hold some out ({len(cache)} images)")
    # uint8 on the device (a quarter of float32's memory: 80k 128-px images fit in 4 GB), converted per batch
    u8_train = torch.from_numpy(np.ascontiguousarray(cache.images[np.asarray(split.train)])).to(device)
    y_train = torch.from_numpy(np.asarray(cache.labels)[split.train]).to(device)
    net = JudgeNet(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    bs = min(opts.batch_size, len(split.train))
    steps_per_epoch = max(1, len(split.train) // bs)
    total = opts.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=opts.lr, total_steps=total, pct_start=0.15)
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
                x, y = augment(_u8_to_float(u8_train[idx]), gen_dev), y_train[idx]
                logits, _ = net(x)
                loss = F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += loss.detach() * len(idx)
                correct += (logits.argmax(1) == y).sum()
                prog.update(task, advance=1)
            seen = steps_per_epoch * bs
            rec = {"epoch": epoch + 1, "loss": float(loss_sum) / seen, "train_acc_augmented": float(correct) / seen}
            history.append(rec)
            prog.update(task, info=f"loss {rec['loss']:.3f}  acc {rec['train_acc_augmented']:.0%}")
    seconds = time.perf_counter() - t0
    labels = torch.from_numpy(np.asarray(cache.labels))
    probs_tr = torch.cat([judge_outputs(net, _u8_to_float(u8_train[i:i + 4096]))[0]
                          for i in range(0, len(u8_train), 4096)])
    del u8_train
    x_held = to_float(cache.images, split.heldout)
    probs_he, _ = judge_outputs(net, x_held)
    train_acc = float((probs_tr.argmax(1) == labels[split.train]).double().mean())
    heldout_acc = float((probs_he.argmax(1) == labels[split.heldout]).double().mean())
    names = relative_names(cache)
    ckpt = {
        "format": JUDGE_FORMAT, "version": JUDGE_VERSION, "config": asdict(cfg),
        "class_names": list(cache.class_names),
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        "split": {"source": split.source, "seed": opts.seed, "fraction": opts.heldout,
                  "heldout": [names[i] for i in split.heldout], "train": [names[i] for i in split.train]},
        "train": {"epochs": opts.epochs, "batch_size": bs, "lr": opts.lr, "weight_decay": opts.weight_decay,
                  "seed": opts.seed, "augment": "flip + shift ≤ R/8", "history": history},
        "metrics": {"train_acc": train_acc, "heldout_acc": heldout_acc, "n_train": len(split.train),
                    "n_heldout": len(split.heldout), "chance": 1.0 / len(cache.class_names)},
        "meta": {"cvaegan": __version__, "torch": str(torch.__version__), "python": platform.python_version(),
                 "device": str(device), "data": str(Path(opts.data).resolve()), "seconds": round(seconds, 2),
                 "saved": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")},
    }
    torch_save_atomic(path, ckpt)
    atomic_write_json(record_file, {
        "command": "judge train", "judge": str(path), "data": ckpt["meta"]["data"], "config": ckpt["config"],
        "train": ckpt["train"], "metrics": ckpt["metrics"], "split_source": split.source,
        "classes": ckpt["class_names"], "meta": ckpt["meta"]})
    return JudgeTrainResult(path, train_acc, heldout_acc, len(split.train), len(split.heldout), split.source,
                            seconds)


# --------------------------------------------------------------------------- loading

def load_judge(path: str | os.PathLike[str], device: torch.device | str = "cpu") -> tuple[JudgeNet, dict[str, Any]]:
    """Read a judge checkpoint (weights_only) and rebuild the network in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise CvaeganError(f"{path}: no such judge file; train one with `cvaegan judge train DATA`")
    obj = load_weights_only(path, "judge checkpoint")
    if isinstance(obj, dict) and obj.get("format") == "cvaegan-checkpoint":
        raise CvaeganError(f"{path} is a cvaegan model checkpoint, not a judge; train a judge with "
                           "`cvaegan judge train DATA`")
    if not isinstance(obj, dict) or obj.get("format") != JUDGE_FORMAT:
        raise CvaeganError(f"{path}: not a cvaegan judge checkpoint")
    if obj.get("version") != JUDGE_VERSION:
        raise CvaeganError(f"{path}: judge format version {obj.get('version')!r}; this cvaegan reads "
                           f"version {JUDGE_VERSION}")
    try:
        net = JudgeNet(JudgeConfig(**obj["config"]))
        net.load_state_dict(obj["state_dict"])
        for key in ("class_names", "split"):
            obj[key]  # noqa: B018 — presence check
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CvaeganError(f"{path}: judge checkpoint is damaged ({_first_line(exc)})") from exc
    return net.to(device).eval(), obj


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
