"""Names: class names → folder names that never collide, and a user's name or index → one of a
model's names (classes, attributes).

`Ann Lee` and `Ann_Lee`, or `Bob` and `bob` (one folder on case-insensitive file systems), sanitise
to one folder; written into it, two classes overwrite each other's files and a reader sees the same
images under two labels. Every writer of class folders (prepare, augment, sample --separate, the
merged view) names them through `distinct_folders`.
"""

from __future__ import annotations

import difflib
import re

from cvaegan.runtime.errors import CvaeganError


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


def resolve_name(spec: str | int, names: list[str], what: str = "class") -> int:
    """An index ("42") or a name (exact, then case/space/underscore-insensitive) → its index.
    Unknown names get one error line listing the closest names (`what` says what they are)."""
    k = len(names)
    plural = f"{what}es" if what.endswith("s") else f"{what}s"
    text = str(spec).strip()
    if re.fullmatch(r"-?\d+", text):
        idx = int(text)
        if not 0 <= idx < k:
            raise CvaeganError(f"{what} index {idx} is out of range: this model has {plural} 0..{k - 1}")
        return idx
    if text in names:
        return names.index(text)
    norm = {_norm(n): i for i, n in enumerate(names)}
    if _norm(text) in norm:
        return norm[_norm(text)]
    close = difflib.get_close_matches(text, names, n=5, cutoff=0.4) or \
        [names[norm[m]] for m in difflib.get_close_matches(_norm(text), list(norm), n=5, cutoff=0.4)]
    hint = f"closest: {', '.join(close)}" if close else f"{plural} include: {', '.join(names[:5])}" + \
        (", ..." if k > 5 else "")
    raise CvaeganError(f"unknown {what} '{text}'; {hint}")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name).strip().casefold()
