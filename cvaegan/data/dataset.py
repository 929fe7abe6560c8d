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

from cvaegan.data.images import from_hwc_uint8
from cvaegan.runtime.atomic import atomic_path, atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.data.manifest import DatasetIndex, index_dataset
from cvaegan.data.pixels import to_rgb

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
    """uint8 images (N, 3, R, R) with labels, and what was skipped while decoding."""

    images: np.ndarray          # (N, R, R, 3) uint8, possibly a memmap
    labels: np.ndarray          # (N,) int64
    class_names: list[str]
    skipped: list[tuple[str, str]]
    index: DatasetIndex

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
            if images.shape[0] == len(meta["labels"]):
                return ImageCache(images, np.asarray(meta["labels"], dtype=np.int64), index.class_names,
                                  [tuple(s) for s in meta["skipped"]], index)
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
    try:
        with atomic_path(arr_path) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, images)
        atomic_write_json(meta_path, {"labels": labels.tolist(), "skipped": skipped, "root": str(index.root)})
    except OSError as exc:
        warnings.warn(f"could not write the image cache at {arr_path.parent}: {exc}", stacklevel=2)
    return ImageCache(images, labels, index.class_names, skipped, index)


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
                 world_size: int = 1, prefetch: bool | None = None):
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
        self.steps_per_epoch = len(cache) // self.batch_size
        self._pin = device.type == "cuda"
        use_thread = device.type == "cuda" if prefetch is None else prefetch
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cvaegan-prefetch") if use_thread else None
        self._ahead: tuple[torch.Tensor, int, Future] | None = None

    def indices(self, order: torch.Tensor, i: int) -> torch.Tensor:
        """This rank's image indices in global batch i."""
        start = i * self.batch_size + self.rank * self.local_batch
        return order[start:start + self.local_batch]

    def host_batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (n, R, R, 3) and labels on the host, pinned for an async copy on CUDA."""
        sorted_idx, _ = idx.sort()  # sequential reads from the memmap; order within a batch is irrelevant
        x = torch.from_numpy(np.ascontiguousarray(self.cache.images[sorted_idx.numpy()]))
        y = self.labels[sorted_idx]
        if self._pin:
            x, y = x.pin_memory(), y.pin_memory()
        return x, y

    def batch(self, order: torch.Tensor, i: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] is order and ahead[1] == i:
            x, y = ahead[2].result()
        else:
            x, y = self.host_batch(self.indices(order, i))
        if self._pool is not None and i + 1 < self.steps_per_epoch:
            self._ahead = (order, i + 1, self._pool.submit(self.host_batch, self.indices(order, i + 1)))
        return self.to_device(x, y, gen)

    def to_device(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pin = self._pin
        with _one_cpu_thread(self.device):
            x = x.to(self.device, non_blocking=pin)  # (n, R, R, 3) uint8
            if self.flip:  # on the uint8 NHWC batch: a quarter of the bytes of the float one
                mask = torch.rand(x.shape[0], generator=gen, device=self.device) < 0.5
                x = torch.where(mask[:, None, None, None], x.flip(2), x)
            x = from_hwc_uint8(x).contiguous(memory_format=self.memory_format)
        return x, y.to(self.device, non_blocking=pin)

    def epoch_order(self, gen: torch.Generator) -> torch.Tensor:
        return torch.randperm(len(self.cache), generator=gen)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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
