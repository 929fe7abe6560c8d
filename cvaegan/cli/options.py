"""Bounds of every numeric command-line option, checked once before any command runs.

One table instead of a check per command: every float option must be finite (nan and inf parse
as floats and then break a promise far away: `--feather nan` turns the paste band into NaNs,
`--lr nan` trains NaNs), and the named ones must lie in their range. Upper bounds on counts are
what keeps `sample -n 1e9` or `morph --steps 1e9` from allocating before anything is checked.
`cli_errors` calls `check_options` with the command's keyword arguments.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cvaegan.core.arch import MAX_LATENT, RESOLUTIONS
from cvaegan.runtime.limits import MAX_FIT_STEPS, MAX_IMAGES, MAX_ITERS, MAX_SEED



@dataclass(frozen=True)
class Bound:
    """lo ≤ v ≤ hi (lo < v with lo_open); `choices` instead of a range; None is always allowed
    (an unset optional option)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: tuple[int, ...] | None = None

    def problem(self, v: Any) -> str | None:
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        if isinstance(v, float) and not math.isfinite(v):
            return "must be a finite number"
        if self.choices is not None and v not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))}"
        if self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo):
            return f"must be {'>' if self.lo_open else '≥'} {_num(self.lo)}"
        if self.hi is not None and v > self.hi:
            return f"must be ≤ {_num(self.hi)}"
        return None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


FINITE = Bound()
POSITIVE = Bound(0, lo_open=True)
AT_LEAST_1 = Bound(1)
NON_NEGATIVE = Bound(0)
FRACTION = Bound(0, 1, lo_open=True)

# By parameter name, for every command; COMMAND_BOUNDS below wins for one command's option.
BOUNDS: dict[str, Bound] = {
    "seed": Bound(0, MAX_SEED),
    "width": POSITIVE,
    "latent_dim": Bound(1, MAX_LATENT),
    "resolution": Bound(choices=RESOLUTIONS),
    "batch_size": Bound(1, 65_536),
    "steps": AT_LEAST_1,
    "epochs": POSITIVE,
    "lr": POSITIVE, "lr_e": POSITIVE, "lr_g": POSITIVE, "lr_d": POSITIVE, "lr_c": POSITIVE,
    "lambda1": NON_NEGATIVE, "lambda2": NON_NEGATIVE, "lambda3": NON_NEGATIVE, "lambda4": NON_NEGATIVE,
    "centre_decay": Bound(0, 1),
    "weight_decay": NON_NEGATIVE,
    "heldout": Bound(0, 0.9, lo_open=True),
    "log_every": AT_LEAST_1, "sample_every": AT_LEAST_1, "ckpt_every": AT_LEAST_1,
    "workers": Bound(0, 256), "writers": Bound(1, 256), "download_workers": Bound(1, 256),
    "nproc": Bound(1, 1024),
    "n": Bound(1, MAX_IMAGES),
    "per_class": Bound(0, 1_000_000),
    "per_identity": Bound(0, 1_000_000),
    "new_identities": Bound(0, 1_000_000),
    "iters": Bound(1, MAX_ITERS),
    "fit_steps": Bound(1, MAX_FIT_STEPS),
    "feather": NON_NEGATIVE,
    "face": NON_NEGATIVE,
    "gif_ms": Bound(10, 60_000),
    "png_level": Bound(0, 9),
    "det_thresh": Bound(0, 1),
    "max_mb": POSITIVE,
    "timeout": POSITIVE,
    "deadline": POSITIVE,
    "retries": Bound(0, 100),
    "limit": AT_LEAST_1,
    "min_face": AT_LEAST_1,
    "size": Bound(16, 1024),
    "classes": Bound(2, 1000),
    "max_minutes": POSITIVE,
    "iterations": AT_LEAST_1, "critic_steps": AT_LEAST_1, "eval_every": AT_LEAST_1,
    "clip": POSITIVE, "bins": Bound(2, 1000),
    "flower_label": NON_NEGATIVE,
    "edit_images": Bound(1, MAX_IMAGES),
    "swap_pairs": Bound(1, MAX_IMAGES),
}
COMMAND_BOUNDS: dict[tuple[str, str], Bound] = {
    ("morph", "steps"): Bound(2, 256),                 # frames of one strip
    ("evaluate", "per_class"): Bound(1, MAX_IMAGES),
    ("demo", "per_class"): Bound(10, 5_000),
    ("train", "batch_size"): Bound(2, 65_536),          # batch norm needs two images
    ("judge_train", "width"): Bound(1, 512),            # base channels of the judge CNN
    ("judge_train", "epochs"): Bound(1, 10_000),
}


def check_options(command: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Raise ValueError("--flag VALUE: must be …") for the first option outside its bound."""
    params = inspect.signature(fn).parameters
    for name, value in kwargs.items():
        bound = COMMAND_BOUNDS.get((command, name)) or BOUNDS.get(name)
        if bound is None and isinstance(value, float):
            bound = FINITE
        problem = bound.problem(value) if bound is not None else None
        if problem:
            raise ValueError(f"{_flag(params.get(name), name)} {value}: {problem}")


def _flag(param: inspect.Parameter | None, name: str) -> str:
    decls = getattr(getattr(param, "default", None), "param_decls", None) or ()
    longs = [d for d in decls if d.startswith("--")]
    return (longs or list(decls) or ["--" + name.replace("_", "-")])[0]
