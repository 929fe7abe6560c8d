"""Train several model variants with the same data, budget and seed, and score them all with one
judge: the engine of `benchmarks/table1.py` (§5.2, Table 1) and `benchmarks/ablation.py` (§5.5).

Every variant goes through `cvaegan.pipelines.train.train` exactly as `cvaegan train` would, so the
benchmark measures the shipped code path. Runs land in OUT/runs/<variant>; a finished run (its
latest checkpoint at the requested step) is reused, an unfinished one resumed, so an interrupted
benchmark continues where it stopped.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from cvaegan.evaluation.evaluate import EvaluateOptions, evaluate
from cvaegan.evaluation.judge import JudgeTrainOptions, load_judge, train_judge
from cvaegan.families.cvaegan.config import LossConfig
from cvaegan.pipelines.train import TrainOptions, train
from cvaegan.session import load_checkpoint


@dataclass
class Variant:
    name: str
    model: str = "cvaegan"
    loss: Any = field(default_factory=LossConfig)  # the family's loss config (LossConfig for CVAE-GAN's)
    optim: Any = None                # None: the default preset's
    run_name: str | None = None      # run folder (default: name); equal names share a run across benchmarks
    g_layout: str | None = None      # G's up-sampling layout (ModelConfig.g_layout); None: the default


@dataclass
class CompareOptions:
    data: Path
    out: Path
    resolution: int = 32
    steps: int = 300
    width: float = 0.5
    batch_size: int = 64
    latent_dim: int = 256
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    per_class: int = 100
    judge: Path | None = None        # reuse this judge instead of training one
    judge_epochs: int = 30
    judge_width: int = 32
    workers: int = 2
    cache_dir: Path | None = None
    minutes: float | None = None     # a wall-clock training budget per variant instead of `steps`
    attributes: tuple[str, ...] | None = None  # models conditioned on attributes: which targets
    edit_images: int = 1000          # attribute editors: held-out images `evaluate` edits


def get_judge(opts: CompareOptions, console: Console) -> tuple[Path, dict[str, Any]]:
    """The given judge, else OUT/judge.pt (trained once, reused on a re-run)."""
    path = opts.judge or opts.out / "judge.pt"
    if opts.judge is None and not path.is_file():
        res = train_judge(JudgeTrainOptions(data=opts.data, out=path, resolution=opts.resolution,
                                            width=opts.judge_width, epochs=opts.judge_epochs, seed=opts.seed,
                                            device=opts.device, workers=opts.workers, cache_dir=opts.cache_dir),
                          console)
        console.print(f"judge: held-out top-1 {res.heldout_acc:.1%} on {res.n_heldout} images "
                      f"({res.split_source} split), trained in {res.seconds:.0f} s")
    _, state = load_judge(path)
    return path, state


def run_variant(v: Variant, opts: CompareOptions, judge: Path, console: Console) -> dict[str, Any]:
    """Train (or reuse / resume) one variant, then evaluate it; returns evaluate's record plus timings."""
    run_name = v.run_name or v.name
    run_dir = opts.out / "runs" / run_name
    latest = run_dir / "checkpoints" / "latest.pt"
    train_seconds = None
    if opts.minutes is None:
        done = latest.is_file() and load_checkpoint(latest)["step"] >= opts.steps
        steps = opts.steps
    else:  # a time budget, which the loop counts across resumes: done once its log has an "end" event
        done = latest.is_file() and _logged_seconds(run_dir) is not None
        steps = None
    if not done:
        t0 = time.perf_counter()
        res = train(TrainOptions(data=opts.data, out=opts.out / "runs", name=run_name, resume=latest.is_file(),
                                 model=v.model, resolution=opts.resolution, width=opts.width,
                                 latent_dim=opts.latent_dim, g_layout=v.g_layout,
                                 batch_size=opts.batch_size, steps=steps, minutes=opts.minutes,
                                 loss=v.loss, optim=v.optim, seed=opts.seed, device=opts.device, precision=opts.precision,
                                 workers=opts.workers, attributes=opts.attributes,
                                 cache_dir=opts.cache_dir, log_every=max(1, min(50, steps or 50)),
                                 sample_every=steps or 10**8, ckpt_every=max(min((steps or 2000) // 4, 500), 1)),
                    console)
        train_seconds = round(time.perf_counter() - t0, 1)
        if res.interrupted:
            raise KeyboardInterrupt
    t0 = time.perf_counter()
    rec = evaluate(EvaluateOptions(ckpt=latest, judge=judge, data=opts.data, per_class=opts.per_class,
                                   seed=opts.seed, device=opts.device, precision=opts.precision,
                                   out=opts.out / "eval" / f"{v.name}.json", edit_images=opts.edit_images,
                                   workers=opts.workers, cache_dir=opts.cache_dir), console)
    rec["variant"] = v.name
    rec["reused"] = train_seconds is None
    rec["train_seconds"] = train_seconds if train_seconds is not None else _logged_seconds(run_dir)
    rec["eval_seconds"] = round(time.perf_counter() - t0, 1)
    return rec


def _logged_seconds(run_dir: Path) -> float | None:
    """Training time of a reused run, from the last "end" event of its log.jsonl."""
    try:
        events = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    hits = [e for e in events if e.get("event") == "end" and "seconds" in e]
    return hits[-1]["seconds"] if hits else None
