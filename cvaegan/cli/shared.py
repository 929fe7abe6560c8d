"""Options that many commands share, declared once so that their names, defaults and help agree."""

from __future__ import annotations

from pathlib import Path

import typer

CKPT = typer.Option(None, "--ckpt", help="Checkpoint (default: newest runs/*/checkpoints/latest.pt).")
RUNS = typer.Option(Path("runs"), "--runs", help="Where to look for the newest checkpoint.")
DEVICE = typer.Option("auto", "--device", help="auto, cpu or cuda.")
PRECISION = typer.Option("auto", "--precision", help="auto, bf16 or fp32 (auto: bf16 where the device computes "
                         "it natively: CUDA, CPUs with AVX512-BF16/AMX).")

# Input photos of the face applications (inpaint, morph): raw photos are detected and aligned
# with prepare's detector, aligned crops are read as training reads its images.
RAW = typer.Option(False, "--raw", help="Inputs are photos: detect and align the face.")
ALIGNED = typer.Option(False, "--aligned", help="Inputs are aligned crops (no detection).")
DETECTOR = typer.Option(None, "--detector", help="Face detector ONNX for raw photos (default: prepare's default "
                        "detector).")
FACE = typer.Option(None, "--face", help="Which face of a photo with several (0 = largest).")
