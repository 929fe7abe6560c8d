"""Gradient routing of Algorithm 1 lines 15–18: each network's parameters receive exactly the
gradient of its own objective, and the naive "sum everything and backward" would be different."""

import pytest
import torch

from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.step import LOSSES_OF, apply_updates


def _setup(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=3, resolution=32, width=0.125, latent_dim=16, model=kind)))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return m, x, y, g


def _grads(loss, params):
    gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, gs)]


def _expected_cvaegan(m, t):
    lam = m.cfg.loss
    return {
        "C": t["loss_c"],                                                              # line 15
        "D": t["loss_d"],                                                              # line 16
        "G": lam.lambda_g * t["loss_g"] + lam.lambda_gd * t["loss_gd"] + lam.lambda_gc * t["loss_gc"],  # 17
        "E": lam.lambda_kl * t["loss_kl"] + lam.lambda_g * t["loss_g"],                # line 18
    }


def _expected_gan(m, t, kind):
    lam = m.cfg.loss
    g = t["loss_gd"] + t["loss_gc"] if kind == "cgan" else lam.lambda_gd * t["loss_gd"] + lam.lambda_gc * t["loss_gc"]
    return {"C": t["loss_c"], "D": t["loss_d"], "G": g}


@pytest.mark.parametrize("kind,precision", [("cvaegan", "fp32"), ("cgan", "fp32"), ("fmcgan", "fp32"),
                                            ("cvae", "fp32"), ("cvaegan", "bf16")])
def test_each_network_gets_exactly_its_objective(kind, precision):
    """bf16: the autocast path `train` takes on CUDA and on bf16-native CPUs routes the same way."""
    m, x, y, g = _setup(kind)
    conv_dtypes = set()
    hooks = [mod.register_forward_hook(lambda _m, _i, out: conv_dtypes.add(out.dtype))
             for mod in m.modules() if isinstance(mod, torch.nn.Conv2d)]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        step = LOSSES_OF[kind](m, x, y, g)
    for h in hooks:
        h.remove()
    assert conv_dtypes == {torch.bfloat16 if precision == "bf16" else torch.float32}
    if precision == "bf16":  # the networks ran in bf16; the losses and the centres stay fp32
        assert all(t.dtype == torch.float32 for t in step.terms.values())
        assert all(b.dtype in (torch.float32, torch.bool) for b in m.centres.buffers())
    t = step.terms
    if kind == "cvaegan":
        expected = _expected_cvaegan(m, t)
        lam, e = m.cfg.loss, step.extras  # Eq. 6 as weighted: pixel + s_D·f_D part + s_C·f_C part
        assert torch.allclose(t["loss_g"], e["g_img"] + lam.pair_d_scale * e["g_fd"] + lam.pair_c_scale * e["g_fc"])
    elif kind == "cvae":
        lam = m.cfg.loss
        obj = lam.lambda_kl * t["loss_kl"] + lam.lambda_g * t["loss_g"]
        expected = {"E": obj, "G": obj}
    else:
        expected = _expected_gan(m, t, kind)
    want = {n: _grads(expected[n], list(m.nets[n].parameters())) for n in m.nets}
    apply_updates(m, {}, step.objectives)  # no optimizer: leave the accumulated .grad in place
    for name, net in m.nets.items():
        for (pname, p), w in zip(net.named_parameters(), want[name]):
            got = torch.zeros_like(p) if p.grad is None else p.grad
            assert torch.allclose(got, w, atol=1e-6, rtol=1e-4), f"{kind}: {name}.{pname}"
        assert any(torch.count_nonzero(w) for w in want[name]), f"{kind}: {name} gets no gradient at all"


def test_routing_matters_losses_do_reach_other_networks():
    """Without routing, L_D would move G and L_G would move D and C: the test above can fail."""
    m, x, y, g = _setup("cvaegan")
    t = LOSSES_OF["cvaegan"](m, x, y, g).terms
    assert any(torch.count_nonzero(v) for v in _grads(t["loss_d"], list(m.G.parameters())))
    assert any(torch.count_nonzero(v) for v in _grads(t["loss_g"], list(m.D.parameters())))
    assert any(torch.count_nonzero(v) for v in _grads(t["loss_g"], list(m.C.parameters())))
    # and the mean-feature terms do not depend on E (they are computed on prior samples only)
    assert all(torch.count_nonzero(v) == 0 for v in _grads(t["loss_gd"] + t["loss_gc"], list(m.E.parameters())))


def test_prior_classes_are_sampled_not_the_batch_labels():
    m, x, _, g = _setup("cvaegan")
    y = torch.zeros(6, dtype=torch.long)  # a batch of one class only
    m.centres.c_seen_fake.zero_()
    LOSSES_OF["cvaegan"](m, x, y, g)
    assert m.centres.c_seen_fake.sum() > 1, "c_p must be drawn over all classes, not copied from c_r"
    assert m.centres.c_seen_real.tolist() == [True, False, False]


def test_c_running_stats_see_only_real_images():
    m, x, y, g = _setup("cvaegan")
    before = [b.running_mean.clone() for b in m.C.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    m.C(x)  # what the step does for real images
    after_real = [b.running_mean.clone() for b in m.C.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    m2, _, _, g2 = _setup("cvaegan")
    LOSSES_OF["cvaegan"](m2, x, y, g2)
    after_step = [b.running_mean for b in m2.C.modules() if isinstance(b, torch.nn.BatchNorm2d)]
    assert not torch.equal(before[0], after_real[0])
    for a, b in zip(after_real, after_step):
        assert torch.allclose(a, b, atol=1e-6)


def _bn_stats(net):
    return [t.clone() for b in net.modules() if isinstance(b, torch.nn.BatchNorm2d)
            for t in (b.running_mean, b.running_var)]


def test_g_running_stats_see_only_reconstructions():
    """G normalises with its running statistics in eval mode, where it reconstructs (morph,
    inpaint, superres) and samples; they come from the x_f = G(z, c_r) batches alone. Averaged
    over the prior batches too, they fitted neither and cost held-out reconstructions 1–1.4 dB."""
    from cvaegan.core.updates import reparameterize

    m, x, y, g = _setup("cvaegan")
    before = _bn_stats(m.G)
    LOSSES_OF["cvaegan"](m, x, y, g)
    after_step = _bn_stats(m.G)
    # replay the step's draws: z from E (after C's forward, which draws nothing), then the x_f pass
    m2, _, _, g2 = _setup("cvaegan")
    c = m2.class_vector(y)
    (mu, logvar), _ = m2.E(x, c)
    m2.G(reparameterize(mu, logvar, g2), c)
    after_recon = _bn_stats(m2.G)
    assert any(not torch.equal(a, b) for a, b in zip(before, after_step))
    for a, b in zip(after_recon, after_step):
        assert torch.allclose(a, b, atol=1e-6)
