"""Datasets on disk: manifests, decoded-image caches and device batches, image conversion and
files, the embedded demo faces. Knows no model family."""
