"""Images/s of `cvaegan prepare faces` against insightface's own `FaceAnalysis` pipeline on the same
photos with the same detector, plus the fraction of photos aligned and the landmark error on the
crops (the detector run again on each crop, distance of its 5 landmarks to the template each side
was aligned to, in pixels at --size and as a fraction of the template's eye distance).

Both sides do the whole job: decode, detect, keep the largest face, warp a --size crop, write a PNG.
FaceAnalysis (detection module only) runs as insightface documents it: `prepare(ctx_id=-1)` with its
default det sizes (this insightface runs 128×128 and 640×640 on every photo) and, as a second row,
`det_size=(640, 640)`; crops with insightface's `norm_crop` (ArcFace template). Ours runs through
`cvaegan.prepare.runner.prepare` with 1 and N workers, wall time including the worker start.

    python benchmarks/prepare_throughput.py --n 60 --workers 1 2
    python benchmarks/prepare_throughput.py --photos /data/lfw --n 1000 --workers 1 8 --detector ~/.insightface/models/buffalo_l/det_10g.onnx
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CVAEGAN_TEST_DATA", REPO.parent / "shared" / "data"))


def pick_photos(root: Path, n: int) -> list[Path]:
    """n photos spread evenly over the identity folders (deterministic)."""
    per = {d: sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
           for d in sorted(root.iterdir()) if d.is_dir()}
    out, i = [], 0
    while len(out) < n and any(per.values()):
        for d in per:
            if i < len(per[d]) and len(out) < n:
                out.append(per[d][i])
        i += 1
    return out


def landmark_errors(detector, crops: list[np.ndarray], template: np.ndarray) -> np.ndarray:
    """Per-point distance (px) between landmarks re-detected on each crop and the template; NaN rows
    where the crop holds no face."""
    errs = []
    for crop in crops:
        faces = detector.detect(crop)
        errs.append(np.linalg.norm(faces[0].landmarks - template, axis=1) if faces else np.full(5, np.nan))
    return np.array(errs)


def run_faceanalysis(photos: list[Path], model: Path, size: int, det_size, out: Path) -> dict:
    from insightface.app import FaceAnalysis
    from insightface.utils import face_align

    pack = Path(tempfile.mkdtemp(prefix="fa_pack_"))
    shutil.copy(model, pack / "det.onnx")  # a local pack folder: FaceAnalysis never downloads
    out.mkdir(parents=True, exist_ok=True)
    t_load = time.perf_counter()
    app = FaceAnalysis(name=str(pack), allowed_modules=["detection"], providers=["CPUExecutionProvider"])
    app.prepare(ctx_id=-1, det_size=det_size)
    t0 = time.perf_counter()
    crops = []
    for i, p in enumerate(photos):
        img = cv2.imread(str(p))
        faces = app.get(img) if img is not None else []
        if faces:
            f = max(faces, key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]))
            crop = face_align.norm_crop(img, f.kps, image_size=size)
            cv2.imwrite(str(out / f"{i:05d}.png"), crop)
            crops.append(crop[..., ::-1].copy())
    t1 = time.perf_counter()
    shutil.rmtree(pack, ignore_errors=True)
    # insightface's estimate_norm: ×size/112 for multiples of 112, else ×size/128 and +8·size/128 in x
    ratio, dx = (size / 112.0, 0.0) if size % 112 == 0 else (size / 128.0, 8.0 * size / 128.0)
    template = face_align.arcface_dst * ratio + np.array([dx, 0.0])
    return {"seconds": t1 - t0, "load_s": t0 - t_load, "aligned": len(crops), "crops": crops,
            "template": template.astype(np.float32)}


def run_ours(photos: list[Path], model: Path, size: int, workers: int, out: Path) -> dict:
    from cvaegan.prepare.align import canonical_template
    from cvaegan.prepare.common import PrepareOptions
    from cvaegan.prepare import faces  # noqa: F401 — imports outside the timing, as for FaceAnalysis
    from cvaegan.prepare.runner import prepare

    raw = Path(tempfile.mkdtemp(prefix="prep_raw_"))
    for p in photos:
        (raw / p.parent.name).mkdir(exist_ok=True)
        os.symlink(p, raw / p.parent.name / p.name)
    t0 = time.perf_counter()
    res = prepare(PrepareOptions(kind="faces", raw=raw, out=out, size=size, workers=workers, detector=model),
                  Console(stderr=True, quiet=True), show_progress=False)
    t1 = time.perf_counter()
    from cvaegan.data.manifest import index_dataset

    items = index_dataset(out).manifest["items"]
    crops = [cv2.imread(str(out / it["file"]))[..., ::-1].copy() for it in items]
    shutil.rmtree(raw, ignore_errors=True)
    return {"seconds": t1 - t0, "loop_s": res.seconds, "aligned": res.kept, "crops": crops,
            "template": canonical_template(size), "rejects": res.per_reason}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=DATA / "faces" / "celeba_wild" / "images")
    ap.add_argument("--detector", type=Path, default=DATA / "models" / "scrfd_500m_kps.onnx")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()
    from cvaegan.prepare.detect import FaceDetector

    photos = pick_photos(args.photos, args.n)
    work = Path(tempfile.mkdtemp(prefix="prep_bench_"))
    rows = {}
    rows["insightface FaceAnalysis (default det sizes)"] = run_faceanalysis(photos, args.detector, args.size, None, work / "fa")
    rows["insightface FaceAnalysis det_size=640"] = run_faceanalysis(photos, args.detector, args.size, (640, 640), work / "fa640")
    for w in args.workers:
        rows[f"cvaegan prepare, {w} worker{'s' if w > 1 else ''}"] = run_ours(photos, args.detector, args.size, w, work / f"ours{w}")
    check = FaceDetector(args.detector)
    base = rows["insightface FaceAnalysis (default det sizes)"]["seconds"]
    table = Table(title=f"prepare faces: {len(photos)} photos from {args.photos.name}, {args.detector.name}, "
                        f"{os.cpu_count()} CPU cores")
    for col in ("pipeline", "img/s", "× FaceAnalysis", "aligned", "re-detected", "lmk err px (mean/p95)", "err / eye dist"):
        table.add_column(col, justify="left" if col == "pipeline" else "right")
    record = {"photos": len(photos), "source": str(args.photos), "detector": args.detector.name, "size": args.size,
              "cpu_count": os.cpu_count(), "machine": platform.platform(), "processor": platform.processor(),
              "rows": {}}
    for name, r in rows.items():
        errs = landmark_errors(check, r["crops"], r["template"])
        ok = ~np.isnan(errs[:, 0]) if len(errs) else np.zeros(0, bool)
        e = errs[ok].ravel() if ok.any() else np.array([np.nan])
        eye = float(np.linalg.norm(r["template"][1] - r["template"][0]))
        ips = len(photos) / r["seconds"]
        table.add_row(name, f"{ips:.1f}", f"{base / r['seconds']:.2f}", f"{r['aligned']}/{len(photos)}",
                      f"{int(ok.sum())}/{len(errs)}", f"{np.nanmean(e):.2f} / {np.nanpercentile(e, 95):.2f}",
                      f"{np.nanmean(e) / eye:.3f}")
        record["rows"][name] = {"seconds": round(r["seconds"], 3), "images_per_s": round(ips, 2),
                                "speedup_vs_faceanalysis": round(base / r["seconds"], 3),
                                "aligned": r["aligned"], "redetected": int(ok.sum()),
                                "landmark_error_px_mean": round(float(np.nanmean(e)), 3),
                                "landmark_error_px_p95": round(float(np.nanpercentile(e, 95)), 3),
                                "landmark_error_over_eye_distance": round(float(np.nanmean(e) / eye), 4),
                                **({"rejects": r["rejects"]} if "rejects" in r else {})}
    Console().print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "prepare_throughput.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
