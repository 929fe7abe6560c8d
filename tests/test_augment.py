"""`cvaegan augment` (§5.6): determinism, resume after a kill, regeneration from the manifest, merge."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from cvaegan.apps.augment import AugmentOptions, augment, plan_precision, regenerate_unit
from cvaegan.cli.app import app
from cvaegan.data.dataset import build_cache
from cvaegan.data.manifest import index_dataset
from cvaegan.runtime.device import autocast
from tests.apps_common import demo_model

runner = CliRunner()
QUIET = Console(quiet=True)


def _opts(**kw) -> AugmentOptions:
    # batch 5: batches straddle class folders, so resume and regeneration are tested across them
    base = dict(per_class=2, new_identities=3, per_identity=3, seed=7, batch_size=5, writers=2)
    base.update(kw)
    return AugmentOptions(**base)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.png"))}


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def straight(trained_demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("aug") / "straight"
    res = augment(demo_model(trained_demo), out, _opts(), console=QUIET)
    assert res.total == 6 * 2 + 3 * 3 and res.written == res.total and res.skipped == 0
    return out


def test_killed_then_resumed_run_equals_an_uninterrupted_one(trained_demo, straight, tmp_path):
    loaded = demo_model(trained_demo)
    out = tmp_path / "resumed"

    def kill_after_8(n: int) -> None:
        if n == 8:
            raise Killed

    with pytest.raises(Killed):
        augment(loaded, out, _opts(), console=QUIET, on_image=kill_after_8)
    partial = _files(out)
    assert 8 <= len(partial) < 21
    assert not list(out.rglob("*.tmp")), "a killed run left a temporary file"
    assert json.loads((out / "augment.json").read_text())["status"] == "running"
    assert not (out / "dataset.json").exists()  # the manifest only appears once the set is complete
    for name, data in partial.items():  # every file that exists is complete and final
        assert Image.open(out / name).size == (32, 32) and data == (straight / name).read_bytes()

    res = augment(loaded, out, _opts(batch_size=64), console=QUIET)  # the first run's batch size is kept
    assert res.skipped == len(partial) and res.written == 21 - len(partial)
    assert _files(out) == _files(straight)
    assert json.loads((out / "augment.json").read_text())["status"] == "complete"


def test_manifest_regenerates_identical_images_from_its_seeds(trained_demo, straight):
    loaded = demo_model(trained_demo)
    manifest = json.loads((straight / "dataset.json").read_text())
    mixes = [c for c in manifest["classes"] if "mix" in c]
    assert len(mixes) == 3
    for c in mixes:
        mix = c["mix"]
        assert len(set(mix["classes"])) == 3 and all(0 <= k < 6 for k in mix["classes"])
        assert all(w > 0 for w in mix["weights"]) and abs(sum(mix["weights"]) - 1) < 1e-9
        files = [np.asarray(Image.open(straight / it["file"])) for it in manifest["items"] if it["class"] == c["index"]]
        # exact: the same global batches recomputed
        assert np.array_equal(regenerate_unit(loaded, manifest, c["name"]), np.stack(files))
        # from the recorded recipe alone: z = randn(count, d) from the seed, c = Σ weights·onehot
        z = torch.randn(c["count"], loaded.model.latent_dim, generator=torch.Generator().manual_seed(mix["seed"]))
        cv = torch.zeros(c["count"], loaded.num_classes)
        for k, w in zip(mix["classes"], mix["weights"]):
            cv[:, k] += w
        with autocast(loaded.device, manifest["precision"]):  # the recipe names its precision
            x = loaded.model.generate(z, cv).float()
        x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        assert np.abs(x.numpy().astype(int) - np.stack(files).astype(int)).max() <= 1
    # different identities are different people: their class vectors differ
    assert len({tuple(c["mix"]["classes"]) + tuple(c["mix"]["weights"]) for c in mixes}) == 3


def test_merged_manifest_is_read_by_trains_loader_without_copying(trained_demo, tmp_path):
    loaded = demo_model(trained_demo)
    real = index_dataset(trained_demo["data"])
    out = tmp_path / "aug"
    res = augment(loaded, out, _opts(new_identities=0, per_identity=0, per_class=1),
                  merge_with=trained_demo["data"], console=QUIET)
    assert res.merged == out / "merged"
    merged = index_dataset(res.merged)
    assert merged.class_names == real.class_names  # per-class images join their real classes
    assert len(merged) == len(real) + 6
    assert sorted(merged.splits.count(s) for s in ("train", "test")) == sorted(
        [real.splits.count("train") + 6, real.splits.count("test")])
    real_files = {Path(f).resolve() for f in real.files}
    assert real_files <= {Path(f).resolve() for f in merged.files}
    for p in res.merged.rglob("*.png"):  # the ImageFolder view holds links only, and no test image
        assert p.is_symlink()
        assert p.resolve() not in {Path(f).resolve() for f, s in zip(real.files, real.splits) if s == "test"}
    cache = build_cache(res.merged, 32, cache_dir=tmp_path / "cache", split="train")
    assert len(cache) == real.splits.count("train") + 6 and not cache.skipped
    assert sorted(set(cache.labels.tolist())) == list(range(6))
    # an ImageFolder reader (class folders of images) sees the same training set
    folders = [d for d in res.merged.iterdir() if d.is_dir()]
    assert sum(len(list(d.glob("*.png"))) for d in folders) == len(cache)


def test_cli_dry_run_then_run_then_mismatch_error(trained_demo, tmp_path):
    out = tmp_path / "cli"
    ck = str(trained_demo["ckpt"])
    r = runner.invoke(app, ["augment", "--new-identities", "4", "--per-identity", "5", "--out", str(out),
                            "--ckpt", ck, "--device", "cpu", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "would write 20 images" in r.output and "KB" in r.output
    assert not out.exists()
    r = runner.invoke(app, ["augment", "--new-identities", "4", "--per-identity", "5", "--out", str(out),
                            "--ckpt", ck, "--device", "cpu", "--no-fsync"])
    assert r.exit_code == 0, r.output
    assert "20 images written" in r.output and "images/s" in r.output
    assert len(index_dataset(out)) == 20 and len(index_dataset(out).class_names) == 4
    r = runner.invoke(app, ["augment", "--new-identities", "4", "--per-identity", "5", "--out", str(out),
                            "--ckpt", ck, "--device", "cpu"])
    assert r.exit_code == 0 and "0 images written, 20 already there" in r.output
    r = runner.invoke(app, ["augment", "--new-identities", "4", "--per-identity", "5", "--seed", "1",
                            "--out", str(out), "--ckpt", ck])
    assert r.exit_code == 1 and "holds a different augment run" in r.output and "seed" in r.output
    r = runner.invoke(app, ["augment", "--new-identities", "4", "--out", str(out), "--ckpt", ck])
    assert r.exit_code == 1 and r.output.startswith("error: --new-identities needs --per-identity")


def test_plans_without_a_recorded_precision_keep_the_old_rule():
    """Plans from before precision was recorded were rendered in bf16 on CUDA and fp32 elsewhere;
    resuming or regenerating them must not switch to what `auto` means on a bf16 CPU today."""
    assert plan_precision({}, torch.device("cpu")) == "fp32"
    assert plan_precision({}, torch.device("cuda")) == "bf16"
    assert plan_precision({"precision": "bf16"}, torch.device("cpu")) == "bf16"
