"""`cvaegan train`: the loop around a model family's `train_step` — data, run folder, logs, grids,
checkpoints, resume, Ctrl-C and divergence handling.

Run folder `runs/<name>/`: config.json, log.jsonl (one JSON object per log interval and per
event), samples/step_XXXXXXX.png + samples/latest.png (fixed z and classes), checkpoints/latest.pt
and checkpoints/step_XXXXXXX.pt.

Determinism: the data order comes from a CPU generator (seed) and is the same on every rank;
the noise (z, z_p, c_p, flips) of step k on rank r comes from a device generator seeded with
`distributed.step_seed(seed, k, r)`. A checkpoint stores the data generator's state at the start
of the current epoch and the position in it (in global batches), so `--resume` continues the same
streams: on the CPU, N steps straight and N/2 + resume + N/2 give identical weights (tested).

Several processes (torchrun): `--batch-size` is the global batch, split evenly over the ranks;
rank 0 alone writes the run folder. A checkpoint is world-size independent (weights, optimiser
state, centres and BN running statistics are the same on every rank when saved). Resuming with a
different number of processes keeps the data order (step k trains on the same global batch), the
step count, the optimiser state and the centres; it does not reproduce the uninterrupted run bit
for bit, because ranks ≥ 1 draw different noise and, without --sync-bn, batch-norm statistics are
taken over differently sized per-rank shards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import os
import platform
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from cvaegan import __version__
from cvaegan.core.arch import ModelConfig
from cvaegan.core.condition import ConditionSpec
from cvaegan.core.family import Family
from cvaegan.core.schedule import LRDecay
from cvaegan.data.dataset import DeviceBatches, ImageCache, build_cache, cache_images, content_items, may_flip
from cvaegan.data.images import save_grid, swap_cells
from cvaegan.data.naming import resolve_name
from cvaegan.families import registry
from cvaegan.runtime import distributed
from cvaegan.runtime.atomic import atomic_write_json, remove_stale_temps
from cvaegan.runtime.checkpoint_io import save_checkpoint
from cvaegan.runtime.device import autocast, configure, memory_format, resolve_precision
from cvaegan.runtime.distributed import DistContext
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.locking import folder_lock
from cvaegan.runtime.outputs import check_out_dir
from cvaegan.runtime.progress import make_progress
from cvaegan.session import load_checkpoint
from cvaegan.families.checkpoint import (CheckpointError, load_optimizers, make_checkpoint, model_from_checkpoint,
                                         validate_resumable)

MAIN_LOSSES = ("loss_g", "loss_rec", "loss_kl", "loss_d", "loss_c", "loss_aux")
ARCH_DEFAULTS: dict[str, Any] = {"model": "cvaegan", "resolution": 64, "width": 1.0, "latent_dim": 256,
                                 "g_layout": "early"}


@dataclass
class TrainOptions:
    data: Path
    out: Path = Path("runs")
    name: str | None = None
    resume: bool = False
    # Architecture; None = the checkpoint's on --resume, else ARCH_DEFAULTS.
    model: str | None = None
    resolution: int | None = None
    width: float | None = None
    latent_dim: int | None = None
    g_layout: str | None = None  # where G up-samples below 128×128 (ModelConfig.g_layout)
    batch_size: int = 64
    steps: int | None = None
    epochs: float | None = None
    # A wall-clock budget of training, counted across resumes: the run ends at whichever comes
    # first, `minutes` or `steps`/`epochs` (neither given: `minutes` alone). The learning-rate
    # schedule follows the larger of the two shares of the run done.
    minutes: float | None = None
    # The family's loss and optimiser settings (for CVAE-GAN's family a LossConfig and an
    # OptimConfig); None: its default preset's. Ignored on --resume (the checkpoint's are used).
    loss: Any = None
    optim: Any = None
    seed: int = 0
    device: str = "auto"
    workers: int = 2
    cache_dir: Path | None = None
    split: str | None = "train"
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 1000
    flip: bool = True
    sync_bn: bool = False       # SyncBatchNorm over processes (CUDA only)
    compile: bool = False       # torch.compile every network
    precision: str = "auto"     # auto | bf16 | fp32 (cvaegan.runtime.device.resolve_precision)
    # A family conditioned on attributes: which of the dataset's per-item targets (names or
    # indices; None: the checkpoint's on --resume, else all of them).
    attributes: tuple[str, ...] | None = None


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    total_steps: int | None  # None: a time budget alone
    checkpoint: Path
    interrupted: bool
    last: dict[str, float]
    seconds: float
    history: list[dict[str, Any]]


class TrainingDiverged(CvaeganError):
    pass


class _StopFlag:
    """First Ctrl-C / SIGTERM asks the loop to stop after the current step and save; a second one
    interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> "_StopFlag":
        if _in_main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def train(opts: TrainOptions, console: Console | None = None,
          on_log: Callable[[dict[str, Any]], None] | None = None,
          stop: Callable[[int], bool] | None = None) -> TrainResult:
    """Train (or resume) a run. `stop(step)` lets callers (the demo, tests) end early cleanly; in a
    multi-process job it must give the same answer on every rank.

    Under torchrun (WORLD_SIZE > 1) this joins the process group and trains data-parallel
    (`cvaegan.runtime.distributed`); otherwise it is a single process.
    """
    ctx = distributed.setup(opts.device)
    try:
        with contextlib.ExitStack() as held:
            return _train(opts, ctx, console, on_log, stop, held)
    finally:
        ctx.close()


def _train(opts: TrainOptions, ctx: DistContext, console: Console | None,
           on_log: Callable[[dict[str, Any]], None] | None,
           stop: Callable[[int], bool] | None, held: contextlib.ExitStack) -> TrainResult:
    console = console or Console(stderr=True)
    if not ctx.is_main:
        console = Console(stderr=True, quiet=True)
    device = ctx.device
    configure(device)
    precision = resolve_precision(device, opts.precision)
    torch.manual_seed(opts.seed)
    if opts.batch_size % ctx.world_size:
        raise CvaeganError(f"--batch-size {opts.batch_size} is the global batch and must be divisible by "
                           f"the {ctx.world_size} processes")
    run_dir = opts.out / (opts.name or _default_name(opts))
    ckpt_dir = run_dir / "checkpoints"
    latest = ckpt_dir / "latest.pt"

    # Rank 0 takes the run folder (one writer; temp files of a killed save are then surely stale),
    # decides start-or-resume and reads the checkpoint; the others receive the decision or the
    # error (no shared file system needed for a resume, and no rank can decide differently).
    decision: tuple[str, Any] | None = None
    if ctx.is_main:
        try:
            check_out_dir(opts.out)
            held.enter_context(folder_lock(run_dir, "run folder"))
            for folder in (ckpt_dir, run_dir / "samples"):
                remove_stale_temps(folder)
            decision = ("ok", _read_resume(opts, run_dir, latest))
        except CvaeganError as exc:
            decision = ("error", str(exc))
    decision = ctx.broadcast_object(decision)
    assert decision is not None
    if decision[0] == "error":
        raise CvaeganError(decision[1])
    resume_ckpt = decision[1]
    opts = _resolve_architecture(opts, resume_ckpt)

    if ctx.local_rank != 0:
        ctx.barrier()  # let this node's first process decode the images into the shared cache
    with make_progress(console, transient=True) as prog:
        task = prog.add_task("decoding images", total=None, info="")
        cache = build_cache(opts.data, opts.resolution, workers=opts.workers, cache_dir=opts.cache_dir,
                            split=opts.split, progress=lambda i, n: prog.update(task, completed=i, total=n))
    if ctx.local_rank == 0:
        ctx.barrier()
    _report_skipped(cache, console)
    if len(cache) < 2:
        raise CvaeganError(f"{opts.data}: training needs at least 2 readable images, found {len(cache)}")
    family = _family(opts.model)
    cache, condition = condition_data(family, cache, opts.attributes, resume_ckpt, opts.data)
    cond_names = list(condition.names)

    if resume_ckpt is not None:
        model = model_from_checkpoint(resume_ckpt, device, validated=True)  # load_checkpoint validated it
        if resume_ckpt["class_names"] != cond_names:
            what = "classes" if condition.kind == "class" else "attributes"
            raise CvaeganError(f"--resume: the checkpoint's {len(resume_ckpt['class_names'])} {what} differ "
                               f"from the {len(cond_names)} {what} of {opts.data}")
        cfg = model.cfg
    else:
        try:
            cfg = family.new_config(ModelConfig(num_classes=len(cond_names), resolution=opts.resolution,
                                                latent_dim=opts.latent_dim, width=opts.width, model=opts.model,
                                                g_layout=opts.g_layout),
                                    opts.loss, opts.optim)
        except ValueError as exc:
            raise CvaeganError(str(exc)) from exc
        model = family.build(cfg).to(device)
        if family.batch == "styled":  # the classes' content images travel with the model
            model.set_contents(cache_images(cache, content_items(cache)).to(device))
    if opts.sync_bn:
        distributed.convert_sync_bn(model, ctx)
    ctx.broadcast_module(model)  # identical start on every rank (weights, BN statistics, centres)
    mf = memory_format(device)
    model = model.to(memory_format=mf)
    if opts.compile:
        for net in model.nets.values():
            net.compile()  # in place: state_dict keys, and so checkpoints, are unchanged
    optimizers = family.make_optimizers(model)
    # The config's rates, read before a resume loads its own. A family's optimiser config without
    # `lr_decay` trains at constant rates.
    schedule = LRDecay(optimizers, getattr(cfg.optim, "lr_decay", 0.0))

    flip = opts.flip and may_flip(cache)  # characters: never
    batches = DeviceBatches(cache, opts.batch_size, device, flip=flip, memory_format=mf,
                            rank=ctx.rank, world_size=ctx.world_size, pairs=family.batch == "pairs",
                            styled=family.batch == "styled")
    if opts.steps is not None:
        total_steps: int | None = opts.steps
    elif opts.epochs is not None or opts.minutes is None:
        total_steps = math.ceil((opts.epochs or 1.0) * batches.steps_per_epoch)
    else:
        total_steps = None
    data_gen = torch.Generator().manual_seed(opts.seed)
    noise_gen = torch.Generator(device=device)
    seed = opts.seed
    step, epoch, pos = 0, 0, 0
    seconds_before = 0.0
    epoch_state = data_gen.get_state()
    if resume_ckpt is not None:
        load_optimizers(resume_ckpt, optimizers)
        rng = resume_ckpt["rng"]
        step, epoch, pos = resume_ckpt["step"], int(rng["epoch"]), int(rng["epoch_pos"])
        epoch_state = rng["data_epoch"]
        seed = int(rng.get("seed", opts.seed))
        seconds_before = float(rng.get("train_seconds", 0.0))
        torch.set_rng_state(rng["torch"])
        if pos >= batches.steps_per_epoch:  # a smaller epoch count than when saved (new --batch-size)
            epoch, pos = epoch + 1, 0
    data_gen.set_state(epoch_state)
    order = batches.epoch_order(data_gen)
    swaps = "swap" in family.model(opts.model).capabilities  # grids of swaps, not of samples
    grid_z, grid_c = (styled_grid_inputs(cache, condition) if family.batch == "styled"
                      else pairs_grid_inputs(cache) if swaps
                      else grid_inputs(model, condition, opts.seed))

    meta = {**_run_meta(opts, cache, device, ctx), "precision": precision}
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / "config.json", {"train": _jsonable(dataclasses.asdict(opts)),
                                                    "model": cfg.to_dict(), "class_names": cache.class_names,
                                                    "condition": condition.to_dict(), "meta": meta})
    log = _JsonlLog(run_dir / "log.jsonl", enabled=ctx.is_main)
    log.write({"event": "resume" if resume_ckpt else "start", "step": step, "total_steps": total_steps,
               "images": len(cache), "classes": len(cache.class_names), "device": str(device),
               "precision": precision, "processes": ctx.world_size, "time": _now()})

    def checkpoint(*also: Path) -> Path:
        ctx.average_bn_buffers(model)  # every rank; only rank 0 writes
        if not ctx.is_main:
            return latest
        ckpt = make_checkpoint(model, class_names=cond_names, condition=condition, step=step, optimizers=optimizers,
                               rng={"data_epoch": epoch_state, "epoch": epoch, "epoch_pos": pos, "seed": seed,
                                    "train_seconds": budget.seconds(),
                                    "noise": "per-step: distributed.step_seed(seed, step, rank)",
                                    "torch": torch.get_rng_state()},
                               meta={**meta, "saved": _now(), "images_seen": step * batches.batch_size})
        for path in also:
            save_checkpoint(path, ckpt)
        return save_checkpoint(latest, ckpt)

    def grid() -> None:
        ctx.average_bn_buffers(model)
        ctx.on_main(_write_grid, model, grid_z, grid_c, run_dir, step, swaps)

    reduce = ctx.reduce_centre_stats if ctx.enabled else None
    sync_grads = ctx.grad_sync(model)
    history: list[dict[str, Any]] = []
    pending: list[dict[str, torch.Tensor]] = []
    t0 = time.perf_counter()
    t_last, step_last = t0, step
    budget = _Budget(total_steps, opts.minutes, seconds_before, every_step=not ctx.enabled)
    last: dict[str, float] = {}
    interrupted = False
    start_step = step
    try:
        with _StopFlag() as flag, make_progress(console) as prog:
            task = prog.add_task(f"training {opts.model}", total=total_steps, completed=step, info="")
            try:
                while not budget.done(step):
                    noise_gen.manual_seed(distributed.step_seed(seed, step, ctx.rank))
                    schedule.apply(budget.progress(step))
                    batch = batches.batch(order, pos, noise_gen)
                    pending.append(family.train_step(model, optimizers, batch, noise_gen, autocast(device, precision),
                                              reduce=reduce, sync_grads=sync_grads))
                    step, pos = step + 1, pos + 1
                    if pos == batches.steps_per_epoch:
                        epoch, pos = epoch + 1, 0
                        epoch_state = data_gen.get_state()
                        order = batches.epoch_order(data_gen)
                    asked = stop is not None and stop(step)
                    timed_out = budget.out_of_time()  # one process: read every step; several: at log points
                    # A signal may reach the ranks at different steps, so with several processes it is
                    # only acted on at log points, where the ranks agree on it in one collective.
                    want_stop = False
                    if step % opts.log_every == 0 or step == total_steps or step % opts.ckpt_every == 0 \
                            or asked or timed_out or (flag.requested and not ctx.enabled):
                        now = time.perf_counter()
                        last, want_stop, seconds = _flush(pending, ctx, flag.requested or asked,
                                                          budget.seconds())  # the only host sync
                        pending = []
                        timed_out = budget.agree(seconds)
                        rate = (step - step_last) * batches.batch_size / max(now - t_last, 1e-9)
                        rec = {"step": step, "epoch": epoch, "images_per_s": round(rate, 2),
                               "step_time_s": round((now - t_last) / max(step - step_last, 1), 5), **last}
                        t_last, step_last = now, step
                        _check_finite(last, step, latest)
                        log.write(rec)
                        history.append(rec)
                        if on_log and ctx.is_main:
                            on_log(rec)
                        prog.update(task, completed=step, info=_progress_info(rate, last) + budget.info())
                    if step % opts.sample_every == 0:
                        grid()
                    if step % opts.ckpt_every == 0:
                        checkpoint(ckpt_dir / f"step_{step:07d}.pt")
                    if want_stop:
                        interrupted = flag.requested or not asked
                        break
                    if timed_out:
                        break
            except KeyboardInterrupt:
                interrupted = True  # second Ctrl-C mid-step: the step may be half applied; keep the last save
                log.write({"event": "interrupt", "step": step, "time": _now(), "saved": False})
                raise CvaeganError(f"interrupted twice at step {step}; last saved checkpoint: {latest}") from None
        if pending:
            last, _, _ = _flush(pending, ctx, False, budget.seconds())
            _check_finite(last, step, latest)
        ckpt_path = checkpoint()
        grid()
    finally:
        batches.close()
    seconds = time.perf_counter() - t0
    log.write({"event": "interrupt" if interrupted else "end", "step": step, "time": _now(),
               "seconds": round(seconds, 2), "images_per_s": round((step - start_step) * batches.batch_size
                                                                   / max(seconds, 1e-9), 2)})
    return TrainResult(run_dir, step, total_steps, ckpt_path, interrupted, last, seconds, history)


def _read_resume(opts: TrainOptions, run_dir: Path, latest: Path) -> dict[str, Any] | None:
    if opts.resume:
        if not latest.is_file():
            raise CvaeganError(f"--resume: no checkpoint at {latest}")
        ckpt = load_checkpoint(latest)
        try:
            validate_resumable(ckpt)
        except CheckpointError as exc:
            raise CvaeganError(f"--resume: {latest}: {exc}") from exc
        _resolve_architecture(opts, ckpt)  # refuse a differing architecture before any decoding
        return ckpt
    if latest.is_file():
        raise CvaeganError(f"{run_dir} already holds a run; continue it with --resume or pick another --name")
    return None


def _flush(pending: list[dict[str, torch.Tensor]], ctx: DistContext, stop: bool,
           seconds: float) -> tuple[dict[str, float], bool, float]:
    """Mean of the pending steps' losses (over steps and ranks), whether any rank wants to stop,
    and the mean over ranks of their training seconds (so that every rank reads one clock)."""
    keys = list(pending[0].keys())
    means = torch.stack([torch.stack([p[k] for k in keys]) for p in pending]).mean(0)
    packed = torch.cat([means.float(), torch.tensor([seconds], device=means.device)])
    packed, stop = ctx.mean_and_any(packed, stop)
    values = packed.tolist()
    return {k: float(v) for k, v in zip(keys, values[:-1])}, stop, float(values[-1])


class _Budget:
    """How far a run is: the larger of its share of `total_steps` and of its `minutes`, training
    seconds counted across resumes (a checkpoint stores them). With several processes the clock
    is only read at log points, through the collective the ranks share there (`agree`), so that
    every rank uses the same learning rates and stops at the same step."""

    def __init__(self, total_steps: int | None, minutes: float | None, seconds_before: float, every_step: bool):
        if minutes is not None and not minutes > 0:
            raise CvaeganError(f"--minutes must be > 0, got {minutes}")
        self.total_steps, self.every_step = total_steps, every_step
        self.budget_s = None if minutes is None else 60.0 * minutes
        self.before, self.t0 = seconds_before, time.perf_counter()
        self.agreed = seconds_before  # the clock the schedule reads between log points (several processes)

    def seconds(self) -> float:
        """Training seconds of the run so far, this process's clock."""
        return self.before + time.perf_counter() - self.t0

    def _clock(self) -> float:
        return self.seconds() if self.every_step else self.agreed

    def agree(self, seconds: float) -> bool:
        """Take the ranks' common clock (from `_flush`); whether the time is up."""
        self.agreed = seconds
        return self.budget_s is not None and seconds >= self.budget_s

    def out_of_time(self) -> bool:
        return self.budget_s is not None and self._clock() >= self.budget_s

    def done(self, step: int) -> bool:
        return (self.total_steps is not None and step >= self.total_steps) or self.out_of_time()

    def progress(self, step: int) -> float:
        """The share of the run done, in [0, 1]."""
        shares = [0.0]
        if self.total_steps:
            shares.append(step / self.total_steps)
        if self.budget_s is not None:
            shares.append(self._clock() / self.budget_s)
        return min(1.0, max(shares))

    def info(self) -> str:
        if self.budget_s is None:
            return ""
        left = max(0.0, self.budget_s - self.seconds())
        return f" · {int(left // 60)}:{int(left % 60):02d} of budget left"


def _check_finite(last: dict[str, float], step: int, latest: Path) -> None:
    bad = [k for k, v in last.items() if not math.isfinite(v)]
    if bad:
        kept = f"the last good checkpoint is {latest}" if latest.is_file() else "no checkpoint was written yet"
        raise TrainingDiverged(f"{', '.join(bad)} became {last[bad[0]]} by step {step}; training stopped "
                               f"and {kept} (lower the learning rates or check the data)")


def grid_inputs(model: torch.nn.Module, condition: ConditionSpec, seed: int, per_row: int = 8,
                max_rows: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed z and conditions so grids show progress. Classes: ≤ 8 classes, evenly spread, one row
    of 8 samples each. Attributes: 8 fixed z per row; the first row with every attribute off, then
    one row per attribute (up to 7) with that attribute alone on — a column shows what each
    attribute does to one face."""
    k = model.num_classes
    g = torch.Generator().manual_seed(seed + 2)
    if condition.kind == "attributes":
        rows = torch.zeros(min(k + 1, max_rows), k)
        for i in range(1, len(rows)):
            rows[i, i - 1] = 1.0
        z = torch.randn(per_row, model.latent_dim, generator=g).repeat(len(rows), 1)
        return z, rows.repeat_interleave(per_row, dim=0)
    classes = torch.linspace(0, k - 1, min(k, max_rows)).round().long().unique()
    z = torch.randn(len(classes) * per_row, model.latent_dim, generator=g)
    return z, condition.one_hot(classes.repeat_interleave(per_row))


def styled_grid_inputs(cache: ImageCache, condition: ConditionSpec, per_row: int = 8,
                       max_rows: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """A style-transfer model's grid: one row per style (the first image of up to 8 style groups,
    or 8 spread images without groups), each drawing 8 classes spread over the class list."""
    if cache.styles is not None and (cache.styles >= 0).any():
        groups = [g for g in dict.fromkeys(cache.styles.tolist()) if g >= 0][:max_rows]
        picks = [int(np.flatnonzero(cache.styles == g)[0]) for g in groups]
    else:
        picks = np.linspace(0, len(cache) - 1, min(max_rows, len(cache))).round().astype(int).tolist()
    k = len(condition.names)
    classes = torch.linspace(0, k - 1, min(k, per_row)).round().long()
    styles = cache_images(cache, np.asarray(picks)).repeat_interleave(len(classes), 0)
    return styles, condition.one_hot(classes.repeat(len(picks)))


def pairs_grid_inputs(cache: ImageCache, per_row: int = 8, max_rows: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """An identity-swap model's grid inputs: (attribute images, identity images). Identities: the
    first image of up to 8 classes spread over the class list; attributes: 8 images spread over the
    dataset. `_write_grid` draws every identity with every attribute image (`swap_cells`)."""
    k = len(cache.class_names)
    classes = np.unique(np.linspace(0, k - 1, min(k, max_rows)).round().astype(int))
    ids = [int(np.flatnonzero(cache.labels == c)[0]) for c in classes if (cache.labels == c).any()]
    attrs = np.linspace(0, len(cache) - 1, min(per_row, len(cache))).round().astype(int)
    return cache_images(cache, attrs), cache_images(cache, np.asarray(ids))


def condition_data(family: Family, cache: ImageCache, attributes: tuple[str, ...] | None,
                   resume_ckpt: dict[str, Any] | None, data: Path) -> tuple[ImageCache, ConditionSpec]:
    """The condition the model trains on, and the cache as its training step sees it. A class
    family: a class vector over the dataset's classes. An attribute family: the chosen columns of
    the dataset's per-item targets (all of them by default, the checkpoint's on a resume), which
    must be binary; the cache's targets are cut down to those columns."""
    if family.condition == "class":
        if attributes:
            raise CvaeganError(f"--attributes is for models conditioned on attributes; a {family.name}-family "
                               "model is conditioned on the classes")
        return cache, ConditionSpec.classes(cache.class_names)
    available = cache.index.target_names
    if cache.targets is None or not available:
        raise CvaeganError(f"{data}: a {family.name} model trains on per-image attributes, and this dataset has "
                           "none (its dataset.json has no 'targets'; `cvaegan prepare celeba` and the demo "
                           "data have them)")
    if attributes is None and resume_ckpt is not None:
        attributes = tuple(resume_ckpt["class_names"])
    cols = [resolve_name(a, available, "attribute") for a in attributes] if attributes else list(range(len(available)))
    if len(set(cols)) != len(cols):
        raise CvaeganError("--attributes names an attribute twice")
    targets = np.ascontiguousarray(cache.targets[:, cols])
    if not bool(((targets == 0) | (targets == 1)).all()):
        raise CvaeganError(f"{data}: the chosen targets must be binary (0 or 1) to be attributes")
    names = [available[c] for c in cols]
    return dataclasses.replace(cache, targets=targets), ConditionSpec.attributes(names)


def _write_grid(model: torch.nn.Module, z: torch.Tensor, c: torch.Tensor, run_dir: Path, step: int,
                swaps: bool = False) -> None:
    """The fixed-input grid of a step: samples G(z, c), or for a swap model (`swaps`) the identity ×
    attributes figure (`swap_cells`) with z the attribute images and c the identity images."""
    device = next(model.parameters()).device
    with autocast(device):
        x = swap_cells(model.swap, c.to(device), z.to(device)) if swaps else model.generate(z.to(device), c.to(device))
    nrow = len(z) + 1 if swaps else 8
    save_grid(x, run_dir / "samples" / f"step_{step:07d}.png", nrow=nrow)
    save_grid(x, run_dir / "samples" / "latest.png", nrow=nrow)


def _progress_info(rate: float, last: dict[str, float]) -> str:
    parts = [f"{rate:,.0f} img/s"] + [f"{k[5:]} {last[k]:.3g}" for k in MAIN_LOSSES if k in last]
    return "  ".join(parts)


def _report_skipped(cache: ImageCache, console: Console) -> None:
    if cache.skipped:
        console.print(f"[yellow]warning:[/] skipped {len(cache.skipped)} unreadable image(s), e.g. "
                      f"{cache.skipped[0][0]} ({cache.skipped[0][1]})")


class _JsonlLog:
    def __init__(self, path: Path, enabled: bool = True):
        self.path = path
        self.enabled = enabled  # rank 0 alone writes the log

    def write(self, rec: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def _run_meta(opts: TrainOptions, cache: ImageCache, device: torch.device, ctx: DistContext) -> dict[str, Any]:
    return {"cvaegan": __version__, "torch": str(torch.__version__), "python": platform.python_version(),
            "device": str(device), "argv": sys.argv, "data": str(Path(opts.data).resolve()),
            "images": len(cache), "skipped": len(cache.skipped), "resolution": opts.resolution,
            "batch_size": opts.batch_size, "seed": opts.seed, "processes": ctx.world_size,
            "backend": ctx.backend, "sync_bn": opts.sync_bn, "compile": opts.compile,
            "threads": torch.get_num_threads()}


def _default_name(opts: TrainOptions) -> str:
    model = opts.model or ARCH_DEFAULTS["model"]
    return f"{Path(opts.data).resolve().name}-{model}-{opts.resolution or ARCH_DEFAULTS['resolution']}"


def _resolve_architecture(opts: TrainOptions, ckpt: dict[str, Any] | None) -> TrainOptions:
    """Fill the architecture fields left unset: from the checkpoint on a resume, else the defaults.
    A resume that sets one to another value than the checkpoint's is refused, naming the field
    (the run would otherwise fail on shapes, or silently keep the old value while config.json
    recorded the new one)."""
    saved = dataclasses.asdict(ModelConfig.from_dict(ckpt["config"]["model"])) if ckpt is not None else ARCH_DEFAULTS
    given = {k: getattr(opts, k) for k in ARCH_DEFAULTS}
    if ckpt is not None:
        for key, value in given.items():
            if value is not None and value != saved[key]:
                flag = "--" + key.replace("_", "-")
                raise CvaeganError(f"--resume: {flag} {value} differs from the run's {saved[key]}; "
                                   f"drop {flag} to continue the run, or start a new one with another --name")
    return dataclasses.replace(opts, **{k: saved[k] if v is None else v for k, v in given.items()})


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _family(model: str) -> Family:
    try:
        return registry.resolve(model)[0]
    except ValueError as exc:
        raise CvaeganError(str(exc)) from exc
