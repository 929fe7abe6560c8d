"""Deprecated alias kept for command lines written for cvaegan 0.1 (`python -m cvaegan_cli …`,
`torchrun … -m cvaegan_cli train …`): the package is `cvaegan` now. Nothing else lives here."""
