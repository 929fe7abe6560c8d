"""Atomic file writes: a reader or a crash never sees a half-written file."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
TMP_GLOB = ".*.tmp"


def remove_stale_temps(directory: str | os.PathLike[str]) -> int:
    """Delete temp files an atomic write left behind when its process was killed mid-write.

    Only call it on a folder the caller holds the lock of (`locking.folder_lock`): then no other
    writer can own them. Returns how many were removed."""
    n = 0
    for tmp in Path(directory).glob(TMP_GLOB):
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            n += 1
    return n


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, fsync: bool = True, sync_dir: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it over `path`.

    Bulk writers (augment: thousands of files) may pass `sync_dir=False` and fsync each folder
    once per batch with `fsync_dir`; `fsync=False` keeps only the rename's atomicity (a killed
    process still leaves no half-written file, an OS crash might)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:  # mkstemp makes 0600 files; what we publish gets the permissions any new file would
        os.fchmod(fd, 0o666 & ~_UMASK)
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if fsync:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, path)
        if fsync and sync_dir:
            _fsync_dir(path.parent)
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], Any]) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        writer(fh)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """UTF-8; a lone surrogate (Python's stand-in for an undecodable byte of a file name, e.g.
    Latin-1 names from old archives) is written as its `\\udcXX` escape — in JSON exactly the
    escape that reads back as the same name, so such names are carried losslessly."""
    atomic_write_bytes(path, text.encode("utf-8", "backslashreplace"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def fsync_dir(directory: Path) -> None:
    """Make renames inside `directory` durable."""
    _fsync_dir(Path(directory))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
