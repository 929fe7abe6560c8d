"""`cvaegan evaluate`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.evaluation.edits import edit_table
from cvaegan.evaluation.evaluate import EvaluateOptions, evaluate, results_table
from cvaegan.evaluation.stylize import stylize_table
from cvaegan.evaluation.swap import swap_table
from cvaegan.runtime.checkpoint_io import resolve_checkpoint

EPILOG = """[bold]Examples[/]

  [dim]# a judge trained on the model's data, then the newest checkpoint[/]
  cvaegan judge train data/faces -r 32
  cvaegan evaluate --judge judges/faces-32.pt --data data/faces
  cvaegan evaluate --ckpt runs/faces-cgan/checkpoints/latest.pt \\
      --judge judges/faces-32.pt --data data/faces
  cvaegan evaluate --judge J.pt --data data/faces --per-class 100 \\
      --inception ~/inception_v3_google.pth
  [dim]# an attribute editor (ifcvaegan): an attribute judge[/]
  cvaegan judge train data/celeba -r 64 --attributes all
  cvaegan evaluate --judge judges/celeba-64-attributes.pt \\
      --data data/celeba --edit-images 500
  [dim]# a swap model on unseen people: dlib's embedding, SCRFD landmarks[/]
  cvaegan evaluate --data data/faces-openset \\
      --detector ~/.insightface/models/buffalo_l/det_10g.onnx
  [dim]# … on the cartoons: a judge of the test people is the embedding[/]
  cvaegan evaluate --judge judges/test-people-32.pt \\
      --data data/cartoons-openset
"""


def evaluate_cmd(
    judge: Path = typer.Option(None, "--judge", help="Judge checkpoint from `cvaegan judge train` (needed by "
                               "every model but an identity swapper scored with dlib)."),
    data: Path = typer.Option(..., "--data", help="The dataset the judge was trained on (its held-out images)."),
    ckpt: Path = shared.CKPT,
    runs: Path = shared.RUNS,
    per_class: int = typer.Option(100, "--per-class", "-n", help="Generated samples per class (paper: 100)."),
    inception: Path = typer.Option(None, "--inception", help="torchvision Inception-v3 weights (.pth) on disk: "
                                   "also report the standard FID."),
    out: Path = typer.Option(None, "--out", "-o", help="JSON record (default: <run>/eval/evaluate-...json); "
                             "a grid of samples is written beside it."),
    seed: int = typer.Option(0, "--seed", help="z ~ N(0, I) is drawn from this seed."),
    edit_images: int = typer.Option(1000, "--edit-images", help="Attribute editors: held-out images to edit "
                                    "(a seeded subset when there are more)."),
    swap_pairs: int = typer.Option(1000, "--swap-pairs", help="Identity swappers: (identity source, attributes "
                                   "source) pairs of unseen people."),
    identity: str = typer.Option("auto", "--identity", help="Identity swappers' identity embedding: dlib, judge, "
                                 "or auto (the judge on the demo cartoons, dlib otherwise)."),
    faceid_model: Path = typer.Option(None, "--faceid-model", help="Folder with dlib's "
                                      "shape_predictor_5_face_landmarks.dat and "
                                      "dlib_face_recognition_resnet_model_v1.dat (default: the "
                                      "face_recognition_models package)."),
    detector: Path = typer.Option(None, "--detector", help="Identity swappers: SCRFD ONNX file with keypoints, for "
                                  "the landmark agreement of swaps with their attributes source (else skipped)."),
    batch_size: int = typer.Option(256, "--batch-size", "-b"),
    device: str = shared.DEVICE,
    precision: str = shared.PRECISION,
    workers: int = typer.Option(2, "--workers"),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Where the decoded-image cache lives."),
) -> None:
    """Score a checkpoint: judge top-1 and realism (Table 1), FID-style distance, diversity and
    reconstruction error, for generated samples of every class against held-out real images; for
    an attribute editor, edit success, attributes kept, identity kept and E's accuracy."""
    path = resolve_checkpoint(ckpt, runs)
    console = Console(stderr=True)
    rec = evaluate(EvaluateOptions(ckpt=path, judge=judge, data=data, per_class=per_class, seed=seed, device=device,
                                   precision=precision, batch_size=batch_size, inception=inception, out=out,
                                   workers=workers, cache_dir=cache_dir, edit_images=edit_images,
                                   swap_pairs=swap_pairs, identity=identity, faceid_model=faceid_model,
                                   detector=detector), console)
    tables = {"edit": edit_table, "stylize": stylize_table, "swap": swap_table}
    Console().print(tables.get(rec.get("kind"), results_table)(rec))
    for note in rec.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    typer.echo(f"wrote {rec['json']}")


def register(app: typer.Typer) -> None:
    app.command("evaluate", epilog=EPILOG)(cli_errors(evaluate_cmd))
