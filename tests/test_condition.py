"""The condition spec: every c the product builds is a valid class vector, mixture or attribute
vector, and it round-trips through a checkpoint's dict."""

import pytest
import torch

from cvaegan.core.condition import ConditionSpec, one_hot


def test_class_vectors_and_mixtures():
    spec = ConditionSpec.classes(["a", "b", "c"])
    assert torch.equal(spec.one_hot(torch.tensor([2, 0])), torch.tensor([[0., 0, 1], [1, 0, 0]]))
    assert torch.equal(one_hot(torch.tensor([[1]]), 3), torch.tensor([[[0., 1, 0]]]))
    mix = spec.mixture(torch.tensor([1.0, 3.0, 0.0]))
    assert torch.allclose(mix, torch.tensor([0.25, 0.75, 0.0]))
    for bad in ([1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [1.0, float("nan"), 0.0], [1.0, 1.0]):
        with pytest.raises(ValueError):
            spec.mixture(torch.tensor(bad))
    with pytest.raises(ValueError, match="not attributes"):
        spec.multi_hot(["a"])


def test_attribute_vectors():
    spec = ConditionSpec.attributes(["Smiling", "Eyeglasses"])
    assert torch.equal(spec.multi_hot(["Eyeglasses"]), torch.tensor([0., 1.]))
    assert torch.equal(spec.multi_hot(torch.tensor([1, 0])), torch.tensor([1., 0.]))
    with pytest.raises(ValueError, match="unknown attribute"):
        spec.multi_hot(["Beard"])
    with pytest.raises(ValueError, match="0 or 1"):
        spec.multi_hot(torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="not class"):
        spec.one_hot(torch.tensor([0]))


@pytest.mark.parametrize("spec", [ConditionSpec.classes(["x", "y"]), ConditionSpec.attributes(["Smiling"]),
                                  ConditionSpec.embedding(512)])
def test_round_trip(spec):
    assert ConditionSpec.from_dict(spec.to_dict()) == spec


def test_class_names_may_repeat_but_attribute_names_may_not():
    assert ConditionSpec.classes(["Ann", "Ann"]).dim == 2  # a class is its index; its name only labels it
    with pytest.raises(ValueError, match="distinct"):
        ConditionSpec.attributes(["Smiling", "Smiling"])


@pytest.mark.parametrize("kind, names, dim", [("class", (), 0), ("attributes", ("a", "a"), 2), ("class", ("a",), 2),
                                              ("embedding", ("a",), 1), ("embedding", (), 0), ("vibe", (), 1)])
def test_invalid_specs_are_refused(kind, names, dim):
    with pytest.raises(ValueError):
        ConditionSpec(kind, names, dim)
