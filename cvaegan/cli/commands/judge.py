"""`cvaegan judge train DATA`: the independent classifier that `cvaegan evaluate` scores with, or
(`--attributes`) the multi-label attribute judge that scores attribute edits."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.evaluation.judge import JudgeTrainOptions, JudgeTrainResult, train_judge

EPILOG = """[bold]Examples[/]

  cvaegan judge train data/faces -r 32      [dim]# judges/faces-32.pt (+ .json)[/]
  cvaegan judge train data/faces -r 64 --epochs 40 --out judges/faces64.pt
  [dim]# when dataset.json records no split[/]
  cvaegan judge train data/faces --heldout 0.2 --seed 1
  [dim]# attribute judge over dataset.json's targets (or --attributes all)[/]
  cvaegan judge train data/celeba -r 64 --attributes Smiling,Eyeglasses
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
    attributes: str = typer.Option(None, "--attributes", help="Comma-separated target names of DATA's "
                                   "dataset.json, or 'all': a multi-label attribute judge (sigmoid per "
                                   "attribute) instead of the class judge."),
    balance: bool = typer.Option(True, "--balance/--no-balance", help="Attributes: weight rare attributes' "
                                 "positives by the train split's negatives/positives."),
) -> None:
    """Train an independent classifier (a small ResNet, not the model's C) on the real images of DATA,
    holding out a per-class split it never sees; save it with the split recorded. With --attributes,
    a multi-label judge of DATA's binary targets instead (per-attribute balanced accuracy reported)."""
    console = Console(stderr=True)
    res = train_judge(JudgeTrainOptions(data=data, out=out, resolution=resolution, width=width, epochs=epochs,
                                        batch_size=batch_size, lr=lr, weight_decay=weight_decay, heldout=heldout,
                                        seed=seed, device=device, workers=workers, cache_dir=cache_dir,
                                        attributes=attributes, balance=balance), console)
    if res.kind == "attributes":
        console.print(attribute_summary(res))
    else:
        console.print(f"judge trained in {res.seconds:.0f} s on {res.n_train} images; held-out top-1 "
                      f"{res.heldout_acc:.1%} on {res.n_heldout} images ({res.split_source} split), "
                      f"train top-1 {res.train_acc:.1%}")
    typer.echo(f"judge: {res.path}")


def attribute_summary(res: JudgeTrainResult) -> str:
    """Per-attribute held-out balanced accuracy on one wrapped paragraph ("Smiling 91%"; base rate
    in brackets when an attribute is rare or common, where plain accuracy would mislead)."""
    held = res.heldout_attributes or {}
    parts = []
    for name, m in held.items():
        bal, rate = m.get("balanced_accuracy"), m.get("base_rate")
        text = f"{escape(name)} {bal:.0%}" if bal is not None else f"{escape(name)} n/a"
        if rate is not None and not 0.1 <= rate <= 0.9:
            text += f" [dim]({rate:.0%} on)[/]"
        parts.append(text)
    bals = [m["balanced_accuracy"] for m in held.values() if m.get("balanced_accuracy") is not None]
    mean = f"mean {sum(bals) / len(bals):.1%}" if bals else "mean n/a"
    return (f"attribute judge trained in {res.seconds:.0f} s on {res.n_train} images; held-out balanced accuracy "
            f"on {res.n_heldout} images ({res.split_source} split), {mean}: " + ", ".join(parts))


judge_app.command("train", epilog=EPILOG)(cli_errors(judge_train_cmd))


def register(app: typer.Typer) -> None:
    app.add_typer(judge_app, name="judge")
