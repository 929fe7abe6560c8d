"""`cvaegan train` / `sample`: run folder, resume with the same streams, Ctrl-C, divergence,
determinism of sampling, CLI errors."""

from __future__ import annotations

import json
import os
import signal

import pytest
import torch
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.families.cvaegan.config import LossConfig
from cvaegan.pipelines.train import TrainingDiverged, TrainOptions, train
from cvaegan.runtime.device import autocast, native_bf16, resolve_precision
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import load_checkpoint
from tests.helpers import make_shapes_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


def _opts(data, out, **kw):
    base = dict(data=data, out=out, name="r", resolution=32, width=0.125, latent_dim=16, batch_size=8, steps=6,
                device="cpu", workers=0, cache_dir=out / "cache", log_every=2, sample_every=3, ckpt_every=4)
    base.update(kw)
    return TrainOptions(**base)


def test_train_cli_writes_the_run_folder(shapes, tmp_path):
    res = runner.invoke(app, ["train", str(shapes), "--out", str(tmp_path), "--name", "run", "-r", "32",
                              "--width", "0.125", "--latent-dim", "16", "-b", "8", "--steps", "4", "--device", "cpu",
                              "--log-every", "2", "--sample-every", "2", "--ckpt-every", "2",
                              "--cache-dir", str(tmp_path / "cache"), "--precision", "fp32"])
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    for rel in ("config.json", "log.jsonl", "samples/latest.png", "samples/step_0000002.png",
                "checkpoints/latest.pt", "checkpoints/step_0000002.pt"):
        assert (run / rel).is_file(), rel
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in recs if "loss_g" in r]
    assert [r["step"] for r in steps] == [2, 4]
    for key in ("loss_c", "loss_d", "loss_kl", "loss_g", "loss_gd", "loss_gc", "g_img", "g_fd", "g_fc",
                "images_per_s", "step_time_s"):
        assert key in steps[0], key
    assert recs[0]["event"] == "start" and recs[-1]["event"] == "end"
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["step"] == 4 and ckpt["class_names"] == ["class_0", "class_1", "class_2"]
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["model"]["loss"]["lambda_kl"] == LossConfig().lambda_kl and cfg["model"]["model"]["resolution"] == 32
    assert cfg["meta"]["precision"] == recs[0]["precision"] == "fp32"


def test_precision_auto_is_bf16_exactly_where_it_is_native():
    cpu = torch.device("cpu")
    assert resolve_precision(cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision(cpu, "FP32") == "fp32" and resolve_precision(cpu, "bf16") == "bf16"
    assert isinstance(autocast(cpu, "bf16"), torch.autocast) and not isinstance(autocast(cpu, "fp32"), torch.autocast)
    with pytest.raises(CvaeganError, match="unknown precision 'fp16'"):
        resolve_precision(cpu, "fp16")


def test_resume_continues_the_same_streams(shapes, tmp_path):
    straight = train(_opts(shapes, tmp_path / "a", steps=6))
    first = train(_opts(shapes, tmp_path / "b", steps=6), stop=lambda s: s >= 3)
    assert first.step == 3
    resumed = train(_opts(shapes, tmp_path / "b", steps=6, resume=True))
    assert resumed.step == 6
    a = load_checkpoint(straight.checkpoint)
    b = load_checkpoint(resumed.checkpoint)
    for net in a["networks"]:
        for k, v in a["networks"][net].items():
            assert torch.equal(v, b["networks"][net][k]), f"{net}.{k}"
    for k, v in a["centres"].items():
        assert torch.equal(v, b["centres"][k]), k


def test_existing_run_needs_resume(shapes, tmp_path):
    train(_opts(shapes, tmp_path, steps=2))
    with pytest.raises(CvaeganError, match="--resume"):
        train(_opts(shapes, tmp_path, steps=2))


def test_ctrl_c_saves_a_checkpoint_and_stops(shapes, tmp_path):
    def on_log(rec):
        if rec["step"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    res = train(_opts(shapes, tmp_path, steps=50, log_every=1), on_log=on_log)
    assert res.interrupted and res.step == 3  # finishes the step in flight, then stops
    assert load_checkpoint(res.checkpoint)["step"] == 3


def test_nan_stops_and_keeps_last_good_checkpoint(shapes, tmp_path, monkeypatch):
    import dataclasses

    from cvaegan.families import registry

    family = registry.resolve("cvaegan")[0]
    real_step = family.train_step
    calls = {"n": 0}

    def poisoned(*a, **kw):
        logs = real_step(*a, **kw)
        calls["n"] += 1
        if calls["n"] >= 5:
            logs["loss_d"] = torch.tensor(float("nan"))
        return logs

    monkeypatch.setitem(registry._FAMILIES, family.name, dataclasses.replace(family, train_step=poisoned))
    with pytest.raises(TrainingDiverged, match="loss_d became nan by step 5") as e:
        train(_opts(shapes, tmp_path, steps=20, log_every=1, ckpt_every=4))
    assert "last good checkpoint" in str(e.value)
    assert load_checkpoint(tmp_path / "r" / "checkpoints" / "latest.pt")["step"] == 4


def test_unreadable_images_are_skipped_and_counted(shapes, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(shapes, data)
    (data / "class_0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    (data / "class_1" / "notes.jpg").write_text("just text")
    res = train(_opts(data, tmp_path / "out", steps=1))
    meta = load_checkpoint(res.checkpoint)["meta"]
    assert meta["skipped"] == 2 and meta["images"] == 36


def test_sample_is_deterministic_under_a_seed(shapes, tmp_path):
    train(_opts(shapes, tmp_path, steps=20, log_every=10))  # past the flat outputs of DCGAN init
    ck = str(tmp_path / "r" / "checkpoints" / "latest.pt")
    outs = []
    for seed, name in ((5, "a.png"), (5, "b.png"), (6, "c.png")):
        res = runner.invoke(app, ["sample", "--ckpt", ck, "--class", "class_1", "-n", "4", "--seed", str(seed),
                                  "--out", str(tmp_path / name), "--device", "cpu"])
        assert res.exit_code == 0, res.output
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1] and outs[0] != outs[2]
    rec = json.loads((tmp_path / "a.json").read_text())
    assert rec["classes"] == [1] and rec["seed"] == 5
    res = runner.invoke(app, ["sample", "--ckpt", ck, "--class", "all", "-n", "2", "--out", str(tmp_path / "all.png"),
                              "--separate", str(tmp_path / "sep"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert sorted(p.parent.name for p in (tmp_path / "sep").rglob("*.png")) == ["class_0"] * 2 + ["class_1"] * 2 + ["class_2"] * 2


@pytest.mark.parametrize("args,needle", [
    (["sample", "--class", "clas_1"], "unknown class 'clas_1'; closest: class_1"),
    (["sample", "--class", "7"], "out of range"),
    (["train", "{data}", "--resolution", "48"], "--resolution 48: must be one of"),
    (["train", "{tmp}/nowhere"], "no such dataset folder"),
    (["train", "{data}", "--model", "vae"], "unknown --model"),
    (["train", "{data}", "--precision", "fp16"], "unknown precision 'fp16'"),
])
def test_cli_errors_are_one_line(shapes, tmp_path, args, needle):
    train(_opts(shapes, tmp_path / "runs", steps=1))
    args = [a.format(data=shapes, tmp=tmp_path) for a in args]
    if args[0] == "sample":
        args += ["--runs", str(tmp_path / "runs"), "--device", "cpu"]
    res = runner.invoke(app, args)
    assert res.exit_code == (2 if "--resolution" in args else 1)  # bad option values are usage errors
    err = res.stderr if hasattr(res, "stderr") and res.stderr else res.output
    assert needle in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_help_has_examples():
    for cmd in ("train", "sample"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Examples" in res.output and f"cvaegan {cmd}" in res.output
