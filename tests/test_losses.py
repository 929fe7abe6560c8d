"""Each loss against values computed by hand on tiny tensors."""

import math

import pytest
import torch

from cvaegan.core import losses as L


def test_loss_d_is_eq1_over_real_reconstructed_and_prior():
    # D(x) = sigmoid(logit); pick logits whose sigmoids are 0.8 (real), 0.3 (x_f), 0.1 (x_p).
    lr, lf, lp = (torch.tensor([math.log(p / (1 - p))]) for p in (0.8, 0.3, 0.1))
    expected = -(math.log(0.8) + math.log(1 - 0.3) + math.log(1 - 0.1))
    assert math.isclose(L.loss_d(lr, lf, lp).item(), expected, rel_tol=1e-6)
    # plain Eq. 1 (one fake batch) and batch averaging
    two = torch.tensor([math.log(4.0), 0.0])  # D = 0.8, 0.5
    assert math.isclose(L.loss_d(two, lp).item(), -(math.log(0.8) + math.log(0.5)) / 2 - math.log(0.9), rel_tol=1e-6)


def test_loss_c_is_softmax_cross_entropy_eq3():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    c = torch.tensor([[1.0, 0, 0], [0, 0, 1.0]])
    p0 = math.exp(2) / (math.exp(2) + 1 + math.exp(-1))
    p1 = 1 / (2 + math.e)
    assert math.isclose(L.loss_c(logits, c).item(), -(math.log(p0) + math.log(p1)) / 2, rel_tol=1e-6)
    # a mixture label is the mixture of the one-hot losses
    mix = torch.tensor([[0.5, 0.5, 0.0]])
    both = (L.loss_c(logits[:1], torch.tensor([[1.0, 0, 0]])) + L.loss_c(logits[:1], torch.tensor([[0, 1.0, 0]]))) / 2
    assert torch.allclose(L.loss_c(logits[:1], mix), both)


def test_loss_kl_eq5_value_and_sign():
    mu = torch.tensor([[1.0, -2.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)]])
    expected = 0.5 * ((1 + 4) + (0 + (4 - math.log(4) - 1)))
    assert math.isclose(L.loss_kl(mu, logvar).item(), expected, rel_tol=1e-6)
    assert L.loss_kl(torch.zeros(3, 5), torch.zeros(3, 5)).item() == 0.0
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        m, lv = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
        assert L.loss_kl(m, lv).item() > 0  # KL ≥ 0, pins the sign
    # matches torch.distributions' closed-form KL
    m, lv = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    q = torch.distributions.Normal(m, (0.5 * lv).exp())
    p = torch.distributions.Normal(torch.zeros_like(m), torch.ones_like(m))
    ref = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert torch.allclose(L.loss_kl(m, lv), ref, atol=1e-5)


def test_loss_g_pairwise_eq6_sums_dims_means_batch():
    x = torch.zeros(2, 1, 2, 2)
    xf = torch.ones(2, 1, 2, 2)          # ‖x − x'‖² = 4 per sample
    fdr, fdf = torch.zeros(2, 3), torch.full((2, 3), 2.0)   # 12 per sample
    fcr, fcf = torch.zeros(2, 2), torch.tensor([[1.0, 0], [0, 3.0]])  # 1 and 9
    total, parts = L.loss_g_pairwise(x, xf, fdr, fdf, fcr, fcf)
    assert math.isclose(parts["g_img"].item(), 2.0)
    assert math.isclose(parts["g_fd"].item(), 6.0)
    assert math.isclose(parts["g_fc"].item(), 0.5 * (1 + 9) / 2)
    assert math.isclose(total.item(), 2.0 + 6.0 + 2.5)
    # ablation switches drop exactly their term
    t2, p2 = L.loss_g_pairwise(x, xf, None, None, fcr, fcf, pixel=False)
    assert p2["g_img"].item() == 0 and p2["g_fd"].item() == 0 and math.isclose(t2.item(), 2.5)


def test_loss_g_real_side_is_a_target():
    x = torch.zeros(1, 3, requires_grad=True)
    xf = torch.ones(1, 3, requires_grad=True)
    total, _ = L.loss_g_pairwise(x, xf, None, None, None, None)
    total.backward()
    assert x.grad is None or torch.count_nonzero(x.grad) == 0
    assert torch.allclose(xf.grad, torch.ones(1, 3))


def test_loss_gd_eq2_and_gc_eq4_sum_over_valid_classes():
    assert math.isclose(L.loss_gd(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])).item(), 2.5)
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    fake = torch.zeros(3, 2)
    valid = torch.tensor([True, True, False])
    assert math.isclose(L.loss_gc(real, fake, valid).item(), 0.5 * (1 + 4))


def test_mean_reductions_divide_by_the_dimension_and_pair_scales_weight_eq6_parts():
    g = torch.Generator().manual_seed(3)
    mu, logvar = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    assert L.loss_kl(mu, logvar, "mean") == pytest.approx(float(L.loss_kl(mu, logvar)) / 8, rel=1e-6)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g)
    assert L.loss_gd(a, b, "mean") == pytest.approx(float(L.loss_gd(a, b)) / 16, rel=1e-6)
    ca, cb, valid = torch.randn(3, 16, generator=g), torch.randn(3, 16, generator=g), torch.tensor([True, False, True])
    assert L.loss_gc(ca, cb, valid, "mean") == pytest.approx(float(L.loss_gc(ca, cb, valid)) / 16, rel=1e-6)
    x, xf = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4, generator=g)
    fd, fdf, fc, fcf = (torch.randn(2, 5, generator=g) for _ in range(4))
    total, parts = L.loss_g_pairwise(x, xf, fd, fdf, fc, fcf, scale_d=0.15, scale_c=2.0)
    assert float(total) == pytest.approx(float(parts["g_img"] + 0.15 * parts["g_fd"] + 2.0 * parts["g_fc"]), rel=1e-6)
    _, mean_parts = L.loss_g_pairwise(x, xf, fd, fdf, fc, fcf, pixel_reduction="mean", feature_reduction="mean")
    assert float(mean_parts["g_img"]) == pytest.approx(float(parts["g_img"]) / 48, rel=1e-6)
    assert float(mean_parts["g_fd"]) == pytest.approx(float(parts["g_fd"]) / 5, rel=1e-6)
