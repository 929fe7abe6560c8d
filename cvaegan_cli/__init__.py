"""cvaegan command-line toolkit: pipelines around the model core in `models/`."""

__version__ = "0.1.0"
