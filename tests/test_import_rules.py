"""The package's dependency rules (README, "The package"), checked on every import statement of
every module, function-local imports included:

  core/                 imports nothing of cvaegan but core/ (pure torch);
  families/<name>/      imports core/ and itself only: no other family, no registry, no pipeline;
  runtime/, data/       import no family, no session, pipeline, application or CLI;
  everything but cli/   imports neither typer nor cvaegan.cli (`python -m cvaegan`'s __main__ excepted).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "cvaegan"
UPPER = ("cvaegan.families", "cvaegan.session", "cvaegan.pipelines", "cvaegan.apps", "cvaegan.evaluation",
         "cvaegan.prepare", "cvaegan.cli")


def _module(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(root: Path = PKG) -> list[str]:
    bad = []
    for path in sorted(root.rglob("*.py")):
        mod = _module(path, root)
        parts = mod.split(".")
        family = ".".join(parts[:3]) if len(parts) >= 3 and parts[1] == "families" and (
            path.parent != root / "families") else None
        for line, name in _imports(path):
            where = f"{path.relative_to(root.parent)}:{line} imports {name}"
            if mod != "cvaegan.__main__" and not _under(mod, "cvaegan.cli") and (_under(name, "typer") or _under(name, "click")
                                                  or _under(name, "cvaegan.cli")):
                bad.append(f"{where} (only cvaegan.cli may)")
            if _under(mod, "cvaegan.core") and _under(name, "cvaegan") and not _under(name, "cvaegan.core"):
                bad.append(f"{where} (core imports only core)")
            if family and _under(name, "cvaegan") and not (_under(name, "cvaegan.core") or _under(name, family)):
                bad.append(f"{where} (a family imports only core and itself)")
            if (_under(mod, "cvaegan.runtime") or _under(mod, "cvaegan.data")) and any(_under(name, u) for u in UPPER):
                bad.append(f"{where} (runtime and data know no family, session, pipeline or CLI)")
    return bad


def test_the_package_keeps_its_dependency_rules():
    assert violations() == []


@pytest.mark.parametrize("where, source, rule", [
    ("core/x.py", "from cvaegan.families.cvaegan import CVAEGAN\n", "core imports only core"),
    ("families/cvaegan/x.py", "from cvaegan.families.registry import resolve\n", "a family imports only"),
    ("families/cvaegan/x.py", "def f():\n    from cvaegan.pipelines.train import train\n", "a family imports only"),
    ("runtime/x.py", "import cvaegan.session\n", "runtime and data know no family"),
    ("data/x.py", "from cvaegan.families import registry\n", "runtime and data know no family"),
    ("apps/x.py", "import typer\n", "only cvaegan.cli may"),
])
def test_the_rules_catch_a_forbidden_import(tmp_path, where, source, rule):
    root = tmp_path / "cvaegan"
    (root / where).parent.mkdir(parents=True, exist_ok=True)
    (root / where).write_text(source)
    found = violations(root)
    assert len(found) == 1 and rule in found[0]
