"""Masked-region PSNR of Eq. 8 inpainting against OpenCV's cv2.inpaint (Telea and Navier–Stokes) on
the same masks over held-out crops. Mask per image: §5.4's random 50×50-at-128 patch (scaled with
the resolution), seeded by the image's position; the masked pixels start grey for our method
(OpenCV ignores them). Class: C's posterior on the corrupted crop, as the CLI does (or the true
label with --oracle-class). Prints a table; writes JSON to benchmarks/results/.

    python benchmarks/inpaint_vs_opencv.py --ckpt runs/faces/checkpoints/latest.pt --data data/faces
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch

from cvaegan_cli.apps.common import choose_class, load_model, psnr, read_crop, tensor_to_array
from cvaegan_cli.apps.inpaint import box_mask, fill_masked, inpaint, random_patch
from cvaegan_cli.images import from_uint8
from cvaegan_cli.manifest import index_dataset


def opencv(x: torch.Tensor, mask: np.ndarray, method: int, radius: int) -> torch.Tensor:
    bgr = cv2.cvtColor(tensor_to_array(x), cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, mask.astype(np.uint8) * 255, radius, method)
    rgb = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return from_uint8(torch.from_numpy(rgb).permute(2, 0, 1))


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

    loaded = load_model(args.ckpt, device=args.device, purpose="inpainting")
    res = loaded.resolution
    index = index_dataset(args.data)
    split = "test" if "test" in index.splits else None
    if split:
        index = index.subset(split)
    files, labels = index.files[: args.limit], index.labels[: args.limit]
    names = index.class_names
    x = torch.stack([read_crop(f, res) for f in files])
    masks = [box_mask(res, res, random_patch(res, i)) for i in range(len(x))]
    m = torch.stack([torch.from_numpy(mk)[None] for mk in masks])
    x0 = torch.stack([fill_masked(xi, mi, "grey", 0) for xi, mi in zip(x, m)])
    if args.oracle_class:
        ckpt_index = {n: i for i, n in enumerate(loaded.class_names)}
        c = loaded.model.class_vector(torch.tensor([ckpt_index[names[y]] for y in labels]))
    else:
        c = torch.stack([choose_class(loaded, xi, None).vector for xi in x0])
    steps = inpaint(loaded, x0, m, c, args.iters)

    def score(imgs: list[torch.Tensor]) -> float:
        return float(np.mean([psnr(a, b, mk) for a, b, mk in zip(imgs, x, m)]))

    table = {"grey fill (start)": score(list(x0))}
    for k in sorted({1, min(5, args.iters), args.iters}):
        table[f"ours, Eq. 8 × {k}"] = score(list(steps[k]))
    table["cv2 Telea"] = score([opencv(xi, mk, cv2.INPAINT_TELEA, args.radius) for xi, mk in zip(x0, masks)])
    table["cv2 Navier–Stokes"] = score([opencv(xi, mk, cv2.INPAINT_NS, args.radius) for xi, mk in zip(x0, masks)])

    print(f"\nmasked-region PSNR (dB, mean over {len(x)} {split or 'all'} crops at {res}×{res}, "
          f"{int(masks[0].sum())}-pixel patch; class: {'true label' if args.oracle_class else 'C posterior'})")
    for k, v in table.items():
        print(f"  {k:<22}{v:8.2f}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "inpaint_vs_opencv.json"
    out.write_text(json.dumps({"checkpoint": str(loaded.path), "step": loaded.step, "data": str(args.data),
                               "split": split, "images": len(x), "resolution": res, "iters": args.iters,
                               "radius": args.radius, "oracle_class": args.oracle_class,
                               "psnr_masked_db": {k: round(v, 3) for k, v in table.items()}}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
