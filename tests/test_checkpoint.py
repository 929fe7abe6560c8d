"""Checkpoint round trip (weights_only=True) and rejection of bad files with one-line errors."""

import pytest
import torch

from cvaegan.runtime.checkpoint_io import save_checkpoint

from cvaegan.families.checkpoint import make_checkpoint, model_from_checkpoint
from cvaegan.families.checkpoint import load_optimizers
from cvaegan.families.cvaegan import CVAEGAN, CVAEGANConfig, ModelConfig
from cvaegan.families.cvaegan.step import make_optimizers, train_step
from cvaegan.runtime.errors import CvaeganError
from cvaegan.session import load_checkpoint


def _trained(seed=0):
    torch.manual_seed(seed)
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=3, resolution=32, width=0.125, latent_dim=16)))
    opts = make_optimizers(m)
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(6, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 0, 1, 2])
    for _ in range(2):
        train_step(m, opts, x, y, g)
    return m, opts, g


def test_round_trip_restores_everything(tmp_path):
    m, opts, g = _trained()
    ckpt = make_checkpoint(m, class_names=["a", "b", "c"], step=2, optimizers=opts,
                           rng={"noise": g.get_state()}, meta={"note": "x"})
    path = save_checkpoint(tmp_path / "c.pt", ckpt)
    loaded = torch.load(path, weights_only=True)  # the format is weights_only-safe
    m2 = model_from_checkpoint(loaded)
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    assert loaded["class_names"] == ["a", "b", "c"] and loaded["step"] == 2
    opts2 = make_optimizers(m2)
    load_optimizers(loaded, opts2)
    # identical state ⇒ identical next step
    g2 = torch.Generator()
    g2.set_state(loaded["rng"]["noise"])
    x, y = torch.rand(6, 3, 32, 32) * 2 - 1, torch.tensor([2, 1, 0, 2, 1, 0])
    la = train_step(m, opts, x, y, g)
    lb = train_step(m2, opts2, x, y, g2)
    for k in la:
        assert torch.allclose(la[k], lb[k]), k
    assert torch.equal(m.centres.c_real, m2.centres.c_real)


def test_no_temp_files_left_behind(tmp_path):
    m, opts, _ = _trained()
    save_checkpoint(tmp_path / "c.pt", make_checkpoint(m, class_names=["a", "b", "c"], step=0))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@pytest.mark.parametrize("content,needle", [
    (b"hello, not a checkpoint\n", "not a PyTorch checkpoint"),
    (b"", "not a PyTorch checkpoint"),
])
def test_garbage_is_rejected_in_one_line(tmp_path, content, needle):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(CvaeganError, match=needle) as e:
        load_checkpoint(p)
    assert str(p) in str(e.value) and "\n" not in str(e.value)


def test_truncated_and_foreign_and_other_version(tmp_path):
    m, _, _ = _trained()
    good = save_checkpoint(tmp_path / "good.pt", make_checkpoint(m, class_names=["a", "b", "c"], step=0))
    data = good.read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CvaeganError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CvaeganError, match="not a cvaegan checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    ckpt = torch.load(good, weights_only=True)
    ckpt["version"] = 99
    torch.save(ckpt, tmp_path / "v99.pt")
    with pytest.raises(CvaeganError, match="version 99"):
        load_checkpoint(tmp_path / "v99.pt")
    with pytest.raises(CvaeganError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


def test_pickled_objects_are_refused(tmp_path):
    import argparse  # any class outside torch's allow-list stands for arbitrary pickled code

    torch.save({"format": "cvaegan-checkpoint", "obj": argparse.Namespace(a=1)}, tmp_path / "evil.pt")
    with pytest.raises(CvaeganError, match="refusing to unpickle"):
        load_checkpoint(tmp_path / "evil.pt")


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def test_a_version_1_checkpoint_still_loads_and_draws_the_same_images():
    """tests/fixtures/v1-cvaegan.pt was written by cvaegan 0.1's format (version 1, commit a1bf565)
    and is never rewritten: whatever the format becomes, such files must load as the same model."""
    ckpt = load_checkpoint(FIXTURES / "v1-cvaegan.pt")
    assert ckpt["version"] == 1 and ckpt["class_names"] == ["ada", "bram", "cleo"] and ckpt["step"] == 7
    m = model_from_checkpoint(ckpt).eval()
    want = torch.load(FIXTURES / "v1-cvaegan-expected.pt", weights_only=True)
    got = m.generate(want["z"], m.class_vector(want["labels"]))
    torch.testing.assert_close(got, want["out"], rtol=0, atol=1e-5)  # CPUs may differ in the last bits
    assert m.centres is not None and torch.equal(m.centres.state_dict()["d_real"], ckpt["centres"]["d_real"])


def _v2(tmp_path, **change):
    m = CVAEGAN(CVAEGANConfig(ModelConfig(num_classes=3, resolution=32, width=0.0625, latent_dim=8, model="cvae")))
    ckpt = make_checkpoint(m, class_names=["a", "b", "c"], step=0)
    ckpt.update(change)
    torch.save(ckpt, tmp_path / "v2.pt")
    return tmp_path / "v2.pt"


def test_version_2_names_its_family_and_condition(tmp_path):
    ckpt = load_checkpoint(_v2(tmp_path))
    assert (ckpt["version"], ckpt["family"]) == (2, "cvaegan")
    assert ckpt["condition"] == {"kind": "class", "names": ["a", "b", "c"], "dim": 3}


@pytest.mark.parametrize("change, needle", [
    ({"family": "nosuchfamily"}, "'nosuchfamily' family, which this cvaegan does not have"),
    ({"family": "ifcvaegan"}, "the config's model is not a model of the 'ifcvaegan' family"),
    ({"family": 3}, "family must be a name"),
    ({"condition": {"kind": "class", "names": ["a", "b", "x"], "dim": 3}}, "condition's names differ"),
    ({"condition": {"kind": "colour", "names": [], "dim": 0}}, "condition kind must be one of"),
    ({"condition": "class"}, "invalid condition"),
])
def test_a_version_2_file_that_contradicts_itself_is_one_error(tmp_path, change, needle):
    with pytest.raises(CvaeganError, match=needle):
        load_checkpoint(_v2(tmp_path, **change))


def test_a_family_that_does_not_have_the_config_model_is_refused(tmp_path, monkeypatch):
    from cvaegan.families import registry
    from tests import tiny_family

    registry.register(tiny_family.FAMILY)
    try:
        with pytest.raises(CvaeganError, match="not a model of the 'tinyfam' family"):
            load_checkpoint(_v2(tmp_path, family="tinyfam"))
    finally:
        registry.unregister(tiny_family.FAMILY.name)
