"""Judging a checkpoint with numbers: an independent judge classifier (`judge`), the metrics of
§5.2 and friends (`metrics`), and the `cvaegan evaluate` pipeline (`evaluate`)."""
