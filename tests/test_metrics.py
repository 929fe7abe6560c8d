"""Realism score, Fréchet distance, diversity and top-1 against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cvaegan.evaluation import metrics as M


def test_realism_is_one_for_identical_predictions():
    uniform = torch.full((7, 5), 0.2)
    assert M.realism_score(uniform) == pytest.approx(1.0, abs=1e-9)
    same = torch.tensor([[0.7, 0.2, 0.1]]).repeat(4, 1)  # confident but always the same class: no diversity
    assert M.realism_score(same) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("k", [2, 5, 10])
def test_realism_is_k_for_confident_predictions_spread_over_k_classes(k):
    probs = torch.eye(k).repeat(3, 1)
    assert M.realism_score(probs) == pytest.approx(k, rel=1e-6)


def test_realism_hand_computed_mixture():
    # p1 = [1, 0], p2 = [.5, .5]; p(y) = [.75, .25]; KL1 = log(4/3), KL2 = ½ log(2/3) + ½ log 2 = ½ log(4/3)
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert M.realism_score(probs) == pytest.approx((4 / 3) ** 0.75, rel=1e-9)


def test_frechet_identical_sets_is_zero():
    f = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    assert M.frechet_distance_features(f, f.clone()) == pytest.approx(0.0, abs=1e-8)


def test_frechet_one_dimensional_gaussians_closed_form():
    # W2² between N(1, 2²) and N(3, 3²) is (1 − 3)² + (2 − 3)² = 5
    assert M.frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == \
        pytest.approx(5.0, abs=1e-9)


def test_frechet_of_a_shifted_set_is_the_squared_shift():
    f = torch.randn(40, 3, generator=torch.Generator().manual_seed(1))
    shift = torch.tensor([1.0, -2.0, 0.5])
    assert M.frechet_distance_features(f, f + shift) == pytest.approx(float(shift.pow(2).sum()), rel=1e-6)


def test_frechet_sample_statistics_of_1d_sets():
    a = torch.tensor([[0.0], [2.0]])          # mean 1, unbiased var 2
    b = torch.tensor([[4.0], [4.0], [7.0]])   # mean 5, unbiased var 3
    expected = (1 - 5) ** 2 + (math.sqrt(2) - math.sqrt(3)) ** 2
    assert M.frechet_distance_features(a, b) == pytest.approx(expected, rel=1e-9)


def test_frechet_matches_scipy_sqrtm_on_non_commuting_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    s1, s2 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    mu1, mu2 = rng.normal(size=4), rng.normal(size=4)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert M.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-6)


def test_frechet_rejects_mismatched_dimensions():
    with pytest.raises(ValueError):
        M.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_intra_class_diversity_hand_computed():
    # class 0: a 3-4-5 triangle (mean pairwise distance 4); class 1: collapsed (0)
    f = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([0, 0, 0, 1, 1])
    assert M.mean_pairwise_distance(f[:3]) == pytest.approx(4.0)
    assert M.intra_class_diversity(f, y) == pytest.approx(2.0)
    assert math.isnan(M.mean_pairwise_distance(f[:1]))


def test_top1():
    probs = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert M.top1(probs, torch.tensor([0, 1, 1, 0])) == pytest.approx(0.5)
