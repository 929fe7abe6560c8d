"""Output shapes at every resolution, the paper's G layout, and label conditioning."""

import dataclasses

import pytest
import torch
from torch import nn

from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.networks import Generator


@pytest.mark.parametrize("res", [32, 64, 128, 256])
def test_shapes_at_every_resolution(res):
    k, b = 5, 2
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=k, resolution=res, width=0.125, latent_dim=32)))
    m.eval()
    x = torch.rand(b, 3, res, res) * 2 - 1
    c = m.class_vector(torch.tensor([0, 4]))
    (mu, logvar), f_e = m.E(x, c)
    assert mu.shape == logvar.shape == (b, 32)
    img, _ = m.G(mu, c)
    assert img.shape == (b, 3, res, res) and img.abs().max() <= 1
    logit, f_d = m.D(x)
    assert logit.shape == (b,) and f_d.shape == (b, m.D.fc.in_features)
    logits, f_c = m.C(x)
    assert logits.shape == (b, k) and f_c.shape == (b, m.C.fc_out.in_features)


def test_generator_is_the_papers_layout_at_128():
    g = Generator(ModelConfig(num_classes=3, resolution=128))
    convs = [mod for mod in g.convs if isinstance(mod, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [256, 256, 128, 92, 64, 3]
    assert [c.kernel_size[0] for c in convs] == [3, 3, 5, 5, 5, 5]
    assert sum(isinstance(mod, nn.Upsample) for mod in g.convs) == 6
    assert sum(isinstance(mod, nn.BatchNorm2d) for mod in g.convs) == 5  # after each conv but the last
    assert sum(isinstance(mod, nn.Linear) for mod in g.modules()) == 2


def test_features_are_inputs_of_the_last_fc():
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=4, resolution=32, width=0.125)))
    m.eval()
    x = torch.rand(3, 3, 32, 32)
    logit, f_d = m.D(x)
    assert torch.allclose(m.D.fc(f_d).squeeze(1), logit)
    logits, f_c = m.C(x)
    assert torch.allclose(m.C.fc_out(f_c), logits)


def test_label_conditioning_changes_g_and_e():
    torch.manual_seed(0)
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=4, resolution=32, width=0.125, latent_dim=16)))
    m.eval()
    z = torch.randn(2, 16)
    a = m.G(z, m.class_vector(torch.tensor([0, 0])))[0]
    b = m.G(z, m.class_vector(torch.tensor([3, 3])))[0]
    assert (a - b).abs().mean() > 1e-2 * a.abs().mean()  # relative: outputs are tiny at DCGAN init
    x = torch.rand(2, 3, 32, 32)
    (mu0, _), _ = m.E(x, m.class_vector(torch.tensor([0, 0])))
    (mu1, _), _ = m.E(x, m.class_vector(torch.tensor([1, 1])))
    assert (mu0 - mu1).abs().mean() > 1e-2 * mu0.abs().mean()  # E is conditioned on c
    # a soft class vector is accepted (augment mixes classes)
    mix = torch.tensor([[0.2, 0.3, 0.5, 0.0]])
    assert m.G(torch.randn(1, 16), mix)[0].shape == (1, 3, 32, 32)


@pytest.mark.parametrize("kind,nets", [("cvaegan", "EGDC"), ("cvae", "EG"), ("cgan", "GDC"), ("fmcgan", "GDC")])
def test_model_kinds_build_their_networks(kind, nets):
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=2, resolution=32, width=0.125, model=kind)))
    assert "".join(m.nets.keys()) == nets
    assert (m.centres is not None) == (kind in ("cvaegan", "fmcgan"))


def test_bad_config_is_rejected():
    with pytest.raises(ValueError):
        ModelConfig(num_classes=3, resolution=48)
    with pytest.raises(ValueError, match="model must be one of"):  # the family's config knows its models
        CVAEGANConfig(ModelConfig(num_classes=3, model="vae"))


def _conv_sides(g: Generator, res: int) -> list[int]:
    """The map side each of G's six convolutions works at, read off a forward pass."""
    sides: list[int] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: sides.append(out.shape[-1]))
             for m in g.convs if isinstance(m, nn.Conv2d)]
    g.eval()
    with torch.no_grad():
        g(torch.zeros(1, g.fc1[0].in_features - 3), torch.zeros(1, 3))
    for h in hooks:
        h.remove()
    return sides


@pytest.mark.parametrize("res, early, late", [(32, [4, 8, 16, 32, 32, 32], [2, 2, 4, 8, 16, 32]),
                                              (64, [4, 8, 16, 32, 64, 64], [2, 4, 8, 16, 32, 64]),
                                              (128, [4, 8, 16, 32, 64, 128], [4, 8, 16, 32, 64, 128]),
                                              (256, [8, 16, 32, 64, 128, 256], [8, 16, 32, 64, 128, 256])])
def test_g_layout_places_the_upsamplings(res, early, late):
    """The default layout projects to 4×4 below 128 and up-samples right after the first conv, so
    the last ones refine the image at full resolution; "late" is cvaegan 0.1's layout (2×2, and
    its 32×32 images came out of one 5×5 conv of a nearest-up-sampled map). At 128 (the paper's
    2×2 and six up-samplings) and 256 both are the same network."""
    cfg = dict(num_classes=3, resolution=res, width=0.125, latent_dim=8)
    assert ModelConfig(**cfg).g_layout == "early"
    g_early, g_late = Generator(ModelConfig(**cfg)), Generator(ModelConfig(**cfg, g_layout="late"))
    assert _conv_sides(g_early, res) == early and _conv_sides(g_late, res) == late
    assert g_early.base == (4 if res < 128 else res // 64) and g_late.base == (2 if res < 128 else res // 64)
    if res >= 128:
        assert g_early.state_dict().keys() == g_late.state_dict().keys()


def test_a_saved_architecture_without_g_layout_rebuilds_the_late_layout():
    """Checkpoints written before the field existed trained the late layout: they must rebuild it
    (their state-dict keys would not fit the early one), while new configs round-trip as saved."""
    old = {"num_classes": 3, "resolution": 32, "latent_dim": 8, "width": 0.125, "model": "cvaegan"}
    assert ModelConfig.from_dict(old).g_layout == "late"
    new = ModelConfig(num_classes=3, resolution=32, latent_dim=8, width=0.125)
    assert ModelConfig.from_dict(dataclasses.asdict(new)) == new
    with pytest.raises(ValueError, match="g_layout"):
        ModelConfig(num_classes=3, g_layout="middle")
    with pytest.raises(ValueError, match="unknown"):
        ModelConfig.from_dict({**old, "depth": 3})
