"""Thin Typer command functions; each calls library code that the tests call directly."""
