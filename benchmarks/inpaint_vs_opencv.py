"""Masked-region PSNR of Eq. 8 inpainting against OpenCV's cv2.inpaint (Telea and Navier–Stokes) on
the same masks over held-out crops (`cvaegan.evaluation.baselines.inpaint_vs_opencv`). Prints a
table; writes JSON to benchmarks/results/.

    python benchmarks/inpaint_vs_opencv.py --ckpt runs/faces/checkpoints/latest.pt --data data/faces
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.evaluation.baselines import inpaint_vs_opencv  # noqa: E402
from cvaegan.session import open_session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, default=None, help="default: newest runs/*/checkpoints/latest.pt")
    ap.add_argument("--data", type=Path, required=True, help="dataset; its test split is used when it has one")
    ap.add_argument("--limit", type=int, default=200, help="at most this many crops")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--radius", type=int, default=3, help="cv2.inpaint's inpaintRadius")
    ap.add_argument("--oracle-class", action="store_true", help="condition on the true label, not C's posterior")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()

    loaded = open_session(args.ckpt, device=args.device, needs=("reconstruct",), purpose="inpainting")
    rec = inpaint_vs_opencv(loaded, args.data, args.limit, args.iters, args.radius, args.oracle_class)
    print(f"\nmasked-region PSNR (dB, mean over {rec['images']} {rec['split'] or 'all'} crops at "
          f"{rec['resolution']}×{rec['resolution']}, {rec['patch_pixels']}-pixel patch; class: "
          f"{'true label' if args.oracle_class else 'C posterior'})")
    for k, v in rec["psnr_masked_db"].items():
        print(f"  {k:<34}{v:8.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "inpaint_vs_opencv.json"
    out.write_text(json.dumps(rec, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
