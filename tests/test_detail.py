"""Keeping the photo's detail in an edit (`cvaegan.apps.detail`): an edit that changes nothing
gives the input back, a region the edit redraws is the edit's, and the rest is the input plus
the edit's small change."""

from __future__ import annotations

import torch

from cvaegan.apps.detail import detail_weight, keep_detail


def _photo_and_recon(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    recon = torch.rand(2, 3, 32, 32, generator=g) * 1.2 - 0.6        # G's smooth-ish drawing
    x = (recon + 0.1 * torch.randn(2, 3, 32, 32, generator=g)).clamp(-1, 1)  # the photo: plus detail
    return x, recon


def test_an_edit_that_changes_nothing_gives_the_input_back():
    x, recon = _photo_and_recon()
    assert torch.allclose(keep_detail(x, recon, recon.clone()), x, atol=1e-6)
    assert torch.allclose(keep_detail(x, recon, recon.clone(), masked=False), x, atol=1e-6)
    assert torch.equal(detail_weight(x, recon, recon), torch.ones(2, 1, 32, 32))


def test_a_redrawn_region_is_the_edits_and_the_rest_keeps_the_photo():
    x, recon = _photo_and_recon(1)
    edited = recon.clone()
    edited[:, :, 8:16, 8:16] += 0.8                                     # glasses drawn here
    edited[:, :, 20:, :] += 0.002                                       # a faint change elsewhere
    out = keep_detail(x, recon, edited)
    inside = (slice(None), slice(None), slice(9, 15), slice(9, 15))
    assert torch.allclose(out[inside], edited[inside].clamp(-1, 1), atol=1e-6)  # the input's detail is gone there
    far = (slice(None), slice(None), slice(24, 32), slice(0, 32))
    assert torch.allclose(out[far], (x[far] + 0.002).clamp(-1, 1), atol=1e-2)
    assert (out[far] - x[far]).abs().mean() < (edited[far] - x[far]).abs().mean() / 3
    # without the mask, the old detail shows through the redrawn region
    plain = keep_detail(x, recon, edited, masked=False)
    assert torch.allclose(plain, (x + edited - recon).clamp(-1, 1), atol=1e-6)
    assert not torch.allclose(plain[inside], edited[inside].clamp(-1, 1), atol=1e-2)


def test_the_weight_scales_with_the_reconstruction_error():
    """The same change is 'redrawn' against a faithful reconstruction and 'small' against a poor one."""
    x, recon = _photo_and_recon(2)
    edited = recon + 0.15
    sharp = recon + 0.5 * (x - recon)                                   # half the error
    poor = recon + 3.0 * (x - recon)                                    # three times the error
    assert detail_weight(x, sharp, sharp + 0.15).mean() < detail_weight(x, poor, poor + 0.15).mean()
    assert 0.0 <= float(detail_weight(x, recon, edited).min()) and float(detail_weight(x, recon, edited).max()) <= 1.0
