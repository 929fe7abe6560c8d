"""Checks on where a command will write, made before any work: one line instead of a
FileExistsError after decoding every image, and nothing of the user's silently replaced.

- An output file must not be a folder (and its folder not a file).
- An output folder must not be a file; a non-empty one must hold an earlier run of the same job
  (its marker: `augment.json`, `.prepare/`) unless the user says `--overwrite`.
- A JSON record written beside an output (`grid.png` → `grid.json`) may replace only an earlier
  record of a cvaegan command — never, say, a dataset's `dataset.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.locking import LOCK_NAME


def check_out_file(path: Path, flag: str = "--out") -> Path:
    if path.is_dir():
        raise CvaeganError(f"{flag} {path} is a folder; give a file name")
    _no_file_above(path, flag)
    return path


def check_out_dir(path: Path, flag: str = "--out") -> Path:
    if path.exists() and not path.is_dir():
        raise CvaeganError(f"{flag} {path} is a file; give a folder")
    _no_file_above(path, flag)
    return path


def claim_out_dir(path: Path, *, marker: str, job: str, overwrite: bool, flag: str = "--out") -> Path:
    """`check_out_dir`, and refuse a non-empty folder without `marker` (an earlier `job` run that
    this one resumes) unless `overwrite`."""
    check_out_dir(path, flag)
    if path.is_dir() and not overwrite and not (path / marker).exists():
        others = sorted(p.name for p in path.iterdir() if p.name != LOCK_NAME)
        if others:
            raise CvaeganError(f"{flag} {path} is not empty and holds no earlier {job} run ({len(others)} entries, "
                               f"e.g. {others[0]}); pick a new folder, or --overwrite to write into it")
    return path


def image_output(path: Path, flag: str = "--out") -> Path:
    """An image file to write, checked (a writable format, not a folder), and its JSON record path
    (see `record_path`)."""
    from cvaegan.data.images import FORMATS

    if path.suffix.lower() not in FORMATS:
        raise CvaeganError(f"{flag} {path}: cannot write '{path.suffix}' images; use .png, .jpg or .webp")
    return record_path(check_out_file(path, flag))


def record_path(output: Path) -> Path:
    """The JSON record beside `output`, refused if it exists and is not a cvaegan command record."""
    path = output.with_suffix(".json")
    if path == output or not path.exists():
        return path
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        old = None
    if not isinstance(old, dict) or "command" not in old:
        raise CvaeganError(f"{path} exists and is not a record of a cvaegan command; refusing to replace it "
                           "(pick another --out)")
    return path


def _no_file_above(path: Path, flag: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise CvaeganError(f"{flag} {path}: {parent} is a file, not a folder")
            return
