"""`cvaegan augment` (§5.6)."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from cvaegan.apps.augment import AugmentOptions, augment, dry_run
from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.session import open_session

EPILOG = """[bold]Examples[/]

  [dim]# §5.6 strategy 1, and strategy 2 (5k new identities × 100)[/]
  cvaegan augment --per-class 200 --out aug/
  cvaegan augment --new-identities 5000 --per-identity 100 --out aug/
  [dim]# count and disk size only[/]
  cvaegan augment --new-identities 5000 --per-identity 100 --dry-run
  [dim]# real + synthetic in aug/merged/ (symlinks), then train on it[/]
  cvaegan augment --per-class 200 --merge-with data/faces --out aug/
  cvaegan train aug/merged
  [dim]# a saae model: every character in the font of each image in fonts/[/]
  cvaegan augment --style-from fonts/ --merge-with data/chars --out aug/

Writes OUT/<class>/<nnnnn>.png, OUT/dataset.json (each new identity's
classes, weights and seed; with --style-from each image's style) and
OUT/augment.json (plan and run record). Rerunning the same command resumes
an interrupted run (with --style-from: only with the same style images).
"""


def augment_cmd(
    per_class: int = typer.Option(0, "--per-class", help="New images for every existing class."),
    new_identities: int = typer.Option(0, "--new-identities", help="New identities, each mixing 3 classes."),
    per_identity: int = typer.Option(0, "--per-identity", help="Images per new identity."),
    style_from: Path = typer.Option(None, "--style-from", help="Folder of style images (e.g. one per new "
                                    "font): every class drawn in each one's style, image j of a class in "
                                    "the style of the j-th file (sorted paths); a 'stylize' model (saae). "
                                    "An unreadable image is an error."),
    merge_with: Path = typer.Option(None, "--merge-with", help="Real dataset to combine with: writes "
                                    "OUT/merged (symlinks + dataset.json), no image copied."),
    out: Path = typer.Option(Path("augmented"), "--out", "-o", help="Output dataset folder."),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Images per generator batch."),
    writers: int = typer.Option(min(8, os.cpu_count() or 1), "--writers", help="PNG writer threads."),
    png_level: int = typer.Option(1, "--png-level", help="PNG compression 0-9 (1: fast, ~15% larger than 6)."),
    no_fsync: bool = typer.Option(False, "--no-fsync", help="Skip fsync per image (faster on slow disks; a "
                                  "killed run still leaves no partial file, an OS crash might)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty OUT that holds no "
                                   "augment run (refused otherwise, so no dataset is replaced by mistake)."),
    dry: bool = typer.Option(False, "--dry-run", help="Print what would be written and its disk size."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    seed: int = typer.Option(0, "--seed", help="Seeds the identities' classes and weights and every z."),
    device: str = shared.DEVICE,
    precision: str = typer.Option("auto", "--precision", help="auto, bf16 or fp32 (auto: bf16 where the device "
                                  "computes it natively); recorded in augment.json and kept on resume."),
) -> None:
    """Generate synthetic training data: more images of existing classes and/or new mixed identities,
    or every class in the styles of example images."""
    opts = AugmentOptions(per_class=per_class, new_identities=new_identities, per_identity=per_identity,
                          seed=seed, batch_size=batch_size, writers=writers, png_level=png_level,
                          fsync=not no_fsync, precision=precision, overwrite=overwrite, style_from=style_from)
    opts.validate()  # option conflicts before the checkpoint is read
    purpose = "augment --style-from" if style_from is not None else "augment"
    loaded = open_session(ckpt, runs, device, precision, needs=opts.needs, purpose=purpose)
    opts.validate(loaded.num_classes)
    if dry:
        d = dry_run(loaded, out, opts)
        styled = f" ({d.units:,} classes × {d.total // max(d.units, 1):,} styles)" if style_from is not None else ""
        typer.echo(f"would write {d.pending:,} images ({d.total:,} planned, {d.existing:,} already in {out}) "
                   f"in {d.units:,} class folders{styled}, {loaded.resolution}×{loaded.resolution} PNG, about "
                   f"{_size(d.bytes)} ({_size(d.bytes_per_image)} an image, from {d.sampled} rendered samples)"
                   + (f"; plus {merge_with} merged by symlinks under {out / 'merged'}" if merge_with else ""))
        return
    res = augment(loaded, out, opts, merge_with=merge_with, console=Console(stderr=True))
    typer.echo(f"{res.written:,} images written, {res.skipped:,} already there, {res.total:,} in {out} "
               f"({res.images_per_s:,.1f} images/s on {loaded.device}); manifest {res.manifest}"
               + (f"; merged dataset {res.merged}" if res.merged else ""))


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:,.1f} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1000
    return f"{n:.1f} TB"


def register(app: typer.Typer) -> None:
    app.command("augment", epilog=EPILOG)(cli_errors(augment_cmd))
