"""`cvaegan prepare`."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console

from cvaegan.cli.errors import cli_errors
from cvaegan.prepare.common import KINDS, PrepareOptions

EPILOG = """[bold]Examples[/]

  [dim]# RAW/<identity>/<photo>[/]
  cvaegan prepare faces lfw/ --out data/lfw
  cvaegan prepare faces img_celeba/ --identities identity_CelebA.txt \\
      --out data/celeba
  [dim]# the lists + RAW/<name>/[/]
  cvaegan prepare facescrub facescrub/ --download --out data/facescrub
  [dim]# jpg/ segmim/ imagelabels.mat setid.mat[/]
  cvaegan prepare flowers 102flowers/ --out data/flowers
  cvaegan prepare flowers oxford17/ --masks labelmap --out data/flowers17
  cvaegan prepare cub CUB_200_2011/ --bbox --out data/cub
  [dim]# img_align_celeba/ list_attr_celeba.txt (+ identities, partition)[/]
  cvaegan prepare celeba celeba/ --size 64 --out data/celeba
  [dim]# labels.csv + <NNN_c>/imgNNN-FFFFF.png (Chars74K fonts: split by font)[/]
  cvaegan prepare chars chars74k_fnt/ --size 32 --out data/chars
  [dim]# any ImageFolder tree[/]
  cvaegan prepare folder my_photos/ --size 64 --out data/mine

Faces are aligned with a similarity transform to a 5-point template with
the nose tip at the crop centre (coordinates in dataset.json). Reruns skip
finished images; rejects.jsonl says why each unusable image was left out.
"""


def prepare_cmd(
    kind: str = typer.Argument(..., help=f"What RAW holds: {', '.join(KINDS)}."),
    raw: Path = typer.Argument(..., help="The raw download (see the examples for each kind's layout)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: <class>/<crop>.png and dataset.json."),
    size: int = typer.Option(128, "--size", help="Crop side in pixels (the paper: 128)."),
    workers: int = typer.Option(0, "--workers", "-j", help="Worker processes (0: one per CPU core)."),
    detector: Path = typer.Option(None, "--detector", help="SCRFD ONNX file with keypoints "
                                  "(default: insightface's ~/.insightface/models/buffalo_l/det_10g.onnx)."),
    pick: str = typer.Option("largest", "--pick", help="Several faces: keep the largest, center or score."),
    min_face: int = typer.Option(32, "--min-face", help="Reject faces whose box is smaller (pixels)."),
    det_thresh: float = typer.Option(0.5, "--det-thresh", help="Detector score threshold."),
    masks: str = typer.Option("segmim", "--masks", help="flowers: segmim (blue background) or labelmap."),
    flower_label: int = typer.Option(1, "--flower-label", help="flowers --masks labelmap: the flower's value."),
    bbox: bool = typer.Option(False, "--bbox", help="cub: crop to the bird's box (square) first."),
    fit: str = typer.Option("crop", "--fit", help="cub/folder: centre crop, pad to square, or squash."),
    identities: Path = typer.Option(None, "--identities", help="faces: '<file> <identity>' list for a flat RAW."),
    reference_style: str = typer.Option(None, "--reference-style", help="chars: the font whose glyphs are the "
                                        "plain content images (default 1; always train)."),
    download: bool = typer.Option(False, "--download", help="facescrub: fetch the listed URLs first."),
    download_workers: int = typer.Option(8, "--download-workers", help="Parallel downloads."),
    timeout: float = typer.Option(20.0, "--timeout", help="Download timeout per connection/read (s)."),
    retries: int = typer.Option(3, "--retries", help="Download retries after network errors."),
    max_mb: float = typer.Option(20.0, "--max-mb", help="Download size cap per image (MiB)."),
    deadline: float = typer.Option(120.0, "--deadline", help="Download time cap per image, all tries (s)."),
    allow_private_hosts: bool = typer.Option(False, "--allow-private-hosts", help="Also fetch from loopback, "
                                             "link-local and private addresses (refused by default)."),
    limit: int = typer.Option(None, "--limit", help="At most this many images per class (a quick try)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Redo OUT even if made with other options."),
    seed: int = typer.Option(0, "--seed", help="Recorded only: preparing is deterministic."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (the detector's ONNX provider)."),
) -> None:
    """Turn raw downloads into aligned training crops plus dataset.json (paper §5)."""
    from cvaegan.runtime.errors import CvaeganError
    from cvaegan.prepare.runner import prepare, summary_tables

    if device not in ("auto", "cpu", "cuda"):
        raise CvaeganError(f"--device {device}: choose auto, cpu or cuda")
    opts = PrepareOptions(
        kind=kind, raw=raw, out=out, size=size, workers=workers or min(os.cpu_count() or 1, 16),
        detector=detector, pick=pick, min_face=min_face, det_thresh=det_thresh, masks=masks,
        flower_label=flower_label, bbox=bbox, fit=fit, identities=identities,
        reference_style=reference_style, download=download,
        download_workers=download_workers, timeout=timeout, retries=retries,
        max_bytes=int(max_mb * 1024 * 1024), deadline=deadline,
        allow_private_hosts=allow_private_hosts, limit=limit, overwrite=overwrite, device=device, seed=seed)
    console = Console(stderr=True)
    res = prepare(opts, console)
    for table in summary_tables(res):
        console.print(table)
    for note in res.notes:
        console.print(f"[dim]note: {note}[/]")
    done = (f"processed {res.processed} images in {res.seconds:.1f} s ({res.images_per_s:.1f} img/s)"
            if res.processed else "nothing to do: every image was already prepared")
    typer.echo(f"{done}; {res.kept} crops in {res.out}, manifest {res.manifest.name}, "
               f"{res.rejected} images rejected (rejects.jsonl)")


def register(app: typer.Typer) -> None:
    app.command("prepare", epilog=EPILOG)(cli_errors(prepare_cmd))
