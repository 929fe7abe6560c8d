"""The model-family registry: the built-in family declares what its step does, and a new family
(tests/tiny_family.py, registered here only) trains, checkpoints, resumes, loads and samples
through the same pipelines and CLI as CVAE-GAN, with nothing but its own files."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from cvaegan.session import open_session
from cvaegan.cli.app import app
from cvaegan.core.family import ModelSpec, Phase
from cvaegan.families import registry
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.step import LOSSES_OF
from cvaegan.pipelines.sample import sample
from cvaegan.pipelines.train import TrainOptions, train
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import capabilities, inference_model, load_checkpoint
from tests import tiny_family
from tests.helpers import make_shapes_dataset


@pytest.fixture
def tiny():
    registry.register(tiny_family.FAMILY)
    yield tiny_family.FAMILY
    registry.unregister(tiny_family.FAMILY.name)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


def test_builtin_models_declare_the_objectives_their_step_computes():
    family = registry.resolve("cvaegan")[0]
    assert registry.model_names()[:4] == ("cvaegan", "cvae", "cgan", "fmcgan")
    for spec in family.models:
        m = CVAEGAN(CVAEGANConfig(ModelConfig(3, 32, 8, 0.125, model=spec.name)))
        step = LOSSES_OF[spec.name](m, torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0]),
                                    torch.Generator().manual_seed(0))
        assert tuple(step.objectives) == spec.phases[0].objectives, spec.name
        assert set(spec.networks) == set(m.nets), spec.name
        assert ("reconstruct" in spec.capabilities) == ("E" in m.nets)
        assert ("classify" in spec.capabilities) == ("C" in m.nets)


def test_a_spec_must_update_every_network_once_and_name_known_capabilities():
    with pytest.raises(ValueError, match="exactly once"):
        ModelSpec("x", ("E", "G"), (Phase("p", ("G",)),), frozenset({"generate"}), "")
    with pytest.raises(ValueError, match="exactly once"):
        ModelSpec("x", ("G",), (Phase("p", ("G",)), Phase("q", ("G",))), frozenset({"generate"}), "")
    with pytest.raises(ValueError, match="unknown capabilities"):
        ModelSpec("x", ("G",), (Phase("p", ("G",)),), frozenset({"teleport"}), "")


def test_register_refuses_a_taken_family_or_model_name(tiny):
    import dataclasses

    with pytest.raises(ValueError, match="already registered"):
        registry.register(tiny)
    clash = dataclasses.replace(tiny, name="other", models=(dataclasses.replace(tiny.models[0], name="cvae"),))
    with pytest.raises(ValueError, match="another family"):
        registry.register(clash)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        registry.resolve("nope")


def test_a_new_family_trains_resumes_loads_and_samples_through_the_pipelines(tiny, shapes, tmp_path):
    opts = TrainOptions(data=shapes, out=tmp_path, name="t", model="tiny", resolution=32, latent_dim=4,
                        batch_size=16, steps=40, device="cpu", workers=0, cache_dir=tmp_path / "cache",
                        log_every=10, sample_every=20, ckpt_every=20)
    first = train(opts)
    assert first.step == 40 and (first.run_dir / "samples").is_dir()
    losses = [h["loss_g"] for h in first.history if "loss_g" in h]
    assert losses[-1] < losses[0]  # the tiny regression learns

    again = train(TrainOptions(**{**opts.__dict__, "steps": 60, "resume": True}))
    assert again.step == 60
    ckpt = load_checkpoint(again.checkpoint)
    assert ckpt["config"]["model"]["model"] == "tiny" and set(ckpt["networks"]) == {"G"}

    model = inference_model(ckpt, "cpu")
    assert isinstance(model, tiny_family.TinyModel) and capabilities(model) == {"generate"}
    a, b = (sample(model, torch.tensor([0, 1, 2]), seed=5) for _ in range(2))
    assert a.shape == (3, 3, 32, 32) and torch.equal(a, b)

    with pytest.raises(CvaeganError, match="cannot reconstruct.*train a cvaegan or cvae model"):
        open_session(again.checkpoint, device="cpu", needs=("reconstruct",), purpose="inpaint")
    assert open_session(again.checkpoint, device="cpu", needs=("generate",)).num_classes == 3


def test_the_cli_takes_models_and_options_from_the_family(tiny, shapes, tmp_path):
    runner = CliRunner()
    base = ["train", str(shapes), "--out", str(tmp_path), "-r", "32", "--latent-dim", "4", "-b", "8",
            "--device", "cpu", "--workers", "0", "--cache-dir", str(tmp_path / "cache")]
    res = runner.invoke(app, [*base, "--model", "tiny", "--lambda1", "0.1"])
    assert res.exit_code == 1 and "--lambda1 is not an option of the tinyfam family" in res.output
    res = runner.invoke(app, [*base, "--model", "tiny", "--set", "lambda_kl=0.1"])
    assert res.exit_code == 1 and "unknown tiny field(s) lambda_kl" in res.output
    res = runner.invoke(app, [*base, "--model", "tiny", "--lr-g", "0.02", "--steps", "3", "--name", "cli"])
    assert res.exit_code == 0, res.output
    assert load_checkpoint(tmp_path / "cli" / "checkpoints" / "latest.pt")["config"]["optim"]["lr_g"] == 0.02
