"""The rich progress bar every long job uses: description, bar, count, rate/losses, elapsed, ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


def make_progress(console: Console, transient: bool = False) -> Progress:
    """Tasks carry an `info` field (rates, losses) shown after the counts."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        console=console, transient=transient, refresh_per_second=4,
    )
