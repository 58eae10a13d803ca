"""``grading.toml``: points per exercise and per test group, limits, tolerances and delegation rules.

The file lives at the root of the solution edition (students do not get it). Every key is optional;
:func:`load_policy` validates it and names the table and key of every mistake
(``grading.toml: [exercises.G03] points: expected a number >= 0, got "ten"``). Example::

    [grading]
    points = 10            # per exercise, unless the exercise says otherwise
    test_timeout = 60      # seconds per test
    wall_limit = 300       # seconds per exercise (all its processes), then the process group is killed
    cpu_limit = 600        # CPU seconds per process (RLIMIT_CPU)
    memory_mb = 4096       # address space per process (RLIMIT_AS)
    rtol = 1e-7            # hidden probes: float tolerance (relative) ...
    atol = 1e-12           # ... and absolute, times the largest magnitude of the expected output
    delegation = "zero"    # an exercise caught calling a forbidden twin scores 0 ("fail": only those checks fail)
    gamed = "zero"         # an exercise whose function is right on the visible tests' inputs and wrong on new
                           # inputs of the same shape (a hidden probe's "visible" outputs) scores 0 ("fail": only
                           # that probe fails)

    [groups]               # in order: a check counts in the first group whose patterns (fnmatch) match its
                           # pytest node id (tests) or probe name (probes); all_or_nothing: all pass or 0
    notebook = {points = 2, tests = ["tests/test_generic_exercises.py::*"], probes = ["notebook_*"], all_or_nothing = true}
    library = {points = 8, tests = ["*"], probes = ["*"]}

    [exercises.G03]
    points = 12
    rtol = 1e-6
    [[exercises.G03.delegation]]
    guard = ["minicnn/functional/conv_naive.py"]
    forbid = ["minicnn.functional.conv_fast"]
    message = "G03 must be written with loops, not by calling {name}"

An exercise with its own ``groups`` table uses only those. A group's score is its points times the fraction
of its counted checks that pass (``all_or_nothing``: all or none); skipped checks, and checks that pass on
the blank edition, are not counted, and a group with no counted check is "not graded" and left out of the
exercise's maximum.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, installed by pyproject.toml's marker
    import tomli as tomllib  # type: ignore[no-redef]

POLICY_FILE = "grading.toml"
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


class PolicyError(ValueError):
    """``grading.toml`` is invalid; the message names the table and key."""


@dataclass(frozen=True)
class Group:
    """A group of checks of one exercise, worth ``points``."""

    name: str
    points: float
    tests: tuple[str, ...] = ("*",)
    probes: tuple[str, ...] = ("*",)
    all_or_nothing: bool = False

    def takes_test(self, nodeid: str) -> bool:
        return any(fnmatch.fnmatchcase(nodeid, p) for p in self.tests)

    def takes_probe(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.probes)


@dataclass(frozen=True)
class DelegationRule:
    """While code of a ``guard`` file runs, the functions of the ``forbid`` modules raise."""

    guard: tuple[str, ...]
    forbid: tuple[str, ...]
    message: str | None = None

    def as_dict(self) -> dict:
        return {"guard": list(self.guard), "forbid": list(self.forbid), "message": self.message}


@dataclass(frozen=True)
class ExercisePolicy:
    """Points, groups, tolerances and delegation rules of one exercise."""

    exercise: str
    points: float
    groups: tuple[Group, ...]
    rtol: float
    atol: float
    delegation: tuple[DelegationRule, ...] = ()

    def group_of_test(self, nodeid: str) -> Group | None:
        return next((g for g in self.groups if g.takes_test(nodeid)), None)

    def group_of_probe(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.takes_probe(name)), None)


@dataclass
class Policy:
    """The whole ``grading.toml``."""

    points: float = 10.0
    test_timeout: float = 60.0
    wall_limit: float = 300.0
    cpu_limit: int = 600
    memory_mb: int = 4096
    rtol: float = 1e-7
    atol: float = 1e-12
    delegation: str = "zero"
    gamed: str = "zero"
    groups: tuple[Group, ...] = (Group("all", 1.0),)
    exercises: dict[str, dict] = field(default_factory=dict)
    source: str = "(defaults)"

    def exercise(self, ex_id: str) -> ExercisePolicy:
        """The policy of ``ex_id`` (defaults filled in)."""
        table = self.exercises.get(ex_id, {})
        return ExercisePolicy(
            exercise=ex_id,
            points=table.get("points", self.points),
            groups=table.get("groups", self.groups),
            rtol=table.get("rtol", self.rtol),
            atol=table.get("atol", self.atol),
            delegation=table.get("delegation", ()),
        )


def _where(source: str, table: str, key: str) -> str:
    return f"{source}: [{table}] {key}" if table else f"{source}: {key}"


def _number(value, source, table, key, minimum=0.0, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise PolicyError(f"{_where(source, table, key)}: expected {kind} >= {minimum:g}, got {value!r}")
    if integer and not isinstance(value, int):
        raise PolicyError(f"{_where(source, table, key)}: expected an integer, got {value!r}")
    return value


def _strings(value, source, table, key) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{_where(source, table, key)}: expected a non-empty list of strings, got {value!r}")
    return tuple(value)


def _unknown(table_value: dict, allowed: set, source: str, table: str) -> None:
    extra = sorted(set(table_value) - allowed)
    if extra:
        raise PolicyError(
            f"{_where(source, table, extra[0])}: unknown key (allowed: {', '.join(sorted(allowed))})"
        )


def _groups(value, source, table) -> tuple[Group, ...]:
    if not isinstance(value, dict) or not value:
        raise PolicyError(f"{_where(source, table, 'groups')}: expected tables [{table + '.' if table else ''}groups.<name>]")
    groups = []
    for name, spec in value.items():
        where = f"{table + '.' if table else ''}groups.{name}"
        if not isinstance(spec, dict):
            raise PolicyError(f"{source}: [{where}] expected a table with points, tests, probes, all_or_nothing")
        _unknown(spec, {"points", "tests", "probes", "all_or_nothing"}, source, where)
        if "points" not in spec:
            raise PolicyError(f"{_where(source, where, 'points')}: missing")
        aon = spec.get("all_or_nothing", False)
        if not isinstance(aon, bool):
            raise PolicyError(f"{_where(source, where, 'all_or_nothing')}: expected true or false, got {aon!r}")
        groups.append(
            Group(
                name=name,
                points=float(_number(spec["points"], source, where, "points")),
                tests=_strings(spec["tests"], source, where, "tests") if "tests" in spec else (),
                probes=_strings(spec["probes"], source, where, "probes") if "probes" in spec else (),
                all_or_nothing=aon,
            )
        )
    if sum(g.points for g in groups) <= 0:
        raise PolicyError(f"{_where(source, table, 'groups')}: the groups' points add up to 0")
    return tuple(groups)


def _delegation(value, source, table) -> tuple[DelegationRule, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise PolicyError(f"{_where(source, table, 'delegation')}: expected [[{table}.delegation]] tables")
    rules = []
    for index, spec in enumerate(value):
        where = f"{table}.delegation #{index + 1}"
        _unknown(spec, {"guard", "forbid", "message"}, source, where)
        for key in ("guard", "forbid"):
            if key not in spec:
                raise PolicyError(f"{_where(source, where, key)}: missing")
        message = spec.get("message")
        if message is not None and not isinstance(message, str):
            raise PolicyError(f"{_where(source, where, 'message')}: expected a string, got {message!r}")
        rules.append(
            DelegationRule(_strings(spec["guard"], source, where, "guard"), _strings(spec["forbid"], source, where, "forbid"), message)
        )
    return tuple(rules)


def parse_policy(data: dict, source: str = POLICY_FILE, known: list[str] | None = None, root: Path | None = None) -> Policy:
    """Validate the content of a ``grading.toml`` (a dict from ``tomllib``).

    Parameters
    ----------
    data : dict
        Parsed TOML.
    source : str
        File name used in error messages.
    known : list of str, optional
        Exercise ids of the solution edition; any other id in ``[exercises.*]`` is an error.
    root : path, optional
        The solution edition: delegation ``guard`` files must exist in it.
    """
    _unknown(data, {"grading", "groups", "exercises"}, source, "")
    policy = Policy(source=source)
    grading = data.get("grading", {})
    if not isinstance(grading, dict):
        raise PolicyError(f"{source}: grading: expected a table [grading]")
    _unknown(grading, {"points", "test_timeout", "wall_limit", "cpu_limit", "memory_mb", "rtol", "atol", "delegation", "gamed"},
             source, "grading")  # fmt: skip
    for key, minimum, integer in (("points", 0, False), ("test_timeout", 0.1, False), ("wall_limit", 1, False),
                                  ("cpu_limit", 1, True), ("memory_mb", 0, True), ("rtol", 0, False), ("atol", 0, False)):  # fmt: skip
        if key in grading:
            setattr(policy, key, _number(grading[key], source, "grading", key, minimum, integer))
    if "delegation" in grading:
        if grading["delegation"] not in ("zero", "fail"):
            raise PolicyError(f"{_where(source, 'grading', 'delegation')}: expected \"zero\" or \"fail\", got {grading['delegation']!r}")
        policy.delegation = grading["delegation"]
    if "gamed" in grading:
        if grading["gamed"] not in ("zero", "fail"):
            raise PolicyError(f"{_where(source, 'grading', 'gamed')}: expected \"zero\" or \"fail\", got {grading['gamed']!r}")
        policy.gamed = grading["gamed"]
    if "groups" in data:
        policy.groups = _groups(data["groups"], source, "")
    exercises = data.get("exercises", {})
    if not isinstance(exercises, dict):
        raise PolicyError(f"{source}: exercises: expected tables [exercises.<id>]")
    for ex_id, spec in exercises.items():
        table = f"exercises.{ex_id}"
        if not _ID_RE.match(ex_id) or (known is not None and ex_id not in known):
            hint = f" (exercises of the solution edition: {', '.join(known)})" if known else ""
            raise PolicyError(f"{source}: [{table}] is not an exercise of the solution edition{hint}")
        if not isinstance(spec, dict):
            raise PolicyError(f"{source}: [{table}] expected a table")
        _unknown(spec, {"points", "rtol", "atol", "groups", "delegation"}, source, table)
        entry: dict = {}
        for key in ("points", "rtol", "atol"):
            if key in spec:
                entry[key] = _number(spec[key], source, table, key)
        if "groups" in spec:
            entry["groups"] = _groups(spec["groups"], source, table)
        if "delegation" in spec:
            entry["delegation"] = _delegation(spec["delegation"], source, table)
            for rule in entry["delegation"]:
                for guard in rule.guard:
                    if root is not None and not (Path(root) / guard).is_file():
                        raise PolicyError(f"{_where(source, table + '.delegation', 'guard')}: {guard} is not a file of {root}")
        policy.exercises[ex_id] = entry
    return policy


def load_policy(root: Path, known: list[str] | None = None, path: Path | None = None) -> Policy:
    """``grading.toml`` of the solution edition ``root`` (or ``path``); defaults when the file does not exist."""
    path = Path(path) if path is not None else Path(root) / POLICY_FILE
    if not path.exists():
        return Policy()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise PolicyError(f"{path}: not a UTF-8 text file") from exc
    return parse_policy(data, source=str(path), known=known, root=root)
