"""Model families by name, and which family trains each `--model` name.

Adding a family: write `families/<name>/` (config, networks, step, a `family.py` defining FAMILY)
and add one line to `_BUILTIN` below. Tests may `register` a family of their own.
"""

from __future__ import annotations

from typing import Any

from cvaegan.core.family import Family, ModelSpec
from cvaegan.families.cvaegan.family import FAMILY as CVAEGAN_FAMILY
from cvaegan.families.ifcvaegan.family import FAMILY as IFCVAEGAN_FAMILY
from cvaegan.families.openset.family import FAMILY as OPENSET_FAMILY
from cvaegan.families.saae.family import FAMILY as SAAE_FAMILY

_BUILTIN: tuple[Family, ...] = (
    CVAEGAN_FAMILY,
    IFCVAEGAN_FAMILY,
    SAAE_FAMILY,
    OPENSET_FAMILY,
)

_FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family; its name and its model names must be new."""
    if family.name in _FAMILIES:
        raise ValueError(f"a family named '{family.name}' is already registered")
    taken = set(model_names()) & {m.name for m in family.models}
    if taken:
        raise ValueError(f"model name(s) {sorted(taken)} already belong to another family")
    _FAMILIES[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family added by `register` (tests)."""
    _FAMILIES.pop(name, None)


def families() -> tuple[Family, ...]:
    return tuple(_FAMILIES.values())


def family(name: str) -> Family:
    """A family by its registry name. ValueError names the families this cvaegan has."""
    if name not in _FAMILIES:
        raise ValueError(f"a model of the '{name}' family, which this cvaegan does not have (it has "
                         f"{', '.join(_FAMILIES)})")
    return _FAMILIES[name]


def model_names() -> tuple[str, ...]:
    """Every `--model` choice, family by family."""
    return tuple(m.name for f in _FAMILIES.values() for m in f.models)


def resolve(model: str) -> tuple[Family, ModelSpec]:
    """The family that trains `model`, and the model's spec. ValueError names the choices."""
    for f in _FAMILIES.values():
        for m in f.models:
            if m.name == model:
                return f, m
    raise ValueError(f"unknown model '{model}'; choose one of {', '.join(model_names())}")


def family_of_config(config: Any) -> Family:
    """The family of a checkpoint's `config` dict: its `model.model` entry names the model (and so
    the family) in every checkpoint written so far."""
    try:
        name = config["model"]["model"]
    except (KeyError, TypeError) as exc:
        raise ValueError("config names no model (config['model']['model'])") from exc
    if not isinstance(name, str):
        raise ValueError(f"config's model must be a name, got {name!r}")
    return resolve(name)[0]


for _family in _BUILTIN:
    register(_family)
