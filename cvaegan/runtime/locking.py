"""One writer per output folder: an exclusive lock on FOLDER/.lock for the length of a job.

Two `train --name X` (or two `augment --out D`, `prepare --out D`) at once would interleave their
logs and overwrite each other's checkpoints and manifests. `flock` is released by the kernel when
the process dies, so a killed job never leaves a stale lock behind; the pid written into the file
is only there to tell the user who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from cvaegan.runtime.errors import CvaeganError

LOCK_NAME = ".lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str = "folder") -> Iterator[Path]:
    """Hold an exclusive, non-blocking lock on `folder` (created if missing) or raise CvaeganError."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise CvaeganError(f"{folder}: this {what} is in use by another cvaegan process"
                               + (f" (pid {holder})" if holder else "") + "; wait for it or pick another one") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock
