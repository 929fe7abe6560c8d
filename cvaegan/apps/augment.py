"""§5.6 data augmentation: new images of existing classes (`per_class`), and new identities whose
class vector mixes 3 distinct existing classes with random convex weights (`new_identities` ×
`per_identity`). Output: an ImageFolder tree plus `dataset.json`.

A style-transfer model (capability "stylize", e.g. `saae`) instead draws every class in the styles
of a folder of example images (`style_from`, SAAE §3.4: one image of each of 50 new fonts → every
character in each of those fonts). Its units are the classes; image j of a class is
`model.stylize_class([class], style_j)`, style_j the folder's j-th image (relative paths sorted),
read like training data (RGB, short side resized to the resolution, centre crop). The plan
records every style file with its sha256, so a rerun resumes only with the very same style images;
an unreadable style image is an error naming it (never skipped: that would shift every later
image's style).

Determinism and resume. A *unit* is one output class folder (an existing class, or a mixed
identity) with its own seed; image j of a unit is G(z_j, c) with z = randn(count, d) drawn on the
CPU from the unit's seed, so the manifest's (classes, weights, seed) regenerate it. Images are
rendered in batches with fixed global boundaries (items [b·B, (b+1)·B)), so a resumed run
computes every image in exactly the batch it had in an uninterrupted one: same bits on the same
device. Files are written to a temporary name and renamed, so a killed run leaves no half-written
image; a rerun skips the files that exist and renders only the batches that miss some.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console

from cvaegan.data.dataset import load_image_square
from cvaegan.data.images import from_hwc_uint8, to_hwc_uint8
from cvaegan.data.manifest import IMAGE_EXTENSIONS, MANIFEST_NAME, index_dataset, listed_sources, new_manifest
from cvaegan.data.naming import distinct_folders
from cvaegan.pipelines.sample import class_folders, safe_name
from cvaegan.runtime.atomic import atomic_path, atomic_write_json, fsync_dir
from cvaegan.runtime.device import autocast, resolve_precision
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.locking import folder_lock
from cvaegan.runtime.outputs import claim_out_dir
from cvaegan.runtime.progress import make_progress
from cvaegan.session import Session, require

PLAN_NAME = "augment.json"
PLAN_FORMAT = "cvaegan-augment"
MIX_SIZE = 3


@dataclass
class AugmentOptions:
    per_class: int = 0
    new_identities: int = 0
    per_identity: int = 0
    seed: int = 0
    batch_size: int = 256
    writers: int = 4            # threads encoding and writing PNGs beside the generator
    png_level: int = 1          # zlib level: 1 is ~3× faster than 6 for ~15% more bytes
    fsync: bool = True
    precision: str = "auto"     # auto | bf16 | fp32; a resumed run keeps the first run's
    overwrite: bool = False     # write into a non-empty OUT that holds no augment run
    # A folder of style images: every class drawn in each of their styles (a "stylize" model);
    # excludes per_class / new_identities.
    style_from: str | os.PathLike[str] | None = None

    @property
    def needs(self) -> tuple[str, ...]:
        """The model capability this mode needs."""
        return ("stylize",) if self.style_from is not None else ("generate",)

    def validate(self, num_classes: int | None = None) -> None:
        """One-line errors for inconsistent options; without `num_classes` (no model loaded yet)
        the checks that need it are left out."""
        if min(self.per_class, self.new_identities, self.per_identity) < 0:
            raise CvaeganError("counts must not be negative")
        if self.style_from is not None and (self.per_class or self.new_identities or self.per_identity):
            raise CvaeganError("--style-from draws every class once per style image; it does not combine "
                               "with --per-class, --new-identities or --per-identity")
        if self.batch_size < 1:
            raise CvaeganError("--batch-size must be at least 1")
        if not 0 <= self.png_level <= 9:
            raise CvaeganError("--png-level must be in 0..9")
        if self.style_from is not None:
            return
        if self.new_identities and not self.per_identity:
            raise CvaeganError("--new-identities needs --per-identity M (images per new identity)")
        if self.per_identity and not self.new_identities:
            raise CvaeganError("--per-identity needs --new-identities K")
        if not self.per_class and not self.new_identities:
            raise CvaeganError("nothing to generate: give --per-class N and/or --new-identities K --per-identity M, "
                               "or --style-from DIR")
        if self.new_identities and num_classes is not None and num_classes < MIX_SIZE:
            raise CvaeganError(f"new identities mix {MIX_SIZE} distinct classes; this model has {num_classes}")


@dataclass
class Unit:
    """One output class: an existing class (`kind` "class"), a mixed new identity ("mix"), or an
    existing class drawn once per style image ("style": image j in style j; `seed` unused)."""

    kind: str
    name: str
    folder: str
    count: int
    seed: int
    classes: list[int]
    weights: list[float]
    first_item: int = 0

    def class_vector(self, num_classes: int) -> torch.Tensor:
        c = torch.zeros(num_classes)
        for k, w in zip(self.classes, self.weights):
            c[k] += w
        return c

    def file(self, j: int) -> str:
        return f"{self.folder}/{j:05d}.png"


def _seed(*key: int) -> int:
    return int(np.random.SeedSequence(list(key)).generate_state(1, dtype=np.uint32)[0])


def plan_units(class_names: list[str], opts: AugmentOptions, num_styles: int = 0) -> list[Unit]:
    """The units, in output order; a function of (class names, options, number of style images)
    only, so a rerun with the same options plans the same images."""
    units: list[Unit] = []
    k = len(class_names)
    if opts.style_from is not None:
        folders = distinct_folders([safe_name(n) for n in class_names])
        units = [Unit("style", name, folders[c], num_styles, 0, [c], [1.0]) for c, name in enumerate(class_names)]
        for i, u in enumerate(units):
            u.first_item = i * num_styles
        return units
    mixes = [f"mix_{i:05d}" for i in range(opts.new_identities)]
    folders = distinct_folders([safe_name(n) for n in class_names] + mixes)  # a class may be called mix_00000
    if opts.per_class:
        for c, name in enumerate(class_names):
            units.append(Unit("class", name, folders[c], opts.per_class, _seed(opts.seed, 0, c), [c], [1.0]))
    for i in range(opts.new_identities):
        rng = np.random.default_rng(np.random.SeedSequence([opts.seed, 1, i]))
        classes = sorted(int(v) for v in rng.choice(k, MIX_SIZE, replace=False))
        weights = [float(w) for w in rng.dirichlet(np.ones(MIX_SIZE))]
        name = mixes[i]
        units.append(Unit("mix", name, folders[k + i], opts.per_identity, int(rng.integers(0, 2**31 - 1)), classes, weights))
    first = 0
    for u in units:
        u.first_item = first
        first += u.count
    return units


def unit_z(unit: Unit, latent_dim: int) -> torch.Tensor:
    """z for every image of a unit: randn(count, d) on the CPU from the unit's seed."""
    return torch.randn(unit.count, latent_dim, generator=torch.Generator().manual_seed(unit.seed))


@dataclass
class StyleSet:
    """The style images of `--style-from`: relative paths (sorted), their sha256, the names the
    manifest gives them, and the images as the model reads them, uint8 (S, R, R, 3)."""

    root: Path
    files: list[str]
    sha256: list[str]
    names: list[str]
    images: np.ndarray

    def __len__(self) -> int:
        return len(self.files)

    def record(self) -> list[dict[str, str]]:
        return [{"file": f, "sha256": h, "style": n} for f, h, n in zip(self.files, self.sha256, self.names)]


def style_files(root: str | os.PathLike[str]) -> list[str]:
    """The image files under `root` (recursive, hidden files and folders left out), as POSIX
    relative paths in sorted order: style j of a run is the j-th."""
    root = Path(root)
    if not root.is_dir():
        raise CvaeganError(f"--style-from {root}: not a folder")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise CvaeganError(f"--style-from {root}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    return files


def load_styles(root: str | os.PathLike[str], resolution: int,
                expect: list[dict[str, Any]] | None = None) -> StyleSet:
    """Read the style images of `root` (each decoded from the very bytes hashed). Any unreadable
    one is a one-line error naming it. With `expect` (a plan's "styles"), files that differ from
    the plan's are an error too."""
    root = Path(root)
    files = style_files(root)
    if expect is not None:
        _same_styles(root, files, None, expect)
    digests, images = [], np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    for j, rel in enumerate(files):
        try:
            data = (root / rel).read_bytes()
            images[j] = load_image_square(io.BytesIO(data), resolution)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 — any failure is this file's one-line error
            raise CvaeganError(f"{root / rel}: unreadable style image ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0][:160] if str(exc) else 'no detail'})") from exc
        digests.append(hashlib.sha256(data).hexdigest())
    if expect is not None:
        _same_styles(root, files, digests, expect)
    stems = [str(PurePosixPath(f).with_suffix("")) for f in files]
    names = [s if stems.count(s) == 1 else f for s, f in zip(stems, files)]  # a.png and a.jpg: keep suffixes
    return StyleSet(root, files, digests, names, images)


def _same_styles(root: Path, files: list[str], digests: list[str] | None, expect: list[dict[str, Any]]) -> None:
    old = {s["file"]: s["sha256"] for s in expect}
    changed = _style_changes(old, dict(zip(files, digests)) if digests is not None else {f: None for f in files})
    if changed:
        raise CvaeganError(f"--style-from {root}: not the style images this run was planned with ({changed}); "
                           "use the original images, or another --out")


def _style_changes(old: dict[str, str], new: dict[str, str | None]) -> str:
    """'' when the style files are the same, else a short account of the difference (a None hash
    in `new`: not read yet, compares equal)."""
    def few(names: list[str]) -> str:
        return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")

    parts = []
    added = [f for f in new if f not in old]
    removed = [f for f in old if f not in new]
    changed = [f for f in new if f in old and new[f] is not None and new[f] != old[f]]
    if changed:
        parts.append(f"changed: {few(changed)}")
    if added:
        parts.append(f"added: {few(added)}")
    if removed:
        parts.append(f"missing: {few(removed)}")
    return "; ".join(parts)


class _Items:
    """The flat item list (unit, j) without materialising 500k tuples."""

    def __init__(self, units: list[Unit]):
        self.units = units
        self.starts = np.array([u.first_item for u in units], dtype=np.int64)
        self.total = sum(u.count for u in units)

    def locate(self, i: int) -> tuple[int, int]:
        u = int(np.searchsorted(self.starts, i, side="right") - 1)
        return u, i - self.units[u].first_item


@torch.no_grad()
def render_batch(loaded: Session, units: list[Unit], lo: int, hi: int,
                 z_cache: dict[int, torch.Tensor], precision: str = "auto",
                 styles: np.ndarray | None = None) -> torch.Tensor:
    """uint8 (hi−lo, R, R, 3) for items [lo, hi) — the canonical computation every image gets.
    Style units need `styles`, the StyleSet's uint8 images."""
    items = _Items(units)
    if units and units[0].kind == "style":
        return _render_styles(loaded, units, items, lo, hi, precision, styles)
    k, d = loaded.num_classes, loaded.model.latent_dim
    z = torch.empty(hi - lo, d)
    c = torch.empty(hi - lo, k)
    i = lo
    while i < hi:
        u, j = items.locate(i)
        unit = units[u]
        n = min(hi - i, unit.count - j)
        if u not in z_cache:
            z_cache[u] = unit_z(unit, d)
        z[i - lo:i - lo + n] = z_cache[u][j:j + n]
        c[i - lo:i - lo + n] = unit.class_vector(k)
        i += n
    dev = loaded.device
    with autocast(dev, precision):
        x = loaded.model.generate(z.to(dev, non_blocking=True), c.to(dev, non_blocking=True))
    return to_hwc_uint8(x)


def _render_styles(loaded: Session, units: list[Unit], items: _Items, lo: int, hi: int, precision: str,
                   styles: np.ndarray | None) -> np.ndarray:
    if styles is None:
        raise ValueError("style units need the style images")
    labels = torch.empty(hi - lo, dtype=torch.long)
    pick = np.empty(hi - lo, dtype=np.int64)
    i = lo
    while i < hi:
        u, j = items.locate(i)
        n = min(hi - i, units[u].count - j)
        labels[i - lo:i - lo + n] = units[u].classes[0]
        pick[i - lo:i - lo + n] = np.arange(j, j + n)
        i += n
    dev = loaded.device
    style = from_hwc_uint8(styles[pick]).contiguous().to(dev, non_blocking=True)
    with autocast(dev, precision):
        x = loaded.model.stylize_class(labels.to(dev, non_blocking=True), style)
    return to_hwc_uint8(x)


def plan_precision(plan: dict[str, Any], device: torch.device) -> str:
    """The precision a plan's images were rendered in. Plans written before precision was recorded
    used bf16 on CUDA and fp32 elsewhere, which is not what `auto` means now on a bf16 CPU."""
    return str(plan.get("precision", "bf16" if device.type == "cuda" else "fp32"))


def regenerate_unit(loaded: Session, plan: dict[str, Any], name: str,
                    style_from: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Re-render one unit (class folder) from a plan/manifest record: the images, bit for bit as
    written on this device (the same global batches are recomputed). A style run reads its style
    images from `style_from` (default: the folder the plan names), which must hold the same files."""
    units = [Unit(**u) for u in plan["units"]]
    styles = None
    record = plan if isinstance(plan.get("styles"), list) else plan.get("generator") or {}  # a plan, or a manifest
    if isinstance(record.get("styles"), list):
        styles = load_styles(style_from if style_from is not None else record["style_from"], loaded.resolution,
                             expect=record["styles"]).images
    match = [u for u in units if u.name == name]
    if not match:
        raise CvaeganError(f"no unit named '{name}' in the augment plan")
    unit, bs = match[0], int(plan["batch_size"])
    lo, hi = unit.first_item, unit.first_item + unit.count
    b0, b1 = lo // bs, (hi - 1) // bs
    total = sum(u.count for u in units)
    prec = plan_precision(plan, loaded.device)
    chunks = [render_batch(loaded, units, b * bs, min(total, (b + 1) * bs), {}, prec, styles)
              for b in range(b0, b1 + 1)]
    return np.concatenate(chunks)[lo - b0 * bs: hi - b0 * bs]


@dataclass
class AugmentResult:
    out: Path
    manifest: Path
    plan: Path
    total: int
    written: int
    skipped: int
    seconds: float
    images_per_s: float
    merged: Path | None = None
    units: list[Unit] = field(default_factory=list)


@dataclass
class DryRun:
    total: int
    existing: int
    units: int
    bytes_per_image: float
    sampled: int

    @property
    def pending(self) -> int:
        return self.total - self.existing

    @property
    def bytes(self) -> float:
        return self.pending * self.bytes_per_image


def generator_fingerprint(loaded: Session) -> str:
    """sha1 of G's weights (of the whole model's state for a family without one G, e.g. saae's
    encoders, decoder and stored content images): a resumed run must use the very generator that
    wrote the first images."""
    h = hashlib.sha1()
    net = getattr(loaded.model, "G", None)
    for name, t in sorted((net if net is not None else loaded.model).state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _plan_record(loaded: Session, opts: AugmentOptions, units: list[Unit],
                 styles: StyleSet | None = None) -> dict[str, Any]:
    record = {
        "format": PLAN_FORMAT, "version": 1, "status": "running",
        "checkpoint": str(loaded.path), "checkpoint_step": loaded.step,
        "generator_sha1": generator_fingerprint(loaded),
        "model": loaded.model.cfg.model.model, "resolution": loaded.resolution,
        "latent_dim": loaded.model.latent_dim, "class_names": loaded.class_names,
        "seed": opts.seed, "per_class": opts.per_class, "new_identities": opts.new_identities,
        "per_identity": opts.per_identity, "batch_size": opts.batch_size,
        "precision": resolve_precision(loaded.device, opts.precision),
        "recipe": "image j of a unit = G(z[j], c) with z = torch.randn(count, latent_dim, "
                  "generator=torch.Generator().manual_seed(seed)) on the CPU and c = Σ weights·onehot(classes), "
                  "G in eval mode under `precision` (bf16: torch.autocast)",
        "units": [asdict(u) for u in units],
    }
    if styles is not None:
        record.update(
            seed=None,  # nothing random: the output depends on the style images alone
            style_from=str(styles.root.resolve()), styles=styles.record(),
            recipe="image j of a class's unit = model.stylize_class([class], style_j), style_j the j-th of "
                   "`styles` (relative paths sorted) read as RGB, short side resized to `resolution` and "
                   "centre-cropped (cvaegan.data.dataset.load_image_square), scaled to [-1, 1]; eval mode "
                   "under `precision` (bf16: torch.autocast), batches of `batch_size` over the flat item list")
    return record


_PLAN_KEYS = ("generator_sha1", "checkpoint_step", "model", "resolution", "latent_dim", "class_names", "seed", "per_class",
              "new_identities", "per_identity", "styles")


def _check_resume(out: Path, record: dict[str, Any]) -> dict[str, Any] | None:
    """The existing plan in OUT if it is this run's (then the run resumes), an error if it is another's."""
    path = out / PLAN_NAME
    if not path.is_file():
        return None
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CvaeganError(f"{path}: unreadable augment plan ({exc}); remove it or use another --out") from exc
    if isinstance(old.get("styles"), list) and isinstance(record.get("styles"), list):
        changed = _style_changes({s.get("file"): s.get("sha256") for s in old["styles"] if isinstance(s, dict)},
                                 {s["file"]: s["sha256"] for s in record["styles"]})
        if changed:
            raise CvaeganError(f"{out} was generated from other style images than --style-from "
                               f"{record.get('style_from')} ({changed}); use another --out, or the original "
                               "style images to resume")
    diff = [k for k in _PLAN_KEYS if old.get(k) != record.get(k)]
    if old.get("format") != PLAN_FORMAT or diff:
        raise CvaeganError(f"{out} holds a different augment run (differs in: {', '.join(diff) or 'format'}); "
                           "use another --out, or the same checkpoint and options to resume it")
    return old


def _clean_temp_files(out: Path, units: list[Unit]) -> int:
    """Temporary files a killed process left behind (never complete images)."""
    n = 0
    for u in units:
        d = out / u.folder
        if d.is_dir():
            for f in d.glob(".*.tmp"):
                f.unlink(missing_ok=True)
                n += 1
    return n


def _write_png(arr: np.ndarray, path: Path, level: int, durable: bool) -> int:
    with atomic_path(path, fsync=durable, sync_dir=False) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG", compress_level=level)
    return 1


def _prepare(loaded: Session, opts: AugmentOptions, out: Path) -> StyleSet | None:
    """Options and model checked for each other, and the style images read (before OUT is touched)."""
    opts.validate(loaded.num_classes)
    require(loaded, opts.needs, "augment --style-from" if opts.style_from is not None else "augment")
    if opts.style_from is None:
        return None
    root = Path(opts.style_from)
    if _same_or_inside(out, root) or (root.exists() and _same_or_inside(root, out)):
        raise CvaeganError(f"--out {out} and --style-from {root} overlap; a rerun would take the generated "
                           "images for style images: keep them apart")
    return load_styles(root, loaded.resolution)


def dry_run(loaded: Session, out: Path, opts: AugmentOptions, sample: int = 16) -> DryRun:
    """Count what would be written and estimate its size by encoding a few rendered images."""
    out = Path(out)
    styles = _prepare(loaded, opts, out)
    units = plan_units(loaded.class_names, opts, len(styles) if styles is not None else 0)
    total = sum(u.count for u in units)
    existing = sum(1 for u in units for j in range(u.count) if (out / u.file(j)).is_file()) if out.is_dir() else 0
    n = min(sample, total)
    sizes = []
    for arr in render_batch(loaded, units, 0, n, {}, opts.precision, styles.images if styles is not None else None):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG", compress_level=opts.png_level)
        sizes.append(buf.tell())
    return DryRun(total, existing, len(units), float(np.mean(sizes)), n)


def augment(loaded: Session, out: str | os.PathLike[str], opts: AugmentOptions, *,
            merge_with: str | os.PathLike[str] | None = None, console: Console | None = None,
            on_image: Callable[[int], None] | None = None) -> AugmentResult:
    """Generate (or finish) the augmentation in OUT; write OUT/dataset.json, and with `merge_with`
    the combined real + synthetic dataset in OUT/merged. `on_image(n_written)` is called after each
    image is on disk (tests use it to interrupt a run at a chosen point)."""
    out = Path(out)
    styles = _prepare(loaded, opts, out)
    claim_out_dir(out, marker=PLAN_NAME, job="augment", overwrite=opts.overwrite)
    if merge_with is not None and _same_or_inside(out, Path(merge_with)):
        raise CvaeganError(f"--out {out} is the --merge-with dataset or inside it; its dataset.json would be "
                           "replaced: pick another --out")
    with folder_lock(out, "augment output folder"):
        return _augment(loaded, out, opts, merge_with, console, on_image, styles)


def _same_or_inside(out: Path, data: Path) -> bool:
    data = data.parent if data.suffix == ".json" else data
    return out.resolve() == data.resolve() or out.resolve().is_relative_to(data.resolve())


def _augment(loaded: Session, out: Path, opts: AugmentOptions, merge_with: str | os.PathLike[str] | None,
             console: Console | None, on_image: Callable[[int], None] | None,
             styles: StyleSet | None = None) -> AugmentResult:
    opts.precision = resolve_precision(loaded.device, opts.precision)
    units = plan_units(loaded.class_names, opts, len(styles) if styles is not None else 0)
    record = _plan_record(loaded, opts, units, styles)
    old = _check_resume(out, record)
    if old is not None:
        opts.batch_size = int(old["batch_size"])  # the batch boundaries make the bits: keep the first run's
        opts.precision = plan_precision(old, loaded.device)  # and so does the precision
        record = _plan_record(loaded, opts, units, styles)
    style_images = styles.images if styles is not None else None
    merge_index = index_dataset(merge_with) if merge_with is not None else None  # fail before rendering
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / PLAN_NAME, record)
    _clean_temp_files(out, units)

    items = _Items(units)
    total, bs = items.total, opts.batch_size
    console = console or Console(stderr=True)
    written = skipped = 0
    t0 = time.perf_counter()
    z_cache: dict[int, torch.Tensor] = {}
    in_flight: list[tuple[list[Future], set[str]]] = []  # per batch: its writes and their folders
    with ThreadPoolExecutor(max(1, opts.writers)) as pool, make_progress(console) as bar:
        task = bar.add_task("augment", total=total, info="")

        def drain(keep: int) -> None:
            nonlocal written
            while len(in_flight) > keep:
                futures, folders = in_flight.pop(0)
                for fut in futures:
                    fut.result()
                    written += 1
                    if on_image is not None:
                        on_image(written)
                if opts.fsync:
                    for d in folders:
                        fsync_dir(out / d)

        try:
            for b in range(0, total, bs):
                hi = min(total, b + bs)
                missing = [i for i in range(b, hi) if not (out / _file(units, items, i)).is_file()]
                skipped += (hi - b) - len(missing)
                if missing:
                    arrs = render_batch(loaded, units, b, hi, z_cache, opts.precision, style_images)
                    futures, folders = [], set()
                    for i in missing:
                        rel = _file(units, items, i)
                        folders.add(rel.split("/")[0])
                        futures.append(pool.submit(_write_png, arrs[i - b], out / rel, opts.png_level, opts.fsync))
                    in_flight.append((futures, folders))
                    drain(keep=1)  # one batch being written while the next one renders
                first_unit = items.locate(hi - 1)[0]
                for u in [u for u in z_cache if u < first_unit]:
                    del z_cache[u]
                rate = written / max(time.perf_counter() - t0, 1e-9)
                bar.update(task, completed=skipped + written, info=f"{rate:,.1f} img/s")
            drain(keep=0)
        except BaseException:
            for futures, _ in in_flight:
                for fut in futures:
                    fut.cancel()
            raise
        bar.update(task, completed=total, info=f"{written / max(time.perf_counter() - t0, 1e-9):,.1f} img/s")
    seconds = time.perf_counter() - t0
    rate = written / seconds if seconds > 0 else 0.0
    manifest = write_manifest(out, loaded, opts, units, styles)
    merged = write_merged(out, manifest, merge_index) if merge_index is not None else None
    record.update(status="complete", images=total, written=written, skipped=skipped,
                  seconds=round(seconds, 3), images_per_s=round(rate, 2), device=str(loaded.device),
                  merged=str(merged) if merged else None)
    atomic_write_json(out / PLAN_NAME, record)
    return AugmentResult(out, out / MANIFEST_NAME, out / PLAN_NAME, total, written, skipped, seconds, rate,
                         merged, units)


def _file(units: list[Unit], items: _Items, i: int) -> str:
    u, j = items.locate(i)
    return units[u].file(j)


def write_manifest(out: Path, loaded: Session, opts: AugmentOptions, units: list[Unit],
                   styles: StyleSet | None = None) -> dict[str, Any]:
    """OUT/dataset.json: one class per unit; a mixed identity's entry records its classes (indices
    and names), weights and seed; items carry their unit seed and z index. A style run's items
    carry their "style" (the style image's relative path without suffix) and style index, the
    top-level "styles" names the folder, and "flip": false keeps training from mirroring them."""
    classes, items = [], []
    for idx, u in enumerate(units):
        entry: dict[str, Any] = {"index": idx, "name": u.name, "folder": u.folder, "count": u.count,
                                 "synthetic": True}
        if u.kind != "style":
            entry["seed"] = u.seed
        if u.kind == "mix":
            entry["mix"] = {"classes": u.classes, "class_names": [loaded.class_names[k] for k in u.classes],
                            "weights": u.weights, "seed": u.seed}
        else:
            entry["source_class"] = u.classes[0]
        classes.append(entry)
        if u.kind == "style" and styles is not None:
            items.extend({"file": u.file(j), "class": idx, "split": "train", "synthetic": True,
                          "style": styles.names[j], "style_index": j} for j in range(u.count))
        else:
            items.extend({"file": u.file(j), "class": idx, "split": "train", "synthetic": True, "z_index": j}
                         for j in range(u.count))
    plan = _plan_record(loaded, opts, units, styles)
    plan.pop("status")
    extras: dict[str, Any] = {}
    if styles is not None:
        extras = {"styles": {"name": "style", "source": str(styles.root.resolve())}, "flip": False}
    manifest = new_manifest("synthetic", classes, items, size=loaded.resolution,
                            generator={k: v for k, v in plan.items() if k not in ("format", "version", "units")},
                            units=plan["units"], batch_size=opts.batch_size, precision=plan["precision"], **extras)
    atomic_write_json(out / MANIFEST_NAME, manifest)
    return manifest


def write_merged(out: Path, synthetic: dict[str, Any], real_index: Any, folder: str = "merged") -> Path:
    """OUT/merged: the real dataset plus the synthetic one, without copying images. An ImageFolder
    view of symbolic links (real training images and synthetic images, by class), and a
    dataset.json listing every item with its split, which `train` reads (real test-split images
    stay in the manifest as "test" and out of the ImageFolder view, so no reader trains on them).
    Synthetic images of an existing class join that class; mixed identities are new classes.
    Where symbolic links are impossible, the manifest points at the files by absolute path.
    Items keep their "style" (synthetic ones as "synthetic/<style>", apart from the real groups),
    the real manifest's "styles" spec is kept, and "flip": false in either manifest carries over."""
    root = out / folder
    names = list(real_index.class_names)
    by_name = {n: i for i, n in enumerate(names)}
    syn_label = []
    for c in synthetic["classes"]:
        key = c["name"]
        if key not in by_name:
            by_name[key] = len(names)
            names.append(key)
        syn_label.append(by_name[key])
    folders = class_folders(names)
    entries: list[tuple[Path, int, str | None, str, bool]] = []  # source, label, split, link name, synthetic
    real_styles = getattr(real_index, "styles", None) or [None] * len(real_index.files)
    item_styles: list[str | None] = []
    for f, y, s, st in zip(real_index.files, real_index.labels, real_index.splits, real_styles):
        rel = Path(f).resolve()
        entries.append((rel, y, s, f"real_{_flat(rel, real_index.root)}", False))
        item_styles.append(st)
    for it in synthetic["items"]:
        src = (out / it["file"]).resolve()
        entries.append((src, syn_label[it["class"]], "train", f"syn_{it['file'].replace('/', '_')}", True))
        item_styles.append(f"synthetic/{it['style']}" if it.get("style") is not None else None)
    entries = _unique_links(entries)
    links = _try_links(root, entries, folders)
    counts = [0] * len(names)
    items = []
    for (src, y, s, link, syn), linked, st in zip(entries, links, item_styles):
        counts[y] += 1
        file = f"{folders[y]}/{link}" if linked else str(src)
        item: dict[str, Any] = {"file": file, "class": y, "split": s, "synthetic": syn}
        if st is not None:
            item["style"] = st
        if linked:
            item["source"] = str(src)
        items.append(item)
    classes = [{"index": i, "name": n, "folder": folders[i], "count": counts[i]} for i, n in enumerate(names)]
    real_manifest = getattr(real_index, "manifest", None) or {}
    extras: dict[str, Any] = {}
    if real_manifest.get("flip", True) is False or synthetic.get("flip", True) is False:
        extras["flip"] = False  # characters: neither part may be mirrored
    if isinstance(real_manifest.get("styles"), dict):
        extras["styles"] = real_manifest["styles"]  # its reference group still draws the contents
    sources = {"real": str(Path(real_index.root).resolve()), "synthetic": str(out.resolve())}
    for i, src in enumerate(listed_sources(real_manifest)):  # a split view's or merge's own sources:
        sources[f"real_source_{i}"] = str(src)               # its unlinked test images live there
    manifest = new_manifest("merged", classes, items, sources=sources, size=synthetic.get("size"), **extras)
    atomic_write_json(root / MANIFEST_NAME, manifest)
    return root


def _flat(path: Path, root: Path) -> str:
    try:
        rel = path.relative_to(Path(root).resolve())
    except ValueError:
        rel = Path(path.name)
    return "_".join(rel.parts)


def _unique_links(entries: list) -> list:
    """Entries whose link names are unique within each class folder. A manifest that points at
    files outside its own folder (a split view, absolute paths) names links by file name alone, so
    two `1.png` of one class from different folders would otherwise share a link and the second
    would silently replace the first: later ones get `-2`, `-3`, … before the extension."""
    seen: set[tuple[int, str]] = set()
    out = []
    for src, y, split, link, syn in entries:
        stem, suffix = os.path.splitext(link)
        name, k = link, 1
        while (y, name) in seen:
            k += 1
            name = f"{stem}-{k}{suffix}"
        seen.add((y, name))
        out.append((src, y, split, name, syn))
    return out


def _try_links(root: Path, entries: list, folders: list[str]) -> list[bool]:
    """Symlink each training entry into root/<class folder>/<link>; False where not linked
    (test-split real images, or a file system without symbolic links)."""
    out = []
    ok = True
    for src, y, split, link, _ in entries:
        if split == "test" or not ok or src.suffix.lower() not in IMAGE_EXTENSIONS:  # never link a non-image
            out.append(False)
            continue
        dst = root / folders[y] / link
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.is_symlink() or dst.exists():
                if dst.resolve() != src:
                    dst.unlink()
                    os.symlink(src, dst)
            else:
                os.symlink(src, dst)
            out.append(True)
        except OSError:
            ok = False
            out.append(False)
    if not ok:  # all or nothing: a half-linked view would be a wrong ImageFolder
        for (_, y, _, link, _), linked in zip(entries, out):
            if linked:
                (root / folders[y] / link).unlink(missing_ok=True)
        return [False] * len(entries)
    return out
