"""IFcVAE-GAN (attribute editing): each network gets exactly its objective, the attribute loss on
generated images reaches G (and not E), the factorisation term is E's to maximise, the model
declares what its step computes, and inference keeps z while changing only the named attributes."""

import dataclasses

import pytest
import torch

from cvaegan.core.arch import ModelConfig
from cvaegan.core.updates import apply_updates
from cvaegan.families import registry
from cvaegan.families.ifcvaegan import IFCVAEGAN, IFConfig, IFLossConfig, ifcvaegan_losses
from cvaegan.families.ifcvaegan.step import flip_one_attribute


def _setup(seed: int = 0, loss: IFLossConfig | None = None, a: int = 3):
    torch.manual_seed(seed)
    m = IFCVAEGAN(IFConfig(ModelConfig(num_classes=a, resolution=32, width=0.125, latent_dim=16, model="ifcvaegan"),
                           loss or IFLossConfig()))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    y = (torch.rand(6, a, generator=g) < 0.5).float()
    return m, x, y, g


def _grads(loss, params):
    gs = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, gs)]


def _expected(m, t):
    lam = m.cfg.loss
    return {
        "A": t["loss_aux"],
        "D": t["loss_d"],
        "E": lam.lambda_kl * t["loss_kl"] + lam.lambda_rec * t["loss_rec"] + lam.lambda_class * t["loss_class"]
        - lam.lambda_aux * t["loss_aux"],
        "G": lam.lambda_rec * t["loss_rec"] + lam.lambda_gan * t["loss_gan_g"]
        + lam.lambda_class_gen * t["loss_class_g"] + lam.lambda_class_edit * t.get("loss_class_edit", 0.0),
    }


@pytest.mark.parametrize("edit_weight", [0.0, 5.0])
def test_each_network_gets_exactly_its_objective(edit_weight):
    m, x, y, g = _setup(loss=IFLossConfig(lambda_class_edit=edit_weight))
    step = ifcvaegan_losses(m, x, y, g)
    want = {n: _grads(e, list(m.nets[n].parameters())) for n, e in _expected(m, step.terms).items()}
    apply_updates(m, {}, step.objectives)
    for name, net in m.nets.items():
        for (pname, p), w in zip(net.named_parameters(), want[name]):
            got = torch.zeros_like(p) if p.grad is None else p.grad
            assert torch.allclose(got, w, atol=1e-6, rtol=1e-4), f"{name}.{pname}"
        assert any(torch.count_nonzero(w) for w in want[name]), f"{name} gets no gradient at all"


def test_generated_attribute_loss_reaches_g_and_not_e():
    """The public code's bug: BCE(ŷ(x̂), y) computed on a detached x̂ never moves G. Here it must
    move G, and must not train E's weights (E learns to classify real images only)."""
    m, x, y, g = _setup()
    t = ifcvaegan_losses(m, x, y, g).terms
    g_grad = _grads(t["loss_class_g"], list(m.G.parameters()))
    assert sum(float(v.abs().sum()) for v in g_grad) > 0
    only = IFLossConfig(lambda_kl=0, lambda_rec=0, lambda_gan=0, lambda_class=0, lambda_class_gen=1, lambda_aux=0)
    m, x, y, g = _setup(loss=only)
    step = ifcvaegan_losses(m, x, y, g)
    apply_updates(m, {}, step.objectives)
    assert all(p.grad is None or not p.grad.any() for p in m.E.parameters())
    assert any(p.grad is not None and p.grad.any() for p in m.G.parameters())


def test_flip_one_attribute_flips_exactly_one_to_the_opposite_hard_value():
    y = torch.tensor([[0.2, 0.9, 0.5], [0.7, 0.1, 0.4]]).repeat(50, 1)
    out = flip_one_attribute(y, torch.Generator().manual_seed(0))
    changed = out != y
    assert (changed.sum(1) == 1).all()
    assert torch.equal(out[changed], (y[changed] < 0.5).float())
    assert set(changed.float().argmax(1).tolist()) == {0, 1, 2}  # every attribute gets edited


def test_training_edits_are_off_by_default_and_when_on_reach_g_only_and_d_sees_them():
    """The training-edit term (not in the paper) is an option: off by default and in configs
    saved before it existed, where G runs twice (the paper's step). With the term G runs a third
    time on (z, y_e), BCE(ŷ(x_e), y_e) moves G and not E, and D's objective has x_e as one more
    fake."""
    saved = IFConfig(ModelConfig(num_classes=3, model="ifcvaegan")).to_dict()
    del saved["loss"]["lambda_class_edit"]  # a config saved before the field existed
    assert IFLossConfig().lambda_class_edit == 0 and IFConfig.from_dict(saved).loss.lambda_class_edit == 0
    m, x, y, g = _setup()
    calls = []
    hook = m.G.register_forward_pre_hook(lambda mod, args: calls.append(args[1].detach().clone()))
    off = ifcvaegan_losses(m, x, y, g)
    assert len(calls) == 2 and "loss_class_edit" not in off.terms
    only = IFLossConfig(lambda_kl=0, lambda_rec=0, lambda_gan=0, lambda_class=0, lambda_class_gen=0, lambda_aux=0,
                        lambda_class_edit=1)
    m2, x, y, g = _setup(loss=only)
    calls.clear()
    hook.remove()
    outs = []
    hooks = [m2.G.register_forward_pre_hook(lambda mod, args: calls.append(args[1].detach().clone())),
             m2.G.register_forward_hook(lambda mod, args, out: outs.append(out[0].detach().clone()))]
    step = ifcvaegan_losses(m2, x, y, g)
    for h in hooks:
        h.remove()
    y_rec, y_e = calls[0], calls[2]
    assert ((y_e != y_rec).sum(1) == 1).all()  # the recon's ŷ with one attribute flipped
    apply_updates(m2, {}, step.objectives)
    assert all(p.grad is None or not p.grad.any() for p in m2.E.parameters())
    assert any(p.grad is not None and p.grad.any() for p in m2.G.parameters())
    # D's objective is the paper's plus −log(1 − D(x_e)): same weights, data and noise without it
    m3, x, y, g = _setup(loss=dataclasses.replace(only, lambda_class_edit=0.0))
    base = ifcvaegan_losses(m3, x, y, g).terms["loss_d"]
    with torch.no_grad():
        extra = torch.nn.functional.softplus(m3.D(outs[2])[0].float()).mean()
    assert torch.allclose(step.terms["loss_d"], base + extra, atol=1e-5)


def test_factorisation_term_is_a_minimax_between_e_and_a():
    """A descends BCE(A(z), y); E ascends it: their gradients of L_aux have opposite signs."""
    only = IFLossConfig(lambda_kl=0, lambda_rec=0, lambda_gan=0, lambda_class=0, lambda_class_gen=0, lambda_aux=1)
    m, x, y, g = _setup(loss=only)
    step = ifcvaegan_losses(m, x, y, g)
    e_params = list(m.E.parameters())
    d_aux = _grads(step.terms["loss_aux"], e_params)
    apply_updates(m, {}, step.objectives)
    got = [p.grad if p.grad is not None else torch.zeros_like(p) for p in e_params]
    assert sum(float(v.abs().sum()) for v in d_aux) > 0
    for gr, w in zip(got, d_aux):
        assert torch.allclose(gr, -w, atol=1e-7)


def test_prior_attributes_are_other_images_attributes():
    """y_p is a permutation of the batch's attribute vectors: the data's joint distribution."""
    m, x, y, g = _setup(a=4)
    seen = []
    hook = m.G.register_forward_pre_hook(lambda mod, args: seen.append(args[1].detach().clone()))
    ifcvaegan_losses(m, x, y, g)
    hook.remove()
    y_p = seen[1]
    assert sorted(map(tuple, y_p.tolist())) == sorted(map(tuple, y.tolist()))
    assert not torch.equal(seen[0], y)  # x̂ = G(z, ŷ): E's reading, not the label


def test_declared_phase_matches_the_step():
    fam, spec = registry.resolve("ifcvaegan")
    m, x, y, g = _setup()
    objectives = ifcvaegan_losses(m, x, y, g).objectives
    assert tuple(objectives) == spec.phases[0].objectives
    assert fam.condition == "attributes" and "edit" in spec.capabilities


def test_edit_changes_only_the_named_attribute_input():
    m, x, y, g = _setup()
    m.eval()
    mu, _, y_hat = m.encode(x)
    mask = torch.zeros(6, 3, dtype=torch.bool)
    mask[:, 1] = True
    values = torch.ones(6, 3)
    seen = []
    hook = m.G.register_forward_pre_hook(lambda mod, args: seen.append((args[0].clone(), args[1].clone())))
    out, y_new = m.edit(x, mask, values)
    hook.remove()
    z_in, y_in = seen[-1]
    assert torch.allclose(z_in, mu)                            # identity code kept: μ(x)
    assert torch.allclose(y_in[:, [0, 2]], y_hat[:, [0, 2]])   # other attributes: E's reading
    assert torch.all(y_in[:, 1] == 1) and torch.equal(y_in, y_new)
    assert out.shape == x.shape


@pytest.mark.parametrize("bad", [{"lambda_aux": -1.0}, {"lambda_kl": float("nan")}, {"lambda_rec": True}])
def test_loss_config_refuses_bad_weights(bad):
    with pytest.raises(ValueError):
        IFLossConfig(**bad)


def test_g_running_stats_see_only_reconstructions():
    """As CVAE-GAN's: edits run G in eval mode on E's codes, so its running statistics come from
    the x̂ = G(z, ŷ) batches, not also from the prior batches."""
    from cvaegan.core.updates import reparameterize

    def stats(net):
        return [t.clone() for b in net.modules() if isinstance(b, torch.nn.BatchNorm2d)
                for t in (b.running_mean, b.running_var)]

    m, x, y, g = _setup()
    before = stats(m.G)
    ifcvaegan_losses(m, x, y, g)
    after_step = stats(m.G)
    m2, _, _, g2 = _setup()
    (mu, logvar), logits_y, _ = m2.E(x)
    m2.G(reparameterize(mu, logvar, g2), torch.sigmoid(logits_y))
    assert any(not torch.equal(a, b) for a, b in zip(before, after_step))
    for a, b in zip(stats(m2.G), after_step):
        assert torch.allclose(a, b, atol=1e-6)


def test_e_and_g_learn_at_1e3_by_default_and_an_old_checkpoint_keeps_its_rates():
    """E and G at 1e-3, D and A at DCGAN's 2e-4 (README "Attribute editing": at 2e-4 the
    encoder–decoder learned too slowly); a config stored before the change rebuilds its own rates,
    so `--resume` of an old run does not change its optimiser."""
    m = _setup()[0]
    opts = registry.family("ifcvaegan").make_optimizers(m)
    assert {n: o.param_groups[0]["lr"] for n, o in opts.items()} == {"E": 1e-3, "G": 1e-3, "D": 2e-4, "A": 2e-4}
    stored = dataclasses.asdict(m.cfg)
    stored["optim"].update(lr_e=2e-4, lr_g=2e-4)
    old = IFConfig.from_dict(stored)
    assert (old.optim.lr("E"), old.optim.lr("G")) == (2e-4, 2e-4)
