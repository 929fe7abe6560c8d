"""Poisson blending of a fill (`cvaegan.apps.blend`): known answers on synthetic images."""

from __future__ import annotations

import torch

from cvaegan.apps.blend import poisson_blend, sor_sweeps


def _images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 32, 32, generator=g) * 1.2 - 0.6
    m = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    m[:, :, 9:21, 11:24] = True
    return x, m


def test_a_fill_off_by_a_constant_or_a_ramp_comes_back_exact():
    """g = x + offset, with an offset that is harmonic (a constant, a linear ramp): the membrane
    h equals −offset inside the hole, so the blend returns x itself there."""
    x, m = _images()
    ramp = torch.linspace(-0.2, 0.3, 32).view(1, 1, 1, 32)
    for offset in (torch.full_like(x, 0.25), ramp.expand_as(x)):
        out = poisson_blend(x + offset, x, m)
        assert float((out - x).abs().max()) < 2e-3
        pasted = torch.where(m.expand_as(x), x + offset, x)
        assert float((pasted - x).abs().max()) > 0.1  # what pasting alone would leave


def test_outside_the_hole_is_the_input_bit_for_bit_and_gradients_are_kept():
    x, m = _images(1)
    g = torch.rand(x.shape, generator=torch.Generator().manual_seed(5)) * 2 - 1
    out = poisson_blend(g, x, m)
    outside = ~m.expand_as(x)
    assert torch.equal(out[outside], x[outside])
    assert out.min() >= -1 and out.max() <= 1
    inner = torch.zeros_like(m)
    inner[:, :, 11:19, 13:22] = True  # away from the edge, the fill's own detail survives
    dg = (g - g.mean(dim=(2, 3), keepdim=True))[inner.expand_as(x)]
    do = (out - out.mean(dim=(2, 3), keepdim=True))[inner.expand_as(x)]
    assert torch.corrcoef(torch.stack([dg, do]))[0, 1] > 0.8


def test_sweeps_grow_with_the_hole_and_omega_stays_below_2():
    small = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    small[..., 10:16, 10:16] = True
    big = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    big[..., 10:40, 10:40] = True
    (n_small, w_small), (n_big, w_big) = sor_sweeps(small), sor_sweeps(big)
    assert n_big > 3 * n_small >= 60
    assert 1.0 < w_small < w_big < 2.0


def test_a_face_pasted_back_with_blend_loses_gs_colour_offset(tmp_path):
    """`edit`/`swap` on a raw photo: a drawn face that is the photo's own crop plus a tint comes
    back as the photo itself with `blend` (the tint fades to the region's edge and the harmonic
    membrane of a constant is the constant), while pasting keeps the tint over the whole face."""
    import cv2
    import numpy as np
    from PIL import Image

    from cvaegan.apps.common import array_to_tensor, tensor_to_array
    from cvaegan.apps.faces import FaceInput
    from cvaegan.apps.paste import face_mask, write_face_result

    yy, xx = np.mgrid[0:96, 0:96].astype(np.float32)
    photo = np.stack([80 + yy, 60 + xx, 120 + 0.5 * (xx - yy)], axis=2).clip(0, 255).astype(np.uint8)
    matrix = np.array([[0.5, 0.0, -8.0], [0.0, 0.5, -8.0]], np.float32)     # photo → 32×32 crop
    crop = cv2.warpAffine(photo, matrix, (32, 32), flags=cv2.INTER_AREA)
    inp = FaceInput(path=tmp_path / "p.png", x=array_to_tensor(crop), raw=True, photo=photo, matrix=matrix)
    tinted = tensor_to_array((array_to_tensor(crop) + 0.3).clamp(-1, 1))    # +38 levels
    inside = cv2.warpAffine(face_mask(32).astype(np.uint8), matrix, (96, 96),
                            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
    errors = {}
    for blend in (False, True):
        out = tmp_path / f"b{blend}.png"
        said = write_face_result(tinted, inp, out, feather=2, blend=blend)
        assert ("Poisson-blended" in said) == blend
        got = np.asarray(Image.open(out).convert("RGB")).astype(np.float64)
        errors[blend] = float(np.abs(got - photo)[inside].mean())
    assert errors[False] > 25, errors          # the tint, pasted
    assert errors[True] < 4, errors            # gone: only resampling error is left
