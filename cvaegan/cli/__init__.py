"""The Typer command line: the only package that imports typer. Commands are thin: they parse,
bound-check and call library functions."""
