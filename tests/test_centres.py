"""Moving-average feature centres (Eqs. 2 and 4): history across batches, every class, gradients."""

import torch

from cvaegan.core.centres import FeatureCentres


def test_global_centre_is_a_moving_average_across_batches():
    c = FeatureCentres(d_dim=2, c_dim=1, num_classes=2, decay=0.9)
    r1, f1 = c.update_d(torch.tensor([[1.0, 1.0], [3.0, 3.0]]), torch.tensor([[0.0, 0.0]]))
    assert torch.allclose(r1, torch.tensor([2.0, 2.0]))  # first batch: the batch mean, no zero bias
    r2, f2 = c.update_d(torch.tensor([[12.0, 12.0]]), torch.tensor([[10.0, 0.0]]))
    assert torch.allclose(r2, 0.9 * torch.tensor([2.0, 2.0]) + 0.1 * torch.tensor([12.0, 12.0]))
    assert torch.allclose(f2, torch.tensor([1.0, 0.0]))
    assert torch.allclose(c.d_real, r2) and torch.allclose(c.d_fake, f2)  # kept in buffers


def test_fake_centre_carries_gradient_of_current_batch_only():
    c = FeatureCentres(2, 1, 2, decay=0.75)
    c.update_d(torch.zeros(2, 2), torch.zeros(2, 2))
    f = torch.ones(4, 2, requires_grad=True)
    r = torch.randn(4, 2, requires_grad=True)
    real, fake = c.update_d(r, f)
    fake.sum().backward()
    assert torch.allclose(f.grad, torch.full((4, 2), 0.25 / 4))  # (1 − d) · 1/B
    assert r.grad is None
    assert not c.d_fake.requires_grad and not real.requires_grad


def test_per_class_centres_cover_all_classes_not_just_the_batch():
    c = FeatureCentres(1, 2, num_classes=3, decay=0.5)
    real_f = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    real_y = torch.tensor([0, 0, 1])
    fake_f = torch.tensor([[0.0, 0.0], [0.0, 2.0]], requires_grad=True)
    fake_y = torch.tensor([0, 1])
    cr, cf, valid = c.update_c(real_f, real_y, fake_f, fake_y)
    assert torch.allclose(cr[0], torch.tensor([2.0, 0.0])) and torch.allclose(cr[1], torch.tensor([0.0, 4.0]))
    assert valid.tolist() == [True, True, False]          # class 2 not seen yet
    # next batch has only class 2 (real) and class 0 (fake): classes 0 and 1 keep their history
    cr2, cf2, valid2 = c.update_c(torch.tensor([[7.0, 7.0]]), torch.tensor([2]),
                                  torch.tensor([[4.0, 4.0]], requires_grad=True), torch.tensor([0]))
    assert torch.allclose(cr2[:2], cr[:2].detach())
    assert torch.allclose(cr2[2], torch.tensor([7.0, 7.0]))
    assert torch.allclose(cf2[0], 0.5 * cf[0].detach() + 0.5 * torch.tensor([4.0, 4.0]))
    assert torch.allclose(cf2[1], cf[1].detach())
    assert valid2.tolist() == [True, True, False]          # class 2 has no fake centre yet


def test_centres_are_checkpointable_state():
    c = FeatureCentres(3, 2, 4, 0.9)
    c.update_d(torch.randn(5, 3), torch.randn(5, 3))
    c.update_c(torch.randn(5, 2), torch.tensor([0, 1, 1, 3, 3]), torch.randn(5, 2), torch.tensor([2, 2, 0, 1, 1]))
    d = FeatureCentres(3, 2, 4, 0.9)
    d.load_state_dict(c.state_dict())
    for k, v in c.state_dict().items():
        assert torch.equal(v, d.state_dict()[k]), k


def test_reduce_hook_sees_sums_and_counts():
    seen = []

    def reduce(t):
        seen.append(t.shape)
        return t * 2  # as if a second identical process contributed the same statistics

    c = FeatureCentres(2, 2, 3, 0.9)
    r, _ = c.update_d(torch.tensor([[2.0, 4.0]]), torch.tensor([[0.0, 0.0]]), reduce=reduce)
    assert torch.allclose(r, torch.tensor([2.0, 4.0]))  # (2·sum)/(2·count): same mean
    assert seen
