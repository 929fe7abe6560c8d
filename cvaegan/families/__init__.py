"""Model families: one sub-package per family (config, networks, training step, inference), named
in `registry.py`."""
