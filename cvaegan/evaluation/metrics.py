"""The numbers `cvaegan evaluate` reports, as pure functions of classifier outputs and features.

- `realism_score`: §5.2's Inception-style score exp(E_x KL(p(y|x) ‖ p(y))), p(y) = E_x p(y|x),
  computed over the whole set (one split). It lies in [1, K]: 1 when every prediction is the same
  distribution, K when predictions are confident and spread evenly over the K classes.
- `frechet_distance`: ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁^½ Σ₂ Σ₁^½)^½) between Gaussians fitted to two
  feature sets. With the judge's features this is an FID-STYLE distance, not the standard FID
  (which uses Inception-v3 pool features; `inception.py` does that when weights are given). Values
  depend on the feature extractor and on the sample sizes, so compare numbers only under one judge
  and the same `--per-class`.
- `intra_class_diversity`: the mean pairwise Euclidean distance between the features of images of
  one class, averaged over classes. Mode collapse drives it towards 0.
- `top1`: the fraction of argmax predictions equal to the label.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def realism_score(probs: Tensor, eps: float = 1e-12) -> float:
    """exp(mean_x KL(p(y|x) ‖ p(y))) for rows of class probabilities (N, K)."""
    p = probs.double().clamp_min(0)
    p = p / p.sum(1, keepdim=True)
    marginal = p.mean(0, keepdim=True)
    kl = (p * (torch.log(p + eps) - torch.log(marginal + eps))).sum(1)
    return float(math.exp(float(kl.mean())))


def feature_stats(features: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (N − 1) of features (N, d), in float64."""
    f = features.detach().double().cpu().numpy()
    if f.shape[0] < 2:
        raise ValueError("feature statistics need at least 2 samples")
    return f.mean(0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein) distance between N(μ₁, Σ₁) and N(μ₂, Σ₂).

    Tr((Σ₁ Σ₂)^½) is computed as Σ √λ of the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½ (eigh on symmetric
    matrices only, so rank-deficient covariances from few samples are fine; tiny negative
    eigenvalues from round-off are clipped to 0)."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched shapes: {mu1.shape}, {s1.shape} vs {mu2.shape}, {s2.shape}")
    root1 = _psd_sqrt(s1)
    middle = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    value = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
    return max(value, 0.0)


def frechet_distance_features(a: Tensor, b: Tensor) -> float:
    """`frechet_distance` between Gaussians fitted to two feature sets."""
    return frechet_distance(*feature_stats(a), *feature_stats(b))


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def mean_pairwise_distance(features: Tensor) -> float:
    """Mean ‖f_i − f_j‖₂ over pairs i < j (nan for fewer than 2 samples)."""
    n = features.shape[0]
    if n < 2:
        return float("nan")
    d = torch.cdist(features.double()[None], features.double()[None])[0]
    return float(d.sum() / (n * (n - 1)))


def intra_class_diversity(features: Tensor, labels: Tensor) -> float:
    """Mean over classes (those with ≥ 2 samples) of the mean pairwise feature distance."""
    values = [mean_pairwise_distance(features[labels == k]) for k in labels.unique().tolist()]
    values = [v for v in values if not math.isnan(v)]
    return float(sum(values) / len(values)) if values else float("nan")


def top1(probs_or_logits: Tensor, labels: Tensor) -> float:
    if labels.numel() == 0:
        return float("nan")
    return float((probs_or_logits.argmax(1) == labels.to(probs_or_logits.device)).double().mean())
