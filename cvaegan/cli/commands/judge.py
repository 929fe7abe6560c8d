"""`cvaegan judge train DATA`: the independent classifier that `cvaegan evaluate` scores with."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.evaluation.judge import JudgeTrainOptions, train_judge

EPILOG = """[bold]Examples[/]

  cvaegan judge train data/faces -r 32      [dim]# judges/faces-32.pt (+ .json)[/]
  cvaegan judge train data/faces -r 64 --epochs 40 --out judges/faces64.pt
  [dim]# when dataset.json records no split[/]
  cvaegan judge train data/faces --heldout 0.2 --seed 1
"""

judge_app = typer.Typer(help="Train the judge classifier used by `cvaegan evaluate`.", no_args_is_help=True,
                        rich_markup_mode="rich")


def judge_train_cmd(
    data: Path = typer.Argument(..., help="Dataset: DATA/<class>/<image> folders, optionally with dataset.json."),
    resolution: int = typer.Option(32, "--resolution", "-r", help="Judge input size (use the model's)."),
    width: int = typer.Option(32, "--width", help="Channels of the first ResNet stage (features: 4×)."),
    epochs: int = typer.Option(30, "--epochs"),
    batch_size: int = typer.Option(64, "--batch-size", "-b"),
    lr: float = typer.Option(2e-3, "--lr", help="Peak AdamW learning rate (one-cycle schedule)."),
    weight_decay: float = typer.Option(0.05, "--weight-decay"),
    heldout: float = typer.Option(0.1, "--heldout", help="Per-class held-out fraction when the manifest "
                                  "records no split (its 'test' items are used when it does)."),
    out: Path = typer.Option(None, "--out", "-o", help="Judge checkpoint (default judges/<data>-<R>.pt)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the held-out split, the init and the batches."),
    device: str = shared.DEVICE,
    workers: int = typer.Option(2, "--workers", help="Processes decoding images into the cache."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Where the decoded-image cache lives."),
) -> None:
    """Train an independent classifier (a small ResNet, not the model's C) on the real images of DATA,
    holding out a per-class split it never sees; save it with the split recorded."""
    console = Console(stderr=True)
    res = train_judge(JudgeTrainOptions(data=data, out=out, resolution=resolution, width=width, epochs=epochs,
                                        batch_size=batch_size, lr=lr, weight_decay=weight_decay, heldout=heldout,
                                        seed=seed, device=device, workers=workers, cache_dir=cache_dir), console)
    console.print(f"judge trained in {res.seconds:.0f} s on {res.n_train} images; held-out top-1 "
                  f"{res.heldout_acc:.1%} on {res.n_heldout} images ({res.split_source} split), "
                  f"train top-1 {res.train_acc:.1%}")
    typer.echo(f"judge: {res.path}")


judge_app.command("train", epilog=EPILOG)(cli_errors(judge_train_cmd))


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")
