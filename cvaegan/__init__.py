"""cvaegan: fine-grained conditional image generation (CVAE-GAN and the families built on it).

The package map and its import rules are in the README ("The package"): `core/` is pure torch,
`families/` holds one sub-package per model family behind `families.registry`, `runtime/` and
`data/` know no family, and `cli/` is the only package that imports typer.
"""

__version__ = "0.1.0"
