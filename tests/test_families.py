"""The model-family registry: the built-in family declares what its step does, and a new family
(tests/tiny_family.py, registered here only) trains, checkpoints, resumes, loads and samples
through the same pipelines and CLI as CVAE-GAN, with nothing but its own files."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.core.family import ModelSpec, Phase
from cvaegan.families import registry
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.step import LOSSES_OF
from cvaegan.pipelines.sample import sample
from cvaegan.pipelines.train import TrainOptions, train
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import open_session
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


def _dataset_with_targets(root, n_per_class=6):
    """Two classes of flat-coloured images; every item's target is [its class, 1 − its class, i]."""
    import json

    import numpy as np
    from PIL import Image

    from cvaegan.data.manifest import new_manifest

    items = []
    for k, colour in enumerate([(200, 40, 40), (40, 40, 200)]):
        (root / f"c{k}").mkdir(parents=True)
        for i in range(n_per_class):
            arr = np.full((32, 32, 3), colour, np.uint8)
            arr[i:i + 4] = 255
            Image.fromarray(arr).save(root / f"c{k}" / f"{i}.png")
            items.append({"file": f"c{k}/{i}.png", "class": k, "target": [k, 1 - k, i]})
    manifest = new_manifest("test", [{"index": 0, "name": "red", "folder": "c0"},
                                     {"index": 1, "name": "blue", "folder": "c1"}], items,
                            targets={"names": ["is_blue", "is_red", "stripe"]})
    (root / "dataset.json").write_text(json.dumps(manifest))
    return root


def test_per_item_targets_reach_the_step_with_their_images(tiny, tmp_path):
    data = _dataset_with_targets(tmp_path / "d")
    tiny_family.SEEN.clear()
    train(TrainOptions(data=data, out=tmp_path / "runs", name="t", model="tiny", resolution=32, latent_dim=4,
                       batch_size=4, steps=6, device="cpu", workers=0, cache_dir=tmp_path / "cache", flip=False))
    assert len(tiny_family.SEEN) == 6
    for b in tiny_family.SEEN:
        assert b.target.shape == (4, 3) and torch.equal(b.target[:, 0], b.y.float())  # aligned with the labels
        stripe = b.target[:, 2].long()  # and with the very image: its white stripe starts at row `stripe`
        rows = (b.x[:, 0] > 0.99).all(-1).float().argmax(1)
        assert torch.equal(rows, stripe)
        assert b.x_pair is None


@pytest.mark.parametrize("bad, needle", [({"target": [0, 1]}, "needs a 'target' of 3"),
                                         ({"target": [0, 1, float("nan")]}, "finite"),
                                         ({"target": None}, "needs a 'target'")])
def test_a_bad_target_is_one_error(tmp_path, bad, needle):
    import json

    from cvaegan.data.manifest import index_dataset

    data = _dataset_with_targets(tmp_path / "d")
    m = json.loads((data / "dataset.json").read_text())
    m["items"][3].update(bad)
    (data / "dataset.json").write_text(json.dumps(m))
    with pytest.raises(CvaeganError, match=needle):
        index_dataset(data)


def test_a_pairs_family_gets_same_and_different_class_partners(shapes, tmp_path):
    registry.register(tiny_family.PAIRS_FAMILY)
    try:
        tiny_family.SEEN.clear()
        train(TrainOptions(data=shapes, out=tmp_path, name="p", model="tinyp", resolution=32, latent_dim=4,
                           batch_size=16, steps=8, device="cpu", workers=0, cache_dir=tmp_path / "cache"))
    finally:
        registry.unregister(tiny_family.PAIRS_FAMILY.name)
    same = torch.cat([b.same for b in tiny_family.SEEN]).float()
    assert len(tiny_family.SEEN) == 8 and tiny_family.SEEN[0].x_pair.shape == tiny_family.SEEN[0].x.shape
    assert 0.3 < float(same.mean()) < 0.7  # half and half, by design


def test_pairs_are_seeded_by_the_batch_and_independent_of_the_process_count():
    import numpy as np

    from cvaegan.data.dataset import DeviceBatches, ImageCache

    rng = np.random.default_rng(0)
    cache = ImageCache(rng.integers(0, 256, (24, 8, 8, 3), dtype=np.uint8), np.repeat(np.arange(4), 6),
                       ["a", "b", "c", "d"], [], None)  # type: ignore[arg-type]
    order = torch.randperm(24, generator=torch.Generator().manual_seed(3))
    cpu = torch.device("cpu")
    single = DeviceBatches(cache, 8, cpu, pairs=True)
    ranks = [DeviceBatches(cache, 8, cpu, pairs=True, rank=r, world_size=2) for r in range(2)]
    for i in range(3):
        p = single.partners(order, i)
        assert torch.equal(p, single.partners(order, i))
        assert torch.equal(p, torch.cat([r.partners(order, i) for r in ranks]))
        a = single.indices(order, i)
        assert not bool((p == a).any())  # never its own partner when the class has others
