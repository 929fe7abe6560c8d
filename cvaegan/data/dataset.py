"""Training data: every image decoded once into a uint8 array, then batches cut from it on the device.

Decoding JPEGs each epoch is what makes GAN training loader-bound; a (N, 3, R, R) uint8 cache is
R²·3 bytes an image (49 KiB at 128), so the paper's 80k FaceScrub crops fit in 4 GB. The cache is a
`.npy` memory map under `~/.cache/cvaegan/datasets/` (or `--cache-dir`), keyed by the files'
paths, sizes and mtimes and the resolution, so any change to the dataset invalidates it. The
dataset folder itself is never written to (it may be read-only).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from cvaegan.core.batch import Batch
from cvaegan.data.images import from_hwc_uint8
from cvaegan.data.manifest import DatasetIndex, index_dataset
from cvaegan.data.pixels import to_rgb
from cvaegan.runtime.atomic import atomic_path, atomic_write_json
from cvaegan.runtime.errors import CvaeganError

DEFAULT_CACHE = Path(os.environ.get("CVAEGAN_CACHE", Path.home() / ".cache" / "cvaegan")) / "datasets"


def load_image_square(path: str | os.PathLike[str], resolution: int) -> np.ndarray:
    """Read any image as RGB (EXIF orientation applied), resize its short side to `resolution`
    (antialiased) and centre-crop: (R, R, 3) uint8. Raises on unreadable files."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im = to_rgb(im)
    w, h = im.size
    nw, nh, left, top = square_fit(w, h, resolution)
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.LANCZOS if nw < w else Image.Resampling.BICUBIC)
    return np.asarray(im.crop((left, top, left + resolution, top + resolution)), dtype=np.uint8)


def square_fit(w: int, h: int, resolution: int) -> tuple[int, int, int, int]:
    """How a w×h image becomes the model's R×R square (the one geometry for training crops, input
    crops and inpainting masks): resize to (nw, nh), short side R, then crop R×R at (left, top)."""
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    return nw, nh, (nw - resolution) // 2, (nh - resolution) // 2


def _decode(args: tuple[str, int]) -> np.ndarray | str:
    path, res = args
    try:
        return load_image_square(path, res)
    except Exception as exc:  # noqa: BLE001 — any failure means "skip this file, say why"
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


@dataclass
class ImageCache:
    """uint8 images (N, 3, R, R) with labels (and per-item target vectors when the dataset has
    them), and what was skipped while decoding."""

    images: np.ndarray          # (N, R, R, 3) uint8, possibly a memmap
    labels: np.ndarray          # (N,) int64
    class_names: list[str]
    skipped: list[tuple[str, str]]
    index: DatasetIndex
    targets: np.ndarray | None = None  # (N, D) float32, named by index.target_names
    styles: np.ndarray | None = None   # (N,) int64 style group ids (-1: none), when items have styles
    style_names: list[str] | None = None  # the group id's name (index.styles' strings)

    @property
    def resolution(self) -> int:
        return int(self.images.shape[1])

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _bytes(text: str) -> bytes:
    """File names that are not UTF-8 (surrogate-escaped by Python) hash as their original bytes."""
    return text.encode("utf-8", "surrogateescape")


def fingerprint(index: DatasetIndex, resolution: int) -> str:
    h = hashlib.sha1(_bytes(f"v1|{resolution}|{index.class_names}"))
    for f, y in zip(index.files, index.labels):
        try:
            st = f.stat()
            h.update(_bytes(f"{f}|{y}|{st.st_size}|{st.st_mtime_ns}\n"))
        except OSError:
            h.update(_bytes(f"{f}|{y}|missing\n"))
    if index.targets is not None:  # (absent: the same key as before targets existed)
        h.update(_bytes(f"targets|{index.target_names}|{index.targets}"))
    if index.styles is not None:  # (absent: the same key as before styles existed)
        h.update(_bytes(f"styles|{index.styles}"))
    return h.hexdigest()[:20]


def build_cache(data: str | os.PathLike[str], resolution: int, *, workers: int = 0,
                cache_dir: str | os.PathLike[str] | None = None, split: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> ImageCache:
    """Index DATA, then decode it (or reuse the cache). `split` keeps only "train"/"test" items when
    the manifest records a split. Unreadable images are skipped and reported, not fatal."""
    index = index_dataset(data)
    if split is not None and any(s is not None for s in index.splits):
        index = index.subset(split)
    cache_dir = Path(cache_dir) if cache_dir else DEFAULT_CACHE
    key = fingerprint(index, resolution)
    arr_path, meta_path = cache_dir / f"{key}_{resolution}.npy", cache_dir / f"{key}_{resolution}.json"
    if arr_path.is_file() and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            images = np.load(arr_path, mmap_mode="r")
            if (images.shape[0] == len(meta["labels"]) and (index.targets is None) == (meta.get("targets") is None)
                    and (index.styles is None) == (meta.get("styles") is None)):
                return ImageCache(images, np.asarray(meta["labels"], dtype=np.int64), index.class_names,
                                  [tuple(s) for s in meta["skipped"]], index, _targets(meta.get("targets")),
                                  *_styles(meta.get("styles")))
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is rebuilt
    return _decode_all(index, resolution, workers, arr_path, meta_path, progress)


def _decode_all(index: DatasetIndex, res: int, workers: int, arr_path: Path, meta_path: Path,
                progress: Callable[[int, int], None] | None) -> ImageCache:
    n = len(index)
    jobs = [(str(f), res) for f in index.files]
    out = np.empty((n, res, res, 3), dtype=np.uint8)
    kept: list[int] = []
    skipped: list[tuple[str, str]] = []
    executor = ProcessPoolExecutor(workers) if workers > 1 and n > 64 else None
    try:
        results = executor.map(_decode, jobs, chunksize=32) if executor else map(_decode, jobs)
        for i, r in enumerate(results):
            if isinstance(r, str):
                skipped.append((jobs[i][0], r))
            else:
                out[len(kept)] = r
                kept.append(i)
            if progress:
                progress(i + 1, n)
    finally:
        if executor:
            executor.shutdown()
    if not kept:
        raise CvaeganError(f"{index.root}: none of its {n} images could be read")
    images = out[: len(kept)]
    labels = np.asarray([index.labels[i] for i in kept], dtype=np.int64)
    targets = [index.targets[i] for i in kept] if index.targets is not None else None
    styles = [index.styles[i] for i in kept] if index.styles is not None else None
    try:
        with atomic_path(arr_path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, images)
        atomic_write_json(meta_path, {"labels": labels.tolist(), "skipped": skipped, "root": str(index.root),
                                      **({"targets": targets} if targets is not None else {}),
                                      **({"styles": styles} if styles is not None else {})})
    except OSError as exc:
        warnings.warn(f"could not write the image cache at {arr_path.parent}: {exc}", stacklevel=2)
    return ImageCache(images, labels, index.class_names, skipped, index, _targets(targets), *_styles(styles))


def _targets(rows: list[list[float]] | None) -> np.ndarray | None:
    return None if rows is None else np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)


def _styles(names: list[str | None] | None) -> tuple[np.ndarray | None, list[str] | None]:
    """Group ids (-1 for items without a style) and the groups' names, in first-seen order."""
    if names is None:
        return None, None
    groups = list(dict.fromkeys(n for n in names if n is not None))
    ids = {n: i for i, n in enumerate(groups)}
    return np.asarray([ids[n] if n is not None else -1 for n in names], dtype=np.int64), groups


class DeviceBatches:
    """Seeded, resumable epoch order; batches gathered from the uint8 cache, moved once (pinned,
    non-blocking on CUDA), then normalised to [-1, 1] and randomly flipped on the device.

    `batch_size` is the GLOBAL batch: with `world_size` processes, global batch i is
    order[i·B:(i+1)·B] and rank r takes its r-th contiguous share. The order depends only on the
    data generator, so which images make up step k's global batch does not depend on how many
    processes train (this is what lets a run resume with a different number of processes).

    With `prefetch` (default on CUDA) a background thread gathers and pins the next batch of the
    epoch while the current step runs, so the step does not wait for the memmap reads.
    """

    def __init__(self, cache: ImageCache, batch_size: int, device: torch.device, *, flip: bool = True,
                 memory_format: torch.memory_format = torch.contiguous_format, rank: int = 0,
                 world_size: int = 1, prefetch: bool | None = None, pairs: bool = False, styled: bool = False):
        if min(batch_size, len(cache)) < world_size:
            raise CvaeganError(f"a global batch of {min(batch_size, len(cache))} images cannot be split over "
                               f"{world_size} processes")
        self.cache = cache
        self.world_size, self.rank = world_size, rank
        self.batch_size = min(batch_size, len(cache)) // world_size * world_size
        self.local_batch = self.batch_size // world_size
        self.device = device
        self.flip = flip
        self.memory_format = memory_format
        self.labels = torch.from_numpy(cache.labels)
        self.targets = torch.from_numpy(cache.targets) if cache.targets is not None else None
        if pairs and styled:
            raise ValueError("a batch is of pairs or styled, not both")
        self.pairs = pairs or styled
        self.styled = styled
        if styled:  # per style group its images (items without a style have none)
            groups = cache.styles if cache.styles is not None else np.full(len(cache), -1)
            self._group = groups
            self._in_group = {int(g): np.flatnonzero(groups == g) for g in np.unique(groups) if g >= 0}
        if pairs:  # per class its images, and the classes that have any (for drawing another class)
            self._members = [np.flatnonzero(cache.labels == k) for k in range(len(cache.class_names))]
            self._present = np.array([k for k, m in enumerate(self._members) if len(m)])
            self._rank_of = {int(k): r for r, k in enumerate(self._present)}
        self.steps_per_epoch = len(cache) // self.batch_size
        self._pin = device.type == "cuda"
        use_thread = device.type == "cuda" if prefetch is None else prefetch
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cvaegan-prefetch") if use_thread else None
        self._ahead: tuple[torch.Tensor, int, Future] | None = None

    def indices(self, order: torch.Tensor, i: int) -> torch.Tensor:
        """This rank's image indices in global batch i."""
        start = i * self.batch_size + self.rank * self.local_batch
        return order[start:start + self.local_batch]

    def partners(self, order: torch.Tensor, i: int) -> torch.Tensor:
        """This rank's partner indices in global batch i (batches of pairs): for each image, with
        probability ½ another image of its class (when it has one), else an image of another class
        (when there is one). Drawn for the whole global batch from a generator seeded by the epoch's
        order and i, so pairs do not depend on the number of processes and survive a resume."""
        glob = order[i * self.batch_size:(i + 1) * self.batch_size].numpy()
        rng = np.random.default_rng([int(order[0]), int(order[-1]), i])
        labels, n_other = self.cache.labels, len(self._present) - 1
        out = np.empty(len(glob), dtype=np.int64)
        for j, a in enumerate(glob):
            mine = self._members[labels[a]]
            same = (rng.random() < 0.5 or not n_other) and len(mine) > 1
            if same:
                b = mine[rng.integers(len(mine) - 1)]
                out[j] = b if b != a else mine[-1]  # uniform over the class's other images
            elif n_other:  # uniform over the other present classes: skip this image's own rank
                r = int(rng.integers(n_other))
                pool = self._members[self._present[r + (r >= self._rank_of[int(labels[a])])]]
                out[j] = pool[rng.integers(len(pool))]
            else:  # one image in the only class: its own partner
                out[j] = a
        start = self.rank * self.local_batch
        return torch.from_numpy(out[start:start + self.local_batch])

    def style_partners(self, order: torch.Tensor, i: int) -> torch.Tensor:
        """This rank's style partners in global batch i (styled batches): for each image, another
        image of its style group (the same font) showing ANOTHER class when the group has one — so
        the style image never shows the content the output must draw — else any other image of
        the group, else the image itself (no style recorded: plain autoencoding). Seeded as
        `partners`, so they survive a resume and do not depend on the number of processes."""
        glob = order[i * self.batch_size:(i + 1) * self.batch_size].numpy()
        rng = np.random.default_rng([int(order[0]), int(order[-1]), i, 1])
        labels = self.cache.labels
        out = glob.copy()
        for j, a in enumerate(glob):
            g = int(self._group[a])
            if g < 0:
                continue
            members = self._in_group[g]
            others = members[labels[members] != labels[a]]
            pool = others if len(others) else members[members != a]
            if len(pool):
                out[j] = pool[rng.integers(len(pool))]
        start = self.rank * self.local_batch
        return torch.from_numpy(out[start:start + self.local_batch])

    def host_batch(self, idx: torch.Tensor, pidx: torch.Tensor | None = None) -> tuple[torch.Tensor | None, ...]:
        """uint8 (n, R, R, 3), labels, targets, and partner images and labels on the host (None
        where the data or the batch kind has none), pinned for an async copy on CUDA."""
        if pidx is None:  # sequential reads from the memmap; order within a batch is irrelevant
            idx, _ = idx.sort()
        x = torch.from_numpy(np.ascontiguousarray(self.cache.images[idx.numpy()]))
        y = self.labels[idx]
        tgt = self.targets[idx] if self.targets is not None else None
        xp = torch.from_numpy(np.ascontiguousarray(self.cache.images[pidx.numpy()])) if pidx is not None else None
        yp = self.labels[pidx] if pidx is not None else None
        out = (x, y, tgt, xp, yp)
        return tuple(v.pin_memory() if v is not None and self._pin else v for v in out)

    def _host(self, order: torch.Tensor, i: int) -> tuple[torch.Tensor | None, ...]:
        partners = self.style_partners if self.styled else self.partners
        return self.host_batch(self.indices(order, i), partners(order, i) if self.pairs else None)

    def batch(self, order: torch.Tensor, i: int, gen: torch.Generator) -> Batch:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] is order and ahead[1] == i:
            host = ahead[2].result()
        else:
            host = self._host(order, i)
        if self._pool is not None and i + 1 < self.steps_per_epoch:
            self._ahead = (order, i + 1, self._pool.submit(self._host, order, i + 1))
        return self.to_device(*host, gen=gen)

    def to_device(self, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor | None = None,
                  x_pair: torch.Tensor | None = None, y_pair: torch.Tensor | None = None, *,
                  gen: torch.Generator) -> Batch:
        pin = self._pin
        with _one_cpu_thread(self.device):
            images = [self._images(v, gen) if v is not None else None for v in (x, x_pair)]
            rest = [v.to(self.device, non_blocking=pin) if v is not None else None for v in (y, target, y_pair)]
        return Batch(images[0], rest[0], rest[1], images[1], rest[2])

    def _images(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        x = x.to(self.device, non_blocking=self._pin)  # (n, R, R, 3) uint8
        if self.flip:  # on the uint8 NHWC batch: a quarter of the bytes of the float one
            mask = torch.rand(x.shape[0], generator=gen, device=self.device) < 0.5
            x = torch.where(mask[:, None, None, None], x.flip(2), x)
        return from_hwc_uint8(x).contiguous(memory_format=self.memory_format)

    def epoch_order(self, gen: torch.Generator) -> torch.Tensor:
        return torch.randperm(len(self.cache), generator=gen)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def may_flip(cache: ImageCache) -> bool:
    """Whether training images of this dataset may be mirrored: not when its manifest says
    `"flip": false` (characters, whose mirror image is another glyph or none)."""
    return (cache.index.manifest or {}).get("flip", True) is not False


def cache_images(cache: ImageCache, idx: np.ndarray) -> torch.Tensor:
    """The cached images at `idx` as float (n, 3, R, R) in [-1, 1] on the CPU."""
    return from_hwc_uint8(torch.from_numpy(np.ascontiguousarray(cache.images[np.asarray(idx)])))


def content_items(cache: ImageCache) -> np.ndarray:
    """Per class, the cache index of its plain *content* image: the class's image in the
    manifest's reference style (`"styles": {"reference": …}`, e.g. the reference font), else the
    class's first image. CvaeganError names a class without any image."""
    spec = (cache.index.manifest or {}).get("styles")
    ref = str(spec["reference"]) if isinstance(spec, dict) and spec.get("reference") is not None else None
    ref_id = cache.style_names.index(ref) if ref is not None and cache.style_names and ref in cache.style_names else None
    out = np.empty(len(cache.class_names), dtype=np.int64)
    for k, name in enumerate(cache.class_names):
        members = np.flatnonzero(cache.labels == k)
        if not len(members):
            raise CvaeganError(f"class '{name}' has no image, so it has no content image to draw from")
        in_ref = members[cache.styles[members] == ref_id] if ref_id is not None and cache.styles is not None else members[:0]
        out[k] = in_ref[0] if len(in_ref) else members[0]
    return out


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """Run the loader's few small CPU ops on one thread: waking the intra-op pool costs more than
    they do, by 4-200x on a busy machine (measured: 32x64x64 batch, 2 cores under load)."""
    if device.type != "cpu" or torch.get_num_threads() == 1:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)
