"""`cvaegan toy`: §4's ring, Fig. 4's panel, and the claim as numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import torch
import typer
from rich.console import Console
from rich.table import Table

from cvaegan import __version__
from cvaegan.cli.errors import cli_errors
from cvaegan.pipelines.toy import METHODS, ToyConfig, config_record, default_snapshots, panel_image, save_panel, train_toy
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import check_out_dir
from cvaegan.runtime.progress import make_progress

EPILOG = """[bold]Examples[/]

  cvaegan toy          [dim]# paper settings, CPU-sized budget → toy_out/[/]
  cvaegan toy --iterations 100000 --snapshots 0,1000,10000,50000,100000
  cvaegan toy --methods gan,meanfm --seed 3 --out toy_seed3
"""


def toy_cmd(
    methods: str = typer.Option(",".join(METHODS), "--methods", help="Comma-separated: gan, wgan, meanfm."),
    iterations: int = typer.Option(ToyConfig.iterations, "--iterations", help="G steps per method (paper: 2M)."),
    snapshots: str = typer.Option(None, "--snapshots", help="Iterations shown in the panel, comma-separated "
                                  "(default: 5 evenly spaced, 0 to --iterations)."),
    lr: float = typer.Option(ToyConfig.lr, "--lr", help="RMSProp learning rate, all methods (paper: 5e-5)."),
    batch_size: int = typer.Option(ToyConfig.batch_size, "--batch-size", "-b"),
    critic_steps: int = typer.Option(ToyConfig.critic_steps, "--critic-steps", help="D steps per G step."),
    clip: float = typer.Option(ToyConfig.clip, "--clip", help="WGAN weight-clipping bound."),
    eval_every: int = typer.Option(ToyConfig.eval_every, "--eval-every", help="Measure coverage every N steps."),
    bins: int = typer.Option(ToyConfig.bins, "--bins", help="Angular sectors of the ring for coverage."),
    seed: int = typer.Option(0, "--seed"),
    out: Path = typer.Option(Path("toy_out"), "--out", "-o", help="Folder for toy.png and toy.json."),
    device: str = typer.Option("cpu", "--device", help="cpu (tiny MLPs: the CPU is the fast choice), auto or cuda."),
) -> None:
    """Train a GAN, a WGAN and a mean-feature-matching GAN on the 2-D ring of §4 / Fig. 4 and
    measure, over iterations, the ring coverage (fraction of angular sectors with a generated point
    on the ring) and the mean distance of generated points to the ring."""
    check_out_dir(out)
    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in chosen if m not in METHODS]
    if bad or not chosen:
        raise CvaeganError(f"unknown method(s) {', '.join(bad) or '(none)'}; choose from {', '.join(METHODS)}")
    try:
        snaps = sorted({int(s) for s in snapshots.split(",")}) if snapshots else default_snapshots(iterations)
    except ValueError:
        raise CvaeganError(f"--snapshots must be comma-separated integers, got {snapshots!r}") from None
    if any(not 0 <= s <= iterations for s in snaps):
        raise CvaeganError(f"--snapshots must lie in 0..{iterations}")
    try:
        cfgs = [ToyConfig(method=m, iterations=iterations, lr=lr, batch_size=batch_size, critic_steps=critic_steps,
                          clip=clip, eval_every=eval_every, bins=bins, seed=seed, device=device) for m in chosen]
    except ValueError as exc:
        raise CvaeganError(str(exc)) from exc
    console = Console(stderr=True)
    runs = []
    with make_progress(console) as prog:
        for cfg in cfgs:
            task = prog.add_task(f"toy {cfg.method}", total=iterations, info="")
            runs.append(train_toy(cfg, snaps, progress=lambda it, t=task: prog.update(t, completed=it)))
            last = runs[-1].history[-1]
            prog.update(task, info=f"coverage {last['coverage']:.0%}  ring dist {last['ring_dist']:.3g}")
    panel = save_panel(panel_image(runs, snaps, cfgs[0].ring, seed), out / "toy.png")
    summaries = [r.summary() for r in runs]
    atomic_write_json(out / "toy.json", {
        "command": "toy", "config": config_record(cfgs[0]), "methods": chosen, "snapshots": snaps,
        "summary": summaries, "history": {r.method: r.history for r in runs}, "panel": str(panel),
        "meta": {"cvaegan": __version__, "torch": str(torch.__version__),
                 "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}})
    table = Table(title=f"toy ring, {iterations:,} iterations, lr {lr:g}, seed {seed}")
    for col in ("method", "final coverage", "mean coverage", "final ring dist", "≥90% coverage at", "seconds"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for s in summaries:
        reached = s["first_iteration_coverage_ge_0.9"]
        table.add_row(s["method"], f"{s['final_coverage']:.0%}", f"{s['mean_coverage']:.0%}",
                      f"{s['final_ring_dist']:.3g}", "never" if reached is None else f"{reached:,}",
                      f"{s['seconds']:.0f}")
    Console().print(table)
    typer.echo(f"wrote {panel} and {out / 'toy.json'}")


def register(app: typer.Typer) -> None:
    app.command("toy", epilog=EPILOG)(cli_errors(toy_cmd))
