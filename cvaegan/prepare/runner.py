"""Runs a kind: scan RAW into jobs, skip the finished ones, process the rest in worker processes,
then write `dataset.json`, `rejects.jsonl` and the summary.

Resuming: every finished job (kept or rejected) is appended to `OUT/.prepare/journal.jsonl` as soon
as it is done; a rerun skips those whose crop is still there, so an interrupted run loses at most the
images in flight, and a finished one reruns in seconds without writing anything. The journal's
first line holds the options that decide the crops; other options on a rerun are refused unless
--overwrite. Crops are written with temp + rename, so no half-written PNG is ever visible.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table

from cvaegan.data.manifest import MANIFEST_NAME, new_manifest
from cvaegan.runtime.atomic import atomic_path, atomic_write_text
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.locking import folder_lock
from cvaegan.runtime.outputs import claim_out_dir
from cvaegan.prepare.common import (FACE_KINDS, FITS, KINDS, MASKS, PICKS, Job, Plan, PrepareOptions,
                                        reject)

STATE_DIR = ".prepare"
JOURNAL = "journal.jsonl"
REJECTS = "rejects.jsonl"


@dataclass
class PrepareResult:
    out: Path
    manifest: Path
    processed: int                 # jobs run this time
    kept: int                      # crops in the manifest
    rejected: int                  # source images without a crop
    per_reason: dict[str, int]     # reject records (extra faces included) by reason
    per_class: list[dict[str, Any]]
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0


# ----------------------------------------------------------------------------------- scan & check
def validate(opts: PrepareOptions) -> None:
    if opts.kind not in KINDS:
        raise CvaeganError(f"unknown kind '{opts.kind}'; choose one of {', '.join(KINDS)}")
    if not opts.raw.is_dir():
        raise CvaeganError(f"{opts.raw}: no such folder")
    if opts.size < 8 or opts.size > 4096:
        raise CvaeganError(f"--size {opts.size}: choose 8..4096")
    if opts.pick not in PICKS:
        raise CvaeganError(f"--pick {opts.pick}: choose one of {', '.join(PICKS)}")
    if opts.fit not in FITS:
        raise CvaeganError(f"--fit {opts.fit}: choose one of {', '.join(FITS)}")
    if opts.masks not in MASKS:
        raise CvaeganError(f"--masks {opts.masks}: choose one of {', '.join(MASKS)}")
    if opts.download and opts.kind != "facescrub":
        raise CvaeganError("--download is for the facescrub kind only")
    if opts.bbox and opts.kind != "cub":
        raise CvaeganError("--bbox is for the cub kind only")
    if opts.identities and opts.kind != "faces":
        raise CvaeganError("--identities is for the faces kind only")
    if opts.reference_style is not None and opts.kind != "chars":
        raise CvaeganError("--reference-style is for the chars kind only")
    raw, out = opts.raw.resolve(), opts.out.resolve()
    if out == raw or raw.is_relative_to(out):
        raise CvaeganError(f"--out {opts.out} must not be RAW or contain it")
    if out.is_relative_to(raw):
        raise CvaeganError(f"--out {opts.out} is inside RAW: a rerun would read its own crops as a class; "
                           "put it beside RAW")
    claim_out_dir(opts.out, marker=STATE_DIR, job="prepare", overwrite=opts.overwrite)


def scan(opts: PrepareOptions) -> Plan:
    from cvaegan.prepare import celeba, chars, faces, objects

    scanner = {"faces": faces.scan_faces, "facescrub": faces.scan_facescrub, "flowers": objects.scan_flowers,
               "cub": objects.scan_cub, "celeba": celeba.scan_celeba, "chars": chars.scan_chars,
               "folder": objects.scan_folder}[opts.kind]
    plan = scanner(opts)
    if not plan.jobs:
        raise CvaeganError(f"{opts.raw}: no images found for kind '{opts.kind}'")
    return plan


# ------------------------------------------------------------------------------------------ workers
_STATE: dict[str, Any] = {}


def _init_worker(opts: PrepareOptions, threads: int) -> None:
    cv2.setNumThreads(1)
    _STATE["opts"] = opts
    _STATE["detector"] = _make_detector(opts, threads) if opts.kind in FACE_KINDS else None


def _make_detector(opts: PrepareOptions, threads: int) -> Any:
    from cvaegan.prepare.detect import FaceDetector

    return FaceDetector(opts.detector, det_thresh=opts.det_thresh, threads=threads, device=opts.device)


def write_crop(out_root: Path, rel: str, crop: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(crop[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise OSError(f"could not encode {rel} as PNG")
    # rename-atomic without a per-crop fsync (two fsyncs cost ~30 ms a crop here, half the detector's
    # time); the journal is fsynced at the end and a resumed run redoes any empty crop file
    with atomic_path(out_root / rel, fsync=False) as tmp:
        tmp.write_bytes(buf.tobytes())


def process_job(job: Job) -> dict[str, Any]:
    """One job in a worker: the kind's processor; an unexpected failure is a reject, not a crash."""
    from cvaegan.prepare import celeba, chars, faces, objects

    opts: PrepareOptions = _STATE["opts"]
    t0 = time.perf_counter()

    def write(rel: str, crop: np.ndarray) -> None:
        write_crop(opts.out, rel, crop)

    try:
        if opts.kind in FACE_KINDS:
            res = faces.process_face(job, opts, _STATE["detector"], write)
        elif opts.kind == "flowers":
            res = objects.process_flower(job, opts, write)
        elif opts.kind == "cub":
            res = objects.process_cub(job, opts, write)
        elif opts.kind == "celeba":
            res = celeba.process_celeba(job, opts, write)
        elif opts.kind == "chars":
            res = chars.process_chars(job, opts, write)
        else:
            res = objects.process_folder(job, opts, write)
    except OSError as exc:
        if exc.filename and str(opts.out) in str(exc.filename):
            raise  # cannot write the output: stop, the user must act
        res = {"rejects": [reject(job, "error", f"{type(exc).__name__}: {exc}".splitlines()[0][:200])]}
    except (ValueError, cv2.error, MemoryError) as exc:
        res = {"rejects": [reject(job, "error", f"{type(exc).__name__}: {exc}".splitlines()[0][:200])]}
    res["key"] = job.key
    res["ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return res


# ------------------------------------------------------------------------------------------ journal
def _read_journal(path: Path) -> tuple[dict[str, Any] | None, dict[str, dict[str, Any]]]:
    if not path.is_file():
        return None, {}
    header, records = None, {}
    with open(path, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption
            if i == 0 and "config" in rec:
                header = rec["config"]
            elif "key" in rec:
                records[rec["key"]] = rec
    return header, records


def _finished(job: Job, rec: dict[str, Any] | None, out: Path) -> bool:
    if rec is None:
        return False
    item = rec.get("item")
    if item is None:
        return True
    try:
        return (out / item["file"]).stat().st_size > 0
    except OSError:
        return False


def _clean_stale_temps(out: Path) -> None:
    for d in [out, *[p for p in out.iterdir() if p.is_dir() and p.name != STATE_DIR]]:
        for t in d.glob(".*.tmp"):
            t.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------- main
def prepare(opts: PrepareOptions, console: Console | None = None, show_progress: bool = True,
            on_result: Callable[[dict[str, Any]], None] | None = None) -> PrepareResult:
    """Run `cvaegan prepare` (library entry point; the CLI and the tests call this)."""
    console = console or Console(stderr=True)
    validate(opts)
    opts.raw, opts.out = opts.raw.resolve(), opts.out.resolve()
    with folder_lock(opts.out, "prepare output folder"):
        return _prepare(opts, console, show_progress, on_result)


def _prepare(opts: PrepareOptions, console: Console, show_progress: bool,
             on_result: Callable[[dict[str, Any]], None] | None) -> PrepareResult:
    plan = scan(opts)
    detector = None
    if opts.kind in FACE_KINDS:  # fail early, with one line, when the model is missing or broken
        detector = _make_detector(opts, 0 if opts.workers <= 1 else 1)
        plan.manifest_extras["detector"] = {"file": detector.name, "path": str(detector.path),
                                            "bytes": detector.path.stat().st_size, "det_thresh": opts.det_thresh}
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    state = out / STATE_DIR
    state.mkdir(exist_ok=True)
    journal_path = state / JOURNAL
    config = opts.output_config()
    header, records = _read_journal(journal_path)
    if header is not None and header != config:
        if not opts.overwrite:
            changed = sorted(k for k in set(header) | set(config) if header.get(k) != config.get(k))
            raise CvaeganError(f"{out} was prepared with other options ({', '.join(changed)} differ); "
                               f"use another --out, or --overwrite to redo it")
        header, records = None, {}
    elif opts.overwrite:
        header, records = None, {}
    if header is None:
        atomic_write_text(journal_path, json.dumps({"config": config}) + "\n")
    _clean_stale_temps(out)

    todo = [j for j in plan.jobs if not _finished(j, records.get(j.key), out)]
    t0 = time.perf_counter()
    with open(journal_path, "a", encoding="utf-8") as journal:
        def record(res: dict[str, Any]) -> None:
            records[res["key"]] = res
            journal.write(json.dumps(res, separators=(",", ":")) + "\n")
            journal.flush()
            if on_result:
                on_result(res)

        if todo and opts.download:
            todo = _download_phase(todo, opts, console, show_progress, record)
        if todo:
            _process_all(todo, opts, detector, console, show_progress, record, len(plan.jobs) - len(todo))
        journal.flush()
        os.fsync(journal.fileno())
    seconds = time.perf_counter() - t0
    result = _finish(plan, records, opts, len(todo), seconds)
    _append_run_log(state, opts, result)
    return result


def _download_phase(todo: list[Job], opts: PrepareOptions, console: Console, show: bool,
                    record: Callable[[dict[str, Any]], None]) -> list[Job]:
    """Fetch missing listed files in threads (I/O bound); a failure finishes its job as a reject."""
    from concurrent.futures import ThreadPoolExecutor

    from cvaegan.prepare.download import DownloadConfig, DownloadError, fetch
    from cvaegan.runtime.progress import make_progress

    need = [j for j in todo if j.url and not Path(j.source).is_file()]
    if not need:
        return todo
    cfg = DownloadConfig(timeout=opts.timeout, retries=opts.retries, max_bytes=opts.max_bytes, deadline=opts.deadline,
                         allow_private_hosts=opts.allow_private_hosts)
    failed: set[str] = set()

    def one(job: Job) -> tuple[Job, DownloadError | None]:
        try:
            fetch(job.url or "", Path(job.source), job.sha256, cfg)
            return job, None
        except DownloadError as exc:
            return job, exc

    with make_progress(console, transient=not show) as prog, \
            ThreadPoolExecutor(max(1, opts.download_workers)) as pool:
        task = prog.add_task("download", total=len(need), info="")
        for n, (job, err) in enumerate(pool.map(one, need), start=1):
            if err is not None:
                failed.add(job.key)
                record({"key": job.key, "rejects": [reject(job, err.reason, str(err), url=job.url)]})
            prog.update(task, completed=n, info=f"failed {len(failed)}")
    return [j for j in todo if j.key not in failed]


def _process_all(todo: list[Job], opts: PrepareOptions, detector: Any, console: Console, show: bool,
                 record: Callable[[dict[str, Any]], None], already: int) -> None:
    from cvaegan.runtime.progress import make_progress

    workers = max(1, opts.workers)
    kept = rejected = 0
    t0 = time.perf_counter()
    with make_progress(console, transient=not show) as prog:
        task = prog.add_task(f"prepare {opts.kind}", total=len(todo),
                             info=f"skipped {already} done" if already else "")
        for n, res in enumerate(_results(todo, opts, detector, workers), start=1):
            record(res)
            if res.get("item"):
                kept += 1
            else:
                rejected += 1
            rate = n / max(time.perf_counter() - t0, 1e-9)
            prog.update(task, completed=n, info=f"{rate:.1f} img/s · kept {kept} · rejected {rejected}")


def _results(todo: list[Job], opts: PrepareOptions, detector: Any, workers: int) -> Iterator[dict[str, Any]]:
    if workers == 1 or len(todo) < 2:
        _STATE.update(opts=opts, detector=detector)
        cv2.setNumThreads(0)
        for job in todo:
            yield process_job(job)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    # forkserver, not fork: a fork of a process whose ONNX Runtime / OpenCV thread pools have run can
    # deadlock in the child; the server imports this module once and forks clean workers from it
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["cvaegan.prepare.runner"])
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(opts, threads))
    try:
        chunk = max(1, min(8, len(todo) // (workers * 8)))
        yield from executor.map(process_job, todo, chunksize=chunk)
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()


# ------------------------------------------------------------------------------------------ outputs
def _finish(plan: Plan, records: dict[str, dict[str, Any]], opts: PrepareOptions, processed: int,
            seconds: float) -> PrepareResult:
    out = opts.out
    kept_by_class: Counter[int] = Counter()
    rej_by_class: Counter[int] = Counter()
    per_reason: Counter[str] = Counter()
    reason_by_class: dict[int, Counter[str]] = {}
    items: list[tuple[int, dict[str, Any]]] = []
    reject_lines: list[str] = []
    for job in plan.jobs:
        rec = records.get(job.key)
        if rec is None:
            continue
        cname = plan.classes[job.cls].name
        for r in rec.get("rejects", []):
            per_reason[r["reason"]] += 1
            reason_by_class.setdefault(job.cls, Counter())[r["reason"]] += 1
            reject_lines.append(json.dumps({**r, "class": cname}, ensure_ascii=False))
        if rec.get("item"):
            kept_by_class[job.cls] += 1
            items.append((job.cls, rec["item"]))
        else:
            rej_by_class[job.cls] += 1
    present = [i for i in range(len(plan.classes)) if kept_by_class[i]]
    new_index = {old: new for new, old in enumerate(present)}
    classes = []
    for old in present:
        c = plan.classes[old]
        classes.append({"index": new_index[old], "name": c.name, "folder": c.folder,
                        "count": kept_by_class[old], **c.extra})
    manifest_items = [{"file": it["file"], "class": new_index[ci], **{k: v for k, v in it.items() if k != "file"}}
                      for ci, it in items]
    splits = Counter(it.get("split") for it in manifest_items if it.get("split"))
    extras: dict[str, Any] = {"size": opts.size, "raw": str(opts.raw), "created_by": "cvaegan prepare",
                              "options": {k: v for k, v in opts.output_config().items() if k != "template"},
                              "counts": {"kept": len(items), "rejected_images": sum(rej_by_class.values()),
                                         "rejects_by_reason": dict(sorted(per_reason.items()))}}
    if splits:
        extras["splits"] = dict(sorted(splits.items()))
    if opts.kind in FACE_KINDS:
        from cvaegan.prepare.align import LANDMARK_NAMES, TEMPLATE_FRACTIONS, canonical_template

        extras["template"] = {
            "landmarks": list(LANDMARK_NAMES), "fractions": TEMPLATE_FRACTIONS.tolist(),
            "pixels": np.round(canonical_template(opts.size), 4).tolist(),
            "convention": "pixel centres at integers; photo coordinates after EXIF orientation; "
                          "'transform' is the 2x3 affine map photo -> crop"}
    extras.update(plan.manifest_extras)
    if opts.kind not in FACE_KINDS:
        extras["transform"] = "each item's 'transform' is the 2x3 affine map photo -> crop (pixel centres at integers)"
    manifest = new_manifest(opts.kind, classes, None, **extras)
    manifest_path = out / MANIFEST_NAME
    _write_if_changed(manifest_path, _manifest_text(manifest, manifest_items))
    _write_if_changed(out / REJECTS, "".join(line + "\n" for line in reject_lines))
    per_class = [{"class": c.name, "folder": c.folder, "kept": kept_by_class[i], "rejected": rej_by_class[i],
                  "reasons": dict(reason_by_class.get(i, {}))} for i, c in enumerate(plan.classes)]
    notes = list(plan.notes)
    empty = [c.name for i, c in enumerate(plan.classes) if not kept_by_class[i] and rej_by_class[i]]
    if empty:
        notes.append(f"{len(empty)} classes kept no image and are left out of dataset.json: "
                     + ", ".join(empty[:5]) + (" …" if len(empty) > 5 else ""))
    if not items:
        notes.append("no image was kept: dataset.json lists no classes")
    return PrepareResult(out, manifest_path, processed, len(items), sum(rej_by_class.values()),
                         dict(per_reason), per_class, seconds, notes)


def _manifest_text(manifest: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """Indented header, one line per item (readable, and 5× smaller than indenting every item)."""
    head = json.dumps(manifest, indent=2, ensure_ascii=False)
    body = ",\n".join("    " + json.dumps(it, ensure_ascii=False, separators=(",", ":")) for it in items)
    return head[:-2] + ',\n  "items": [\n' + body + ("\n" if items else "") + "  ]\n}\n"


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)


def _append_run_log(state: Path, opts: PrepareOptions, res: PrepareResult) -> None:
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "options": opts.to_json(), "processed": res.processed,
            "kept": res.kept, "rejected_images": res.rejected, "rejects_by_reason": res.per_reason,
            "seconds": round(res.seconds, 3), "images_per_s": round(res.images_per_s, 2)}
    with open(state / "runs.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def summary_tables(res: PrepareResult, max_classes: int = 20) -> list[Table]:
    reasons = Table(title="Kept and rejected")
    reasons.add_column("outcome")
    reasons.add_column("count", justify="right")
    reasons.add_row("kept (crops)", str(res.kept))
    reasons.add_row("rejected images", str(res.rejected))
    for reason, n in sorted(res.per_reason.items(), key=lambda kv: -kv[1]):
        reasons.add_row(f"  {reason}", str(n))
    per_class = Table(title="Per class" + (f" (the {max_classes} with most rejects)"
                                           if len(res.per_class) > max_classes else ""))
    for col in ("class", "kept", "rejected", "reasons"):
        per_class.add_column(col, justify="right" if col in ("kept", "rejected") else "left")
    rows = sorted(res.per_class, key=lambda r: -r["rejected"])[:max_classes] \
        if len(res.per_class) > max_classes else res.per_class
    for r in rows:
        per_class.add_row(r["class"], str(r["kept"]), str(r["rejected"]),
                          ", ".join(f"{k} {v}" for k, v in sorted(r["reasons"].items())))
    return [reasons, per_class]
