"""The model-family interface: everything the pipelines, the applications and the CLI may assume of
a model family, so that a new family is files under `families/<name>/` plus one registry line.

A family trains one or more *models* (CVAE-GAN's family: `cvaegan` and the paper's baselines
`cvae`, `cgan`, `fmcgan`, which share its networks and losses). Each model declares

  networks      the networks it trains, by name ("E", "G", …); one optimiser each;
  phases        its training step as a list of phases (stylegan2-ada-pytorch's convention). A
                phase names its objectives, each a '+'-joined set of networks that objective's
                gradient reaches and nothing else. CVAE-GAN's step is ONE phase with three
                objectives over one shared forward graph (Algorithm 1: C; D; G and E), not three;
  capabilities  what inference can ask of it: `generate`, `encode`, `reconstruct`, `classify`,
                and for later families `edit`, `swap`, `stylize`.

The family supplies its config type (a dataclass with `to_dict`/`from_dict`, a `model`
`ModelConfig` and `networks`), a builder, optimisers, the training step and named presets. The
model it builds is an `nn.Module` with `cfg`, `nets` (an `nn.ModuleDict`), `num_classes` (the
length of its condition c), `latent_dim`, `class_vector(labels)` when c is a class vector, and one
method per capability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cvaegan.core.batch import BATCH_KINDS

CAPABILITIES = frozenset({"generate", "encode", "reconstruct", "classify", "edit", "swap", "stylize"})


@dataclass(frozen=True)
class Phase:
    """One part of a training step: its objectives, each keyed by the '+'-joined networks it
    updates (e.g. ("C", "D", "G+E")), run every `interval` steps."""

    name: str
    objectives: tuple[str, ...]
    interval: int = 1

    @property
    def networks(self) -> tuple[str, ...]:
        return tuple(n for key in self.objectives for n in key.split("+"))


@dataclass(frozen=True)
class ModelSpec:
    """One model of a family, as `--model NAME` trains it."""

    name: str
    networks: tuple[str, ...]
    phases: tuple[Phase, ...]
    capabilities: frozenset[str]
    summary: str

    def __post_init__(self) -> None:
        unknown = self.capabilities - CAPABILITIES
        if unknown:
            raise ValueError(f"model '{self.name}': unknown capabilities {sorted(unknown)}")
        updated = [n for ph in self.phases for n in ph.networks]
        if sorted(set(updated)) != sorted(self.networks) or len(set(updated)) != len(updated):
            raise ValueError(f"model '{self.name}': its phases must update each of {self.networks} exactly once, "
                             f"got {updated}")


@dataclass(frozen=True)
class Family:
    """A model family: its models, config, builder, optimisers, training step and presets.

    `train_step(model, optimizers, batch, generator, autocast, reduce=…, sync_grads=…)` runs every
    phase of one step on a `Batch` of kind `batch` and returns the detached loss terms (no host
    sync).
    `new_config(arch, loss, optim)` is the family config for a `ModelConfig` and the family's
    loss/optimiser settings (None: the default preset's); `settings(preset, overrides)` resolves a
    preset plus `--set`-style overrides into those settings, refusing unknown names.
    """

    name: str
    summary: str
    models: tuple[ModelSpec, ...]
    config_from_dict: Callable[[dict[str, Any]], Any]
    new_config: Callable[..., Any]
    settings: Callable[[str, Mapping[str, Any]], tuple[Any, Any]]
    presets: tuple[str, ...]
    build: Callable[[Any], Any]
    make_optimizers: Callable[[Any], dict[str, Any]]
    train_step: Callable[..., Any]
    options: Mapping[str, str] = field(default_factory=dict)  # named CLI option -> settings field
    batch: str = "labeled"  # which Batch kind its step takes (core.batch.BATCH_KINDS)
    # What its condition c is (core.condition.KINDS): "class" — c is a class vector over the
    # dataset's classes; "attributes" — c is the dataset's per-item binary targets (the chosen
    # columns), and the batch's `target` carries them.
    condition: str = "class"

    def __post_init__(self) -> None:
        names = [m.name for m in self.models]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"family '{self.name}' must declare distinct models, got {names}")
        if self.batch not in BATCH_KINDS:
            raise ValueError(f"family '{self.name}': batch kind must be one of {BATCH_KINDS}, got {self.batch!r}")
        if self.condition not in ("class", "attributes"):
            raise ValueError(f"family '{self.name}': condition must be 'class' or 'attributes', got {self.condition!r}")
        if "default" not in self.presets:
            raise ValueError(f"family '{self.name}' needs a 'default' preset")

    def model(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        raise ValueError(f"family '{self.name}' has no model '{name}'")
