"""Architecture rules that a test can check: dependency direction, one way to do each thing, no dead code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a Python file, including those inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


# Modules allowed to import camelyon for now (none: the camelyon teaching probes moved to tests/hidden/ with
# issue 16).
PENDING_MOVE: set[str] = set()


def test_minicnn_imports_nothing_from_camelyon():
    """minicnn is the library, camelyon is built on it: never the other way round."""
    offenders = []
    for path in sorted((ROOT / "minicnn").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in PENDING_MOVE:
            continue
        for line, module in _imports(path):
            if module == "camelyon" or module.startswith("camelyon."):
                offenders.append(f"{rel}:{line} imports {module}")
    assert not offenders, "minicnn must not import camelyon:\n" + "\n".join(offenders)


def test_the_dependency_test_catches_an_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from camelyon.stain import macenko\n")
    assert _imports(bad) == [(2, "camelyon.stain")]


def test_every_listed_command_module_exists_and_a_misspelled_one_is_an_error(monkeypatch):
    import camelyon.cli as cli
    import camelyon.commands as commands

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == commands.COMMAND_MODULES
    monkeypatch.setattr(cli, "COMMAND_MODULES", [*commands.COMMAND_MODULES, "heatmapp"])
    with pytest.raises(ImportError, match="lists 'heatmapp'"):
        cli.build_parser()


def test_dead_code_stays_removed():
    annotations = (ROOT / "camelyon" / "annotations.py").read_text(encoding="utf-8")
    assert "def in_group" not in annotations
    sequential = (ROOT / "minicnn" / "sequential.py").read_text(encoding="utf-8")
    assert '"running_mean"' not in sequential  # layers expose their state as .buffers


def test_compiled_tree_builder_names_its_constants():
    source = (ROOT / "minicnn" / "tree" / "builder.py").read_text(encoding="utf-8")
    structure = (ROOT / "minicnn" / "tree" / "structure.py").read_text(encoding="utf-8")
    assert re.search(r"^EPSILON = ", source, re.M)
    assert re.search(r"^TREE_LEAF = -1$", structure, re.M) and re.search(r"^TREE_UNDEFINED = -2$", structure, re.M)
    fast = source[source.index("def _grow_fast_compiled"):]
    for name in ("TREE_LEAF", "TREE_UNDEFINED", "EPSILON"):
        assert name in fast, name
    assert not re.search(r"= -[12](\.0)?\b|== -1\b|2\.22\d*e-16", fast), "use TREE_LEAF / TREE_UNDEFINED / EPSILON"


def test_camelyon_raises_its_own_error_families():
    """A user-caused error in camelyon is a CamelyonError (the CLI reports it in one line), still a ValueError
    where Python users expect one."""
    import camelyon.errors as errors

    offenders = []
    for path in sorted((ROOT / "camelyon").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"raise (ValueError|TypeError|RuntimeError)\(", line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert not offenders, "raise a camelyon.errors family instead:\n" + "\n".join(offenders)
    families = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    assert all(issubclass(f, errors.CamelyonError) for f in families)
    for name in ("StainError", "AugmentError", "TissueError", "SlideParameterError", "DatasetParameterError",
                 "SyntheticError"):
        assert issubclass(getattr(errors, name), ValueError), name
