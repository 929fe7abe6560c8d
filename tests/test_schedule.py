"""The learning-rate schedule (constant, then linear to 0 over the run's last share) and the
training loop's time budget, which the schedule follows and which a resume continues."""

from __future__ import annotations

import pytest
import torch

from cvaegan.core.arch import ModelConfig
from cvaegan.core.schedule import LR_DECAY, LRDecay, decay_factor
from cvaegan.families.cvaegan.config import CVAEGANConfig, OptimConfig, from_preset
from cvaegan.families.ifcvaegan.config import IFConfig, IFOptimConfig
from cvaegan.families.saae.config import SAAEConfig, SAAEOptimConfig
from cvaegan.pipelines.train import TrainOptions, train
from cvaegan.session import load_checkpoint
from tests.helpers import make_shapes_dataset


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes"))


def _opts(data, out, **kw):
    base = dict(data=data, out=out, name="r", resolution=32, width=0.125, latent_dim=16, batch_size=8, steps=4,
                device="cpu", workers=0, cache_dir=out / "cache", log_every=2, sample_every=100, ckpt_every=100,
                precision="fp32")
    base.update(kw)
    return TrainOptions(**base)


def test_decay_factor_is_one_then_linear_to_zero():
    assert decay_factor(0.0, 0.3) == decay_factor(0.7, 0.3) == 1.0
    assert decay_factor(0.85, 0.3) == pytest.approx(0.5)
    assert decay_factor(1.0, 0.3) == 0.0 and decay_factor(0.5, 1.0) == pytest.approx(0.5)
    assert decay_factor(0.99, 0.0) == 1.0
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        decay_factor(0.5, 1.5)
    with pytest.raises(ValueError, match="lr_decay"):
        OptimConfig(lr_decay=-0.1)


def test_lr_decay_scales_every_optimiser_from_the_rates_it_was_made_with():
    nets = {"E": torch.nn.Linear(2, 2), "D": torch.nn.Linear(2, 2)}
    opts = {"E": torch.optim.Adam(nets["E"].parameters(), lr=1e-3),
            "D": torch.optim.Adam(nets["D"].parameters(), lr=2e-4)}
    sched = LRDecay(opts, 0.5)
    opts["E"].param_groups[0]["lr"] = 123.0  # a resumed state's (decayed) rate does not become the base
    assert sched.apply(0.75) == pytest.approx(0.5)
    assert opts["E"].param_groups[0]["lr"] == pytest.approx(5e-4)
    assert opts["D"].param_groups[0]["lr"] == pytest.approx(1e-4)
    sched.apply(1.0)
    assert opts["E"].param_groups[0]["lr"] == opts["D"].param_groups[0]["lr"] == 0.0


@pytest.mark.parametrize("decay", [0.0, 0.5])
def test_the_loop_applies_the_configs_decay(shapes, tmp_path, decay):
    loss, optim = from_preset("default", lr_decay=decay)
    res = train(_opts(shapes, tmp_path, steps=4, loss=loss, optim=optim))
    ckpt = load_checkpoint(res.checkpoint)
    # the last step ran at progress 3/4: factor (1 − 3/4) / 0.5 = 0.5 with decay, 1 without
    want = 0.5 if decay else 1.0
    for net, base in (("E", optim.lr_e), ("D", optim.lr_d), ("C", optim.lr_c), ("G", 1e-3)):
        assert ckpt["optimizers"][net]["param_groups"][0]["lr"] == pytest.approx(base * want), net


def test_the_default_decays_and_the_paper_preset_and_old_checkpoints_do_not():
    assert OptimConfig().lr_decay == IFOptimConfig().lr_decay == SAAEOptimConfig().lr_decay == LR_DECAY > 0
    assert from_preset("paper")[1].lr_decay == 0.0
    saved = CVAEGANConfig(ModelConfig(num_classes=3)).to_dict()
    del saved["optim"]["lr_decay"]  # a checkpoint written before the schedule existed
    assert CVAEGANConfig.from_dict(saved).optim.lr_decay == 0.0
    saved_if = IFConfig(ModelConfig(model="ifcvaegan", num_classes=3)).to_dict()
    del saved_if["optim"]["lr_decay"]
    assert IFConfig.from_dict(saved_if).optim.lr_decay == 0.0
    saved_saae = SAAEConfig(ModelConfig(model="saae", num_classes=3)).to_dict()
    del saved_saae["optim"]["lr_decay"]
    assert SAAEConfig.from_dict(saved_saae).optim.lr_decay == 0.0
    saved_saae["optim"]["lr_decay"] = 0.0  # saved while SAAE's default was constant rates
    assert SAAEConfig.from_dict(saved_saae).optim.lr_decay == 0.0


def test_a_time_budget_ends_the_run_and_a_resume_counts_the_time_already_spent(shapes, tmp_path):
    res = train(_opts(shapes, tmp_path, steps=None, minutes=0.01))  # 0.6 s, no step count
    assert not res.interrupted and res.total_steps is None and res.step >= 1
    spent = load_checkpoint(res.checkpoint)["rng"]["train_seconds"]
    assert spent >= 0.6
    again = train(_opts(shapes, tmp_path, steps=None, minutes=0.01, resume=True))
    assert again.step == res.step  # the budget was already spent
    more = train(_opts(shapes, tmp_path, steps=None, minutes=0.03, resume=True))
    assert more.step > res.step
    assert load_checkpoint(more.checkpoint)["rng"]["train_seconds"] >= 1.8
    # a step budget reached first still ends the run
    assert train(_opts(shapes, tmp_path / "s", steps=3, minutes=10.0)).step == 3
