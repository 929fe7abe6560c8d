"""Data-parallel training (cvaegan/runtime/distributed.py) with 2 gloo processes on the CPU.

The key test trains 2 ranks for a few steps and checks that (a) parameters, buffers and centres
are identical on both ranks, (b) the Eq. 2 / Eq. 4 moving-average centres equal those a single
process computes from the union of the ranks' features (recorded at each step, so per-rank batch
norm does not blur the comparison), (c) the ranks' shards make up the single-process global batch,
(d) the all-reduced centre update gives a shared parameter exactly the single-process gradient.
A missing or wrong all-reduce (centres or gradients) fails it. Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cvaegan.core.centres import FeatureCentres
from cvaegan.data.dataset import DeviceBatches, ImageCache
from cvaegan.runtime import distributed
from cvaegan.runtime.distributed import DistContext
from tests.helpers import make_shapes_dataset

REPO = Path(__file__).resolve().parents[1]
WORLD = 2
UNIT = dict(steps=3, per_rank=6, d_dim=5, c_dim=4, classes=3, in_dim=7, decay=0.9)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_opts(data: Path, out: Path, **kw):
    from cvaegan.pipelines.train import TrainOptions

    base = dict(data=data, out=out, name="dp", resolution=32, width=0.25, latent_dim=16, batch_size=8, steps=4,
                device="cpu", workers=0, cache_dir=out / "cache", log_every=2, sample_every=4, ckpt_every=4)
    base.update(kw)
    return TrainOptions(**base)


# ---- the centre update on its own: values and gradient ----------------------------------------

def _unit_inputs():
    """S steps of union-batch features (real, from a 'network' for fake) and labels."""
    u = UNIT
    g = torch.Generator().manual_seed(123)
    n = WORLD * u["per_rank"]
    lin = torch.nn.Linear(u["in_dim"], u["d_dim"] + u["c_dim"])
    with torch.no_grad():
        for p in lin.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    steps = []
    for _ in range(u["steps"]):
        steps.append(dict(fd_r=torch.randn(n, u["d_dim"], generator=g), fc_r=torch.randn(n, u["c_dim"], generator=g),
                          y_r=torch.randint(0, u["classes"], (n,), generator=g),
                          a_p=torch.randn(n, u["in_dim"], generator=g),
                          y_p=torch.randint(0, u["classes"], (n,), generator=g)))
    return lin, steps


def _unit_run(lin, steps, sl, reduce):
    """Run the centre updates on the slice `sl` of each step; returns (centres, grad of lin)."""
    u = UNIT
    centres = FeatureCentres(u["d_dim"], u["c_dim"], u["classes"], u["decay"])
    lin.zero_grad(set_to_none=True)
    for s in steps:
        f_p = lin(s["a_p"][sl])
        fd_p, fc_p = f_p[:, :u["d_dim"]], f_p[:, u["d_dim"]:]
        real, fake = centres.update_d(s["fd_r"][sl], fd_p, reduce)
        c_real, c_fake, valid = centres.update_c(s["fc_r"][sl], s["y_r"][sl], fc_p, s["y_p"][sl], reduce)
        loss = ((real - fake) ** 2).sum() + (((c_real - c_fake) ** 2).sum(1) * valid).sum()
        loss.backward()  # accumulates over the steps
    return centres.state_dict(), [p.grad.clone() for p in lin.parameters()]


# ---- the worker ----------------------------------------------------------------------------------

def _worker(rank: int, port: int, tmp: str, data: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_WORLD_SIZE=str(WORLD), OMP_NUM_THREADS="1",
                      CVAEGAN_DIST_TIMEOUT_S="90")
    torch.set_num_threads(1)
    from rich.console import Console

    import cvaegan.pipelines.train as tr
    import cvaegan.core.centres as mc

    ctx = distributed.setup("cpu")
    assert ctx.enabled and ctx.backend == "gloo" and ctx.rank == rank
    out = Path(tmp)

    # (d) the centre update alone, with a shared 'network' whose gradients are averaged
    lin, steps = _unit_inputs()
    per = UNIT["per_rank"]
    centres, _ = _unit_run(lin, steps, slice(rank * per, (rank + 1) * per), ctx.reduce_centre_stats)
    ctx.grad_sync(lin)()
    torch.save({"centres": centres, "grads": [p.grad for p in lin.parameters()]}, out / f"unit{rank}.pt")

    # (a)-(c) real training steps, recording what each rank feeds the centres
    rec: dict[str, list] = {"d": [], "c": [], "idx": []}
    orig_d, orig_c, orig_idx = mc.FeatureCentres.update_d, mc.FeatureCentres.update_c, DeviceBatches.indices

    def update_d(self, f_real, f_fake, reduce=None):
        rec["d"].append((f_real.detach().clone(), f_fake.detach().clone()))
        return orig_d(self, f_real, f_fake, reduce)

    def update_c(self, f_real, y_real, f_fake, y_fake, reduce=None):
        rec["c"].append(tuple(t.detach().clone() for t in (f_real, y_real, f_fake, y_fake)))
        return orig_c(self, f_real, y_real, f_fake, y_fake, reduce)

    def indices(self, order, i):
        idx = orig_idx(self, order, i)
        rec["idx"].append(idx.clone())
        return idx

    import dataclasses

    from cvaegan.families import registry

    model_ref = {}
    family = registry.resolve("cvaegan")[0]
    orig_step = family.train_step

    def train_step(model, *a, **kw):
        model_ref["m"] = model
        return orig_step(model, *a, **kw)

    mc.FeatureCentres.update_d, mc.FeatureCentres.update_c, DeviceBatches.indices = update_d, update_c, indices
    registry._FAMILIES[family.name] = dataclasses.replace(family, train_step=train_step)  # a spawned process: no undo needed
    res = tr.train(_train_opts(Path(data), out / "runs"), Console(quiet=True))
    m = model_ref["m"]
    torch.save({"nets": {k: v.state_dict() for k, v in m.nets.items()}, "centres": m.centres.state_dict(),
                "rec": rec, "step": res.step}, out / f"rank{rank}.pt")
    ctx.close()


def _spawn(tmp: Path, data: Path, timeout: float = 240.0) -> None:
    import torch.multiprocessing as mp

    pc = mp.start_processes(_worker, args=(_free_port(), str(tmp), str(data)), nprocs=WORLD, join=False,
                            start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not pc.join(timeout=1.0):
            if time.monotonic() > deadline:
                pytest.fail(f"{WORLD} gloo processes did not finish within {timeout:.0f} s")
    finally:
        for p in pc.processes:
            if p.is_alive():
                p.terminate()


def test_two_gloo_processes_match_single_process(shapes, tmp_path):
    _spawn(tmp_path, shapes)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD))
    assert r0["step"] == r1["step"] == 4

    # (a) identical parameters, BN buffers and centres on both ranks
    for net, sd in r0["nets"].items():
        for k, v in sd.items():
            assert torch.equal(v, r1["nets"][net][k]), f"{net}.{k} differs between ranks"
    for k, v in r0["centres"].items():
        assert torch.equal(v, r1["centres"][k]), f"centre {k} differs between ranks"

    # (b) centres = a single process's moving averages over the union of the ranks' features
    first = r0["nets"]
    ref = FeatureCentres(r0["centres"]["d_real"].shape[0], r0["centres"]["c_real"].shape[1],
                         r0["centres"]["c_real"].shape[0], 0.9)
    assert len(r0["rec"]["d"]) == len(r1["rec"]["d"]) == 4
    for (d0, c0), (d1, c1) in zip(zip(r0["rec"]["d"], r0["rec"]["c"]), zip(r1["rec"]["d"], r1["rec"]["c"])):
        assert not torch.equal(d0[0], d1[0])  # the ranks really saw different images
        ref.update_d(torch.cat([d0[0], d1[0]]), torch.cat([d0[1], d1[1]]))
        ref.update_c(*(torch.cat([a, b]) for a, b in zip(c0, c1)))
    for k, v in ref.state_dict().items():
        got = r0["centres"][k]
        if v.dtype == torch.bool:
            assert torch.equal(got, v), k
        else:
            torch.testing.assert_close(got, v, rtol=1e-5, atol=1e-6, msg=f"centre {k}")
    # the per-rank centres alone would differ (guards against a vacuous comparison)
    alone = FeatureCentres(ref.d_real.shape[0], ref.c_real.shape[1], ref.c_real.shape[0], 0.9)
    for d0 in r0["rec"]["d"]:
        alone.update_d(*d0)
    assert not torch.allclose(alone.d_real, r0["centres"]["d_real"], rtol=1e-3, atol=1e-4)
    assert first  # networks were saved

    # (c) the shards of step k are the single-process global batch k of the same seeded order
    order = torch.randperm(36, generator=torch.Generator().manual_seed(0))
    for k, (i0, i1) in enumerate(zip(r0["rec"]["idx"], r1["rec"]["idx"])):
        pos = k % 4  # 36 images // 8 = 4 steps an epoch; epoch 1's order comes from the same generator
        if k < 4:
            assert torch.equal(torch.cat([i0, i1]), order[pos * 8:(pos + 1) * 8])

    # (d) the all-reduced centre update: same centres and same averaged gradient as one process
    lin, steps = _unit_inputs()
    want_centres, want_grads = _unit_run(lin, steps, slice(None), None)
    for r in range(WORLD):
        unit = torch.load(tmp_path / f"unit{r}.pt", weights_only=True)
        for k, v in want_centres.items():
            torch.testing.assert_close(unit["centres"][k].float(), v.float(), rtol=1e-5, atol=1e-6)
        for got, want in zip(unit["grads"], want_grads):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)

    # rank 0 alone wrote the run; it resumes in ONE process (world-size independent checkpoint)
    from rich.console import Console

    from cvaegan.session import load_checkpoint
    from cvaegan.pipelines.train import train

    run = tmp_path / "runs" / "dp"
    ck = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ck["meta"]["processes"] == WORLD and ck["step"] == 4
    for net, sd in ck["networks"].items():
        for k, v in sd.items():
            assert torch.equal(v, r0["nets"][net][k]), f"checkpoint {net}.{k}"
    res = train(_train_opts(shapes, tmp_path / "runs", steps=6, resume=True), Console(quiet=True))
    assert res.step == 6
    events = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [e.get("processes") for e in events if e.get("event") in ("start", "resume")] == [2, 1]
    assert events[-1]["event"] == "end" and events[-1]["step"] == 6


# ---- the launcher, end to end --------------------------------------------------------------------

def test_nproc_launcher_runs_torchrun(shapes, tmp_path):
    cmd = [sys.executable, "-m", "cvaegan", "train", str(shapes), "--out", str(tmp_path), "--name", "two",
           "-r", "32", "--width", "0.25", "--latent-dim", "16", "-b", "8", "--steps", "2", "--device", "cpu",
           "--log-every", "1", "--sample-every", "2", "--ckpt-every", "2", "--workers", "0",
           "--cache-dir", str(tmp_path / "cache"), "--nproc", "2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CVAEGAN_DIST_TIMEOUT_S": "90"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "two"
    recs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert recs[0]["event"] == "start" and recs[0]["processes"] == 2
    assert [r["step"] for r in recs if "loss_g" in r] == [1, 2]  # one line per step: only rank 0 logs
    assert (run / "samples" / "step_0000002.png").is_file() and (run / "checkpoints" / "step_0000002.pt").is_file()
    assert proc.stderr.count("finished at step 2/2") == 1  # only rank 0 talks


def test_nproc_forwards_the_given_arguments(shapes, tmp_path, monkeypatch):
    from cvaegan.cli.app import app

    seen = {}
    monkeypatch.setattr(distributed, "launch", lambda args, n, cpu: seen.update(args=args, n=n, cpu=cpu) or 0)
    res = CliRunner().invoke(app, ["train", str(shapes), "--nproc", "3", "-b", "12", "--device", "cpu",
                                   "--sync-bn", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert seen == {"args": ["train", str(shapes), "--out", str(tmp_path), "--batch-size", "12", "--device", "cpu",
                             "--sync-bn"], "n": 3, "cpu": True}


# ---- pieces without processes -------------------------------------------------------------------

def test_shards_make_up_the_global_batch_and_prefetch_changes_nothing():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    cache = ImageCache(images, rng.integers(0, 3, 20), ["a", "b", "c"], [], None)  # type: ignore[arg-type]
    order = torch.randperm(20, generator=torch.Generator().manual_seed(1))
    cpu = torch.device("cpu")
    single = DeviceBatches(cache, 8, cpu, flip=False)
    shards = [DeviceBatches(cache, 8, cpu, flip=False, rank=r, world_size=2, prefetch=True) for r in range(2)]
    g = torch.Generator()
    assert single.steps_per_epoch == shards[0].steps_per_epoch == 2 and shards[0].local_batch == 4
    for i in range(2):
        b = single.batch(order, i, g)
        xs, ys = b.x, b.y
        parts = [(p.x, p.y) for p in (s.batch(order, i, g) for s in shards)]
        # same images and labels (each batch is sorted by index, so compare as multisets)
        key = lambda x, y: sorted(zip(y.tolist(), x.flatten(1).sum(1).tolist()))  # noqa: E731
        assert key(xs, ys) == key(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]))
    for s in shards:
        s.close()
    with pytest.raises(Exception, match="cannot be split"):
        DeviceBatches(cache, 1, cpu, world_size=2)


def test_step_seeds_differ_by_rank_and_step():
    seeds = {distributed.step_seed(0, s, r) for s in range(50) for r in range(4)}
    assert len(seeds) == 200 and distributed.step_seed(0, 3, 1) == distributed.step_seed(0, 3, 1)
    assert distributed.step_seed(1, 3, 1) != distributed.step_seed(0, 3, 1)


def test_sync_bn_conversion_and_its_cpu_error():
    from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig

    model = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=3, resolution=32, width=0.25, latent_dim=8)))
    keys = {n: set(net.state_dict()) for n, net in model.nets.items()}
    with pytest.raises(Exception, match="--sync-bn needs CUDA"):
        distributed.convert_sync_bn(model, DistContext(world_size=2))
    distributed.convert_sync_bn(model, DistContext())
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert not any(type(m) is torch.nn.BatchNorm2d for m in model.modules())
    assert {n: set(net.state_dict()) for n, net in model.nets.items()} == keys  # checkpoints unchanged
