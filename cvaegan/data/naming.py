"""Class names → folder names that never collide.

`Ann Lee` and `Ann_Lee`, or `Bob` and `bob` (one folder on case-insensitive file systems), sanitise
to one folder; written into it, two classes overwrite each other's files and a reader sees the same
images under two labels. Every writer of class folders (prepare, augment, sample --separate, the
merged view) names them through `distinct_folders`.
"""

from __future__ import annotations


def distinct_folders(folders: list[str]) -> list[str]:
    """The given (already sanitised) names, with _2, _3 … appended where one would repeat an
    earlier one case-insensitively — including a clash with a name that already ends in _2."""
    used: set[str] = set()
    out = []
    for base in folders:
        name, k = base, 1
        while name.lower() in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name.lower())
        out.append(name)
    return out
