"""The jobs that own a run folder: train, sample, demo, toy (and their reports)."""
