"""`cvaegan demo`: the embedded default, no download, CPU is enough."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.pipelines.demo import DemoOptions, run_demo

EPILOG = """[bold]Examples[/]

  cvaegan demo                          [dim]# ~5½ min on 2 CPU cores[/]
  cvaegan demo --steps 200 --out /tmp/quick
  cvaegan demo --resolution 64 --steps 3000 --device cuda
"""


def demo_cmd(
    out: Path = typer.Option(Path("demo_out"), "--out", help="Folder for the data, the run and report.html."),
    classes: int = typer.Option(8, "--classes", help="Number of cartoon identities."),
    per_class: int = typer.Option(200, "--per-class", help="Images per identity."),
    resolution: int = typer.Option(32, "--resolution", "-r", help="32 or 64 on the CPU."),
    width: float = typer.Option(0.25, "--width", help="Channel multiplier of the networks."),
    latent_dim: int = typer.Option(32, "--latent-dim", help="Size of z (the cartoon faces need few)."),
    batch_size: int = typer.Option(64, "--batch-size", "-b"),
    steps: int = typer.Option(1500, "--steps", help="Training steps (the time cap may stop it earlier)."),
    max_minutes: float = typer.Option(5.0, "--max-minutes", help="Training budget: it ends after this long "
                                      "or at --steps, whichever comes first; the rates fall to 0 "
                                      "over its last 30 %."),
    seed: int = typer.Option(0, "--seed"),
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
) -> None:
    """Generate cartoon faces of a few identities, train CVAE-GAN on them, and write an HTML report
    (per-class samples, same-z-every-class, reconstructions, loss curves)."""
    console = Console(stderr=True)
    res = run_demo(DemoOptions(out=out, classes=classes, per_class=per_class, resolution=resolution, width=width,
                               latent_dim=latent_dim, batch_size=batch_size, steps=steps, max_minutes=max_minutes, seed=seed,
                               device=device, precision=precision), console)
    s = res.stats
    rec = s["heldout_reconstruction"]
    console.print(f"trained {s['steps']} steps in {s['train_seconds']:.0f} s ({s['images_per_s']:.0f} img/s); "
                  f"C recognises {s['c_accuracy_on_generated']:.0%} of generated faces (chance {s['chance']:.0%}); "
                  f"held-out reconstructions {rec['psnr_db']:.1f} dB PSNR; artifact ratio of samples "
                  f"{s['artifact_ratios_samples']['worst']:.2f} (1 = like real)")
    typer.echo(f"report: {res.report.resolve()}")


def register(app: typer.Typer) -> None:
    app.command("demo", epilog=EPILOG)(cli_errors(demo_cmd))
