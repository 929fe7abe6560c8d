"""`cvaegan prepare celeba`: aligned CelebA with its attribute vectors, identities and split, on a
dozen of the shared images, read back by train's loader with the attributes as per-item targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from cvaegan.data.dataset import build_cache
from cvaegan.prepare.common import PrepareOptions
from cvaegan.prepare.runner import prepare
from cvaegan.runtime.errors import CvaeganError

QUIET = Console(stderr=True, quiet=True)
N = 12


def _raw(test_data: Path, root: Path, *, identities: bool = True, attr_lines: list[str] | None = None) -> Path:
    """A CelebA-shaped RAW with the first N images of the shared subset (linked, not copied)."""
    src = test_data / "faces" / "celeba_attributes"
    if not src.is_dir():
        pytest.skip(f"{src} not present")
    files = [line.split()[0] for line in (src / "identity_CelebA.txt").read_text().splitlines()[:N]]
    (root / "img_align_celeba").mkdir(parents=True)
    for f in files:
        (root / "img_align_celeba" / f).symlink_to(src / "img_align_celeba" / f)
    lines = (src / "list_attr_celeba.txt").read_text().splitlines()
    rows = [ln for ln in lines[2:] if ln.split()[0] in set(files)]
    (root / "list_attr_celeba.txt").write_text("\n".join(attr_lines or [str(len(rows)), lines[1], *rows]) + "\n")
    (root / "list_eval_partition.txt").write_text((src / "list_eval_partition.txt").read_text())
    if identities:
        (root / "identity_CelebA.txt").write_text((src / "identity_CelebA.txt").read_text())
    return root


def _prepare(raw: Path, out: Path):
    return prepare(PrepareOptions(kind="celeba", raw=raw, out=out, size=32), QUIET, show_progress=False)


def test_celeba_items_carry_their_attribute_rows_identities_and_split(test_data, tmp_path):
    raw = _raw(test_data, tmp_path / "raw")
    res = _prepare(raw, tmp_path / "out")
    assert res.kept == N
    m = json.loads((tmp_path / "out" / "dataset.json").read_text())
    names = m["targets"]["names"]
    assert len(names) == 40 and "Smiling" in names and "Eyeglasses" in names
    src = test_data / "faces" / "celeba_attributes"
    attr = {ln.split()[0]: [int(v == "1") for v in ln.split()[1:]]
            for ln in (src / "list_attr_celeba.txt").read_text().splitlines()[2:]}
    ident = dict(ln.split() for ln in (src / "identity_CelebA.txt").read_text().splitlines())
    part = dict(ln.split() for ln in (src / "list_eval_partition.txt").read_text().splitlines())
    classes = {c["index"]: c["name"] for c in m["classes"]}
    for item in m["items"]:
        f = Path(item["source"]).name
        assert item["target"] == attr[f]
        assert classes[item["class"]] == ident[f]
        assert item["split"] == ("train" if part[f] == "0" else "test") and item["partition"] == int(part[f])
    cache = build_cache(tmp_path / "out", 32, cache_dir=tmp_path / "cache", split=None)
    assert cache.targets.shape == (N, 40) and set(cache.targets.flatten().tolist()) <= {0.0, 1.0}
    assert cache.images.shape == (N, 32, 32, 3)


def test_without_identities_every_image_is_one_class(test_data, tmp_path):
    raw = _raw(test_data, tmp_path / "raw", identities=False)
    _prepare(raw, tmp_path / "out")
    m = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert [c["name"] for c in m["classes"]] == ["celeba"] and len(m["items"]) == N


@pytest.mark.parametrize("lines, needle", [
    (["1", "Smiling Male", "000017.jpg 1"], "line 3 is not"),
    (["1", "Smiling Male", "000017.jpg 1 2"], "line 3 is not"),
    (["1", "Smiling Smiling", "000017.jpg 1 -1"], "repeated attribute"),
])
def test_a_malformed_attribute_list_is_one_error(test_data, tmp_path, lines, needle):
    raw = _raw(test_data, tmp_path / "raw", attr_lines=lines)
    with pytest.raises(CvaeganError, match=needle):
        _prepare(raw, tmp_path / "out")
