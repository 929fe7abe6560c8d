"""Shared fixtures. Real photos come from CVAEGAN_TEST_DATA (default ../shared/data); tests that
need them skip with a reason when it is absent, unless CVAEGAN_REQUIRE_TEST_DATA=1 (CI) makes
that a failure."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _test_data_root() -> Path:
    return Path(os.environ.get("CVAEGAN_TEST_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def test_data() -> Path:
    root = _test_data_root()
    if not root.is_dir():
        msg = f"real test data not found at {root} (set CVAEGAN_TEST_DATA)"
        if os.environ.get("CVAEGAN_REQUIRE_TEST_DATA") == "1":
            pytest.fail(msg + "; CVAEGAN_REQUIRE_TEST_DATA=1 makes this a failure")
        pytest.skip(msg)
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny CPU models run with one thread. On a shared 2-core machine two OpenMP threads spin
    against other jobs and ran the judge's steps ~15× slower (measured 5.3 s vs 0.3 s per step)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A checkpoint trained briefly on the demo's cartoon faces (6 identities, 32×32, width 0.25, latent 32
    as in the demo),
    shared by every test that needs a model that has learnt something: ~60 s on 2 cores, once a
    session. Returns {"data": dataset folder (with dataset.json and a test split), "ckpt": latest.pt,
    "run": run folder}."""
    from rich.console import Console

    from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset
    from cvaegan.pipelines.train import TrainOptions, train

    root = tmp_path_factory.mktemp("trained_demo")
    data = write_demo_dataset(root / "data", DemoDataConfig(num_classes=6, per_class=40, size=32, seed=0))
    res = train(TrainOptions(data=data, out=root / "runs", name="demo", resolution=32, width=0.25,
                             latent_dim=32, batch_size=64, steps=TRAINED_DEMO_STEPS, seed=0, device="cpu", workers=0,
                             cache_dir=root / "cache", log_every=50, sample_every=10_000, ckpt_every=10_000),
                Console(stderr=True, quiet=True))
    return {"data": data, "ckpt": res.checkpoint, "run": res.run_dir}


TRAINED_DEMO_STEPS = 400


@pytest.fixture(scope="session")
def trained_editor(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An IFcVAE-GAN trained briefly on the cartoon faces' four binary attributes (32×32, width
    0.25), shared by the edit tests. Returns {"data", "ckpt", "run"}."""
    from rich.console import Console

    from cvaegan.data.demo_faces import DemoDataConfig, write_demo_dataset
    from cvaegan.pipelines.train import TrainOptions, train

    root = tmp_path_factory.mktemp("trained_editor")
    data = write_demo_dataset(root / "data", DemoDataConfig(num_classes=6, per_class=60, size=32, seed=0))
    res = train(TrainOptions(data=data, out=root / "runs", name="editor", model="ifcvaegan", resolution=32,
                             width=0.25, latent_dim=32, batch_size=32, steps=TRAINED_EDITOR_STEPS, seed=0, device="cpu",
                             workers=0, cache_dir=root / "cache", log_every=50, sample_every=10_000,
                             ckpt_every=10_000, precision="fp32"),
                Console(stderr=True, quiet=True))
    return {"data": data, "ckpt": res.checkpoint, "run": res.run_dir}


TRAINED_EDITOR_STEPS = 1200
