"""Delegation check: while an exercise is graded, its code may not call the reference twins.

A naive exercise (``conv2d_forward_naive``, loops) could return the shipped fast kernel's result
(``conv2d_forward_fast``) and pass every check. While the grader runs an exercise, :func:`install`
replaces every function of the forbidden modules (``grading.toml``: ``forbid``) by a wrapper that looks
at the Python call stack: when one of the frames belongs to a *guarded* file of the student (``guard``:
the naive module, the exercise notebook), the wrapper raises :class:`DelegationError`
("G03 must be written with loops, not by calling conv2d_forward_fast"); otherwise (a test using the fast
kernel as an oracle, the layer calling its fast kernel as it should) it calls the original. Frames of the
instructor's tests (``tests/`` of the working folder) stop the search: a function a test hands to the
student's code, which calls the twin as an oracle, is the test's call, not the student's.

The wrappers replace the module attributes and every other binding of the same object in already
imported modules (``from .conv_fast import conv2d_forward_fast`` in a package ``__init__`` or in the
student's module), so the order of imports does not matter.

Limits (said in ``docs/teaching.md``): a reference kept before :func:`install` ran in a closure or a
default argument, a call made from compiled (Numba) code, or a call of a compiled twin through its own
module's attribute (``conv_fast.im2col``: it stays there and in every module with compiled functions of
its own, which may use it as a global) does not go through the wrapper; copying the
twin's source text into the exercise is not a call and is not detected.
"""

# teaching: no-regions

from __future__ import annotations

import importlib
import os
import sys
import types


class DelegationError(AssertionError):
    """An exercise called a function it must write itself."""


def _guarded(filename: str, guard: tuple[str, ...], notebooks: tuple[str, ...]) -> bool:
    if filename.startswith(notebooks) if notebooks else False:
        return True
    return os.path.realpath(filename) in guard if guard else False


def _compiled(obj) -> bool:
    """True for a Numba dispatcher (``@njit`` function)."""
    owner = type(obj).__dict__.get("__module__")
    return isinstance(owner, str) and owner.startswith("numba.")  # not getattr(obj, ...): some objects raise


def _wrap(original, name: str, message: str, guard: tuple[str, ...], notebooks: tuple[str, ...], oracles: tuple = ()):
    def stub(*args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            if oracles and filename.startswith(oracles):
                break  # an instructor's test calls the twin itself (an oracle), even when student code called it
            if _guarded(filename, guard, notebooks):
                raise DelegationError(message.format(name=name))
            frame = frame.f_back
        return original(*args, **kwargs)

    stub.__name__ = getattr(original, "__name__", name)
    stub.__qualname__ = getattr(original, "__qualname__", name)
    stub.__doc__ = getattr(original, "__doc__", None)
    stub.__wrapped__ = original
    stub._minicnn_delegation_stub = True
    return stub


def install_rules(exercise: str, rules: list[dict]) -> list[str]:
    """:func:`install` for each rule ``{"guard": [...], "forbid": [...], "message": ...}`` of an exercise."""
    names = []
    for rule in rules:
        names += install(exercise, rule["guard"], rule["forbid"], rule.get("message"))
    return names


def install(exercise: str, guard: list[str], forbid: list[str], message: str | None = None) -> list[str]:
    """Replace the functions of the ``forbid`` modules by guarded stubs; returns the names replaced.

    Parameters
    ----------
    exercise : str
        Exercise id (used in the default message).
    guard : list of str
        Files of the exercise whose code may not call the twins: absolute ``.py`` paths, or notebook file
        names (``G03_convolution.ipynb``; notebook code runs with ``<name>:cell N`` as its file name).
    forbid : list of str
        Module names (``minicnn.functional.conv_fast``, ``sklearn.metrics``); a module that cannot be
        imported is ignored (a student cannot call it either).
    message : str, optional
        Error text; ``{name}`` is the function called.
    """
    message = message or f"{exercise} must be written by you, not by calling {{name}}"
    py_guard = tuple(sorted(os.path.realpath(g) for g in guard if not g.endswith(".ipynb")))
    # the instructor's tests of the graded tree (the working folder): a call whose nearest caller among the
    # test and guarded frames is a test is an oracle (the G08 test hands the notebook a compiled Gini)
    tests = os.path.join(os.getcwd(), "tests")
    oracles = tuple({os.path.realpath(tests) + os.sep, os.path.abspath(tests) + os.sep}) if os.path.isdir(tests) else ()
    nb_guard = tuple(os.path.basename(g) + ":cell" for g in guard if g.endswith(".ipynb"))
    replaced: dict[int, tuple[object, object]] = {}
    names = []
    for module_name in forbid:
        try:
            module = importlib.import_module(module_name)
        except Exception:  # noqa: BLE001 - a missing or broken optional twin cannot be called either
            continue
        for name, obj in list(vars(module).items()):
            if name.startswith("__") or isinstance(obj, (type, types.ModuleType)) or not callable(obj):
                continue
            if getattr(obj, "_minicnn_delegation_stub", False):
                continue
            owner = getattr(obj, "__module__", None) or ""
            if owner != module_name and not owner.startswith(module_name + "."):
                continue  # helpers the twin imports (numpy, minicnn's checks) stay untouched
            stub = replaced.get(id(obj), (None, None))[1] or _wrap(obj, name, message, py_guard, nb_guard, oracles)
            replaced[id(obj)] = (obj, stub)
            if not _compiled(obj):
                # a Numba function stays in its own module: the module's other compiled functions look it up
                # there as a global when they compile, and a Python wrapper would not type (below, too)
                setattr(module, name, stub)
            names.append(f"{module_name}.{name}")
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        # a module with compiled functions of its own may use a compiled twin as a global: it keeps it
        own = getattr(module, "__name__", None)
        compiled_ok = any(_compiled(v) and getattr(v, "__module__", None) == own for v in list(namespace.values()))
        for key, value in list(namespace.items()):
            hit = replaced.get(id(value))
            if hit is not None and hit[0] is value and not (compiled_ok and _compiled(value)):
                namespace[key] = hit[1]
    return names
