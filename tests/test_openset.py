"""The open-set identity-swap family: each network gets exactly its objective (shared and separate
C), G reads I's feature but never trains I, the two-person reconstruction weight is the paper's λ,
the identity vector is I's feature (not its logits), and the model round-trips a checkpoint."""

import dataclasses

import pytest
import torch

from cvaegan.core.arch import ModelConfig
from cvaegan.core.updates import apply_updates
from cvaegan.families import registry
from cvaegan.families.checkpoint import make_checkpoint, model_from_checkpoint
from cvaegan.families.openset import OpenSet, OpenSetConfig, OpenSetLossConfig, openset_losses
from cvaegan.families.openset.config import GENERATOR


def _setup(model: str = "openset", seed: int = 0, loss: OpenSetLossConfig | None = None):
    torch.manual_seed(seed)
    m = OpenSet(OpenSetConfig(ModelConfig(num_classes=4, resolution=32, width=0.125, latent_dim=8, model=model),
                              loss or OpenSetLossConfig()))
    g = torch.Generator().manual_seed(seed)
    x_s = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
    x_a = torch.rand(8, 3, 32, 32, generator=g) * 2 - 1
    y_s = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    y_a = torch.tensor([0, 1, 2, 3, 1, 2, 3, 0])  # four same-person pairs, four two-person pairs
    return m, x_s, y_s, x_a, y_a, g


def _grads(loss, params):
    gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, gs)]


def _expected(m, t):
    lam = m.cfg.loss
    gen = lam.lambda_kl * t["loss_kl"] + lam.lambda_rec * t["loss_gr"] + lam.lambda_gd * t["loss_gd"] \
        + lam.lambda_gc * t["loss_gc"]
    out = {"I": t["loss_i"], "D": t["loss_d"], "A": gen, "G": gen}
    if "loss_c" in t:
        out["C"] = t["loss_c"]
    return out


@pytest.mark.parametrize("model", ["openset", "openset-c"])
def test_each_network_gets_exactly_its_objective(model):
    m, x_s, y_s, x_a, y_a, g = _setup(model)
    step = openset_losses(m, x_s, y_s, x_a, y_a, g)
    want = {n: _grads(e, list(m.nets[n].parameters())) for n, e in _expected(m, step.terms).items()}
    assert set(want) == set(m.nets)
    apply_updates(m, {}, step.objectives)
    for name, net in m.nets.items():
        for (pname, p), w in zip(net.named_parameters(), want[name]):
            got = torch.zeros_like(p) if p.grad is None else p.grad
            assert torch.allclose(got, w, atol=1e-6, rtol=1e-4), f"{model}: {name}.{pname}"
        assert any(torch.count_nonzero(w) for w in want[name]), f"{model}: {name} gets no gradient at all"


def test_g_reads_the_identity_but_its_losses_never_train_i():
    """The generative losses reach I's parameters without routing (through f_I and, with C = I,
    through f_C(x')): routing is what keeps I a plain identity classifier."""
    m, x_s, y_s, x_a, y_a, g = _setup()
    t = openset_losses(m, x_s, y_s, x_a, y_a, g).terms
    i_params = list(m.I.parameters())
    assert sum(float(v.abs().sum()) for v in _grads(t["loss_gc"], i_params)) > 0  # the naive sum would train I
    m.zero_grad(set_to_none=True)
    step = openset_losses(m, x_s, y_s, x_a, y_a, g)
    apply_updates(m, {}, {GENERATOR: step.objectives[GENERATOR]})
    assert all(p.grad is None for p in m.I.parameters())
    assert any(p.grad is not None and torch.count_nonzero(p.grad) for p in m.G.parameters())


def test_two_person_pairs_are_weighted_lambda():
    """L_GR = mean over pairs of w·½‖x_a − x'‖², w = 1 for one person and λ = other_weight for two."""
    for w in (0.1, 1.0, 0.0):
        m, x_s, y_s, x_a, y_a, g = _setup(loss=OpenSetLossConfig(other_weight=w, self_pairs=0.0))
        step = openset_losses(m, x_s, y_s, x_a, y_a, g)
        e = step.extras  # per-kind means over the four pairs of each kind
        want = (e["g_img_same"] * 4 + w * e["g_img_other"] * 4) / 8
        assert torch.allclose(step.terms["loss_gr"], want, rtol=1e-5), w


def test_self_pairs_replace_the_attribute_image_by_the_identity_image():
    """self_pairs = 1: every pair is (x_s, x_s), all same-person, so the two-person mean is empty."""
    m, x_s, y_s, x_a, y_a, g = _setup(loss=OpenSetLossConfig(self_pairs=1.0))
    e = openset_losses(m, x_s, y_s, x_a, y_a, g).extras
    assert float(e["g_img_other"]) == 0.0 and float(e["g_img_same"]) > 0


def test_identity_vector_is_the_feature_not_the_logits_and_swap_uses_it():
    m, x_s, _, x_a, _, _ = _setup()
    f = m.identity(x_s)
    assert f.shape == (8, m.identity_dim) and m.identity_dim != m.num_classes
    out = m.swap(x_s, x_a)
    assert out.shape == x_s.shape and float(out.abs().max()) <= 1
    assert torch.allclose(out, m.generate(m.encode(x_a)[0], f))
    # another identity source changes the result; the same one with another attribute image too
    assert not torch.allclose(out, m.swap(x_s.flip(0), x_a))
    assert not torch.allclose(out, m.swap(x_s, x_a.flip(0)))


def test_shared_c_is_i_and_separate_c_has_its_own_weights():
    shared, *_ = _setup("openset")
    sep, *_ = _setup("openset-c")
    assert shared.C is shared.I and "C" not in shared.nets
    assert sep.C is not sep.I and "C" in sep.nets


@pytest.mark.parametrize("model", ["openset", "openset-c"])
def test_checkpoint_round_trip_draws_the_same_swaps(model):
    m, x_s, _, x_a, _, _ = _setup(model)
    ckpt = make_checkpoint(m, class_names=["a", "b", "c", "d"], step=3)
    assert ckpt["family"] == "openset"
    back = model_from_checkpoint(ckpt)
    assert torch.equal(back.swap(x_s, x_a), m.swap(x_s, x_a))


def test_the_family_declares_what_its_step_computes():
    fam, spec = registry.resolve("openset")
    assert fam.batch == "pairs" and spec.capabilities == frozenset({"swap"})
    m, x_s, y_s, x_a, y_a, g = _setup()
    step = openset_losses(m, x_s, y_s, x_a, y_a, g)
    assert set(step.objectives) == set(spec.phases[0].objectives)
    with pytest.raises(ValueError, match="other_weight"):
        OpenSetLossConfig(other_weight=2.0)


@pytest.mark.parametrize("model", ["openset", "openset-c"])
def test_a_and_g_learn_at_1e3_by_default_and_an_old_checkpoint_keeps_its_rates(model):
    """The attribute encoder A and G at 1e-3, I, C and D at DCGAN's 2e-4 (README "Identity swap");
    a config stored before the change rebuilds its own rates, so `--resume` keeps them."""
    m = _setup(model)[0]
    rates = {n: o.param_groups[0]["lr"] for n, o in registry.family("openset").make_optimizers(m).items()}
    assert rates == {n: 1e-3 if n in ("A", "G") else 2e-4 for n in m.nets}
    stored = dataclasses.asdict(m.cfg)
    stored["optim"].update(lr_a=2e-4, lr_g=2e-4)
    old = OpenSetConfig.from_dict(stored)
    assert (old.optim.lr("A"), old.optim.lr("G")) == (2e-4, 2e-4)
