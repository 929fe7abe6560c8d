"""Loss presets, `--preset`/`--set` on the command line, and configs saved before the fields
existed: a run from cvaegan 0.1 must resume with the losses it trained with."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from cvaegan.cli.app import app
from cvaegan.core.arch import ModelConfig
from cvaegan.families.cvaegan import CVAEGANConfig
from cvaegan.families.cvaegan.config import (LEGACY_LOSS_FIELDS, PRESETS, LossConfig, OptimConfig,
                                             from_preset)
from tests.helpers import make_shapes_dataset


def test_paper_preset_is_eq7_literal_and_the_default_differs_where_documented():
    paper = PRESETS["paper"]
    assert (paper.loss.lambda_kl, paper.loss.lambda_g, paper.loss.lambda_gd, paper.loss.lambda_gc) == (3.0, 1.0, 1e-3, 1e-3)
    assert paper.loss.pair_d_scale == 1.0 and paper.loss.pixel_reduction == "sum"
    assert paper.optim.lr_g == 2e-4 and paper.optim.beta1 == 0.5
    d = PRESETS["default"].loss
    assert d == LossConfig() and d.lambda_kl < paper.loss.lambda_kl and d.pair_d_scale < 1.0
    assert d.pair_c_scale < paper.loss.pair_c_scale == 1.0  # Eq. 6's f_C part: down-weighted, kept
    o = PRESETS["default"].optim  # E (and G with E) faster than DCGAN's 2e-4; D and C at it
    assert o == OptimConfig() and o.lr_e > paper.optim.lr_e and (o.lr_d, o.lr_c) == (2e-4, 2e-4)


@pytest.mark.parametrize("model,lr_g", [("cvaegan", 1e-3), ("cvae", 1e-3), ("cgan", 2e-4), ("fmcgan", 2e-4)])
def test_default_lr_g_is_resolved_by_model_and_an_explicit_one_is_kept(model, lr_g):
    """G learns at 1e-3 beside E, at DCGAN's 2e-4 in the GAN-only baselines; the config a
    checkpoint stores always holds the number, and `--set lr_g=…` / `--preset paper` win."""
    arch = ModelConfig(model=model, num_classes=3, resolution=32)
    cfg = CVAEGANConfig(arch)
    assert cfg.optim.lr_g == lr_g and cfg.optim.lr("G") == lr_g
    assert CVAEGANConfig.from_dict(cfg.to_dict()).optim == cfg.optim
    _, explicit = from_preset("default", lr_g=5e-4)
    assert CVAEGANConfig(arch, optim=explicit).optim.lr_g == 5e-4
    assert CVAEGANConfig(arch, optim=PRESETS["paper"].optim).optim.lr_g == 2e-4
    with pytest.raises(ValueError, match="unresolved"):
        OptimConfig().lr("G")


def test_from_preset_overrides_by_field_name_and_rejects_unknown_fields():
    loss, optim = from_preset("paper", lambda_kl=0.5, lr_d=1e-4, feature_reduction="mean")
    assert loss.lambda_kl == 0.5 and loss.feature_reduction == "mean" and loss.lambda_gd == 1e-3
    assert optim.lr_d == 1e-4 and optim.lr_g == 2e-4
    with pytest.raises(ValueError, match="unknown loss/optimiser field"):
        from_preset("default", lambda5=1.0)
    with pytest.raises(ValueError, match="unknown preset"):
        from_preset("nonsense")


@pytest.mark.parametrize("bad", [dict(lambda_kl=-1.0), dict(lambda_gd=math.nan), dict(pair_d_scale=math.inf),
                                 dict(kl_reduction="median"), dict(pixel="yes")])
def test_invalid_loss_values_are_refused(bad):
    with pytest.raises(ValueError):
        LossConfig(**bad)


@pytest.mark.parametrize("bad", [dict(lr_g=0.0), dict(lr_e=-1e-3), dict(lr_c=math.nan), dict(beta1=1.0)])
def test_invalid_optimiser_values_are_refused(bad):
    with pytest.raises(ValueError):
        OptimConfig(**bad)


def test_a_config_saved_without_the_new_fields_loads_with_the_losses_it_trained_with():
    old = CVAEGANConfig.from_dict({"model": {"num_classes": 3},
                                   "loss": {"lambda_kl": 3.0, "lambda_g": 1.0, "lambda_gd": 1e-3, "lambda_gc": 1e-3,
                                            "centre_decay": 0.9, "pixel": True, "pair_d": True, "pair_c": True}})
    for key, value in LEGACY_LOSS_FIELDS.items():
        assert getattr(old.loss, key) == value
    assert old.loss == PRESETS["paper"].loss


def test_a_config_saved_with_the_previous_f_c_weight_resumes_with_it():
    """Runs saved while Eq. 6's f_C part had weight 1 stored that 1: a resume must keep it, not
    take the new default."""
    saved = CVAEGANConfig(ModelConfig(num_classes=3), LossConfig(pair_c_scale=1.0)).to_dict()
    assert CVAEGANConfig.from_dict(saved).loss.pair_c_scale == 1.0


def test_cli_preset_set_and_lambda_reach_the_run_config(tmp_path):
    data = make_shapes_dataset(tmp_path / "data", classes=2, per_class=6, size=32)
    res = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "runs"), "--name", "p", "-r", "32",
                                   "--width", "0.125", "--latent-dim", "8", "-b", "4", "--steps", "1", "--device",
                                   "cpu", "--workers", "0", "--cache-dir", str(tmp_path / "cache"),
                                   "--preset", "paper", "--lambda1", "0.5", "--set", "pair_c_scale=0.25",
                                   "--set", "feature_reduction=mean"])
    assert res.exit_code == 0, res.output
    loss = json.loads((tmp_path / "runs" / "p" / "config.json").read_text())["model"]["loss"]
    assert loss["lambda_kl"] == 0.5 and loss["lambda_gd"] == 1e-3 and loss["pair_c_scale"] == 0.25
    assert loss["feature_reduction"] == "mean" and loss["pair_d_scale"] == 1.0


@pytest.mark.parametrize("args,needle", [(["--preset", "nope"], "unknown preset"),
                                         (["--set", "lambda9=1"], "unknown loss/optimiser field"),
                                         (["--set", "novalue"], "expected KEY=VALUE"),
                                         (["--set", "lambda_kl=-2"], "lambda_kl must be"),
                                         (["--lambda1", "-2"], "--lambda1 -2.0: must be ≥ 0")])
def test_cli_bad_loss_options_are_one_line_errors(tmp_path, args, needle):
    data = make_shapes_dataset(tmp_path / "data", classes=2, per_class=4, size=32)
    res = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "runs"), "-r", "32", "--steps", "1",
                                   "--device", "cpu", *args])
    assert res.exit_code == (2 if args[0] == "--lambda1" else 1) and "Traceback" not in res.output  # 2: usage
    assert needle in res.output and res.output.strip().startswith("error:")
