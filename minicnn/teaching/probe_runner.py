"""Run the hidden probes of one exercise and save their outputs (executed as a script by the grader).

Usage: ``python probe_runner.py PROBES_FILE EXERCISE OUT_PREFIX SEED [NAME,NAME...]`` (only those probes)

With ``MINICNN_GRADING_IMPORTS=module,module`` it first runs the import check of
:mod:`minicnn.teaching.import_check` on those modules (its JSON lines on stdout, the log), so a module
that hangs or crashes at import is named before any probe runs, without a process of its own.

The probes file is loaded by path (the instructor's ``tests/hidden/probes.py``); ``minicnn``/``camelyon``
are imported from ``PYTHONPATH`` (the tree being graded, also the working folder). Each probe is called
with ``numpy.random.default_rng([SEED, crc32(probe name)])`` and returns a dict of arrays. While an
exercise is graded the delegation rules of ``grading.toml`` apply (environment variable
``MINICNN_GRADING_DELEGATION``, see :mod:`minicnn.teaching.delegation`). Writes ``OUT_PREFIX.npz`` (keys
``<probe>/<name>``) and ``OUT_PREFIX.json`` (per probe: ``ok``, ``not implemented: ...``,
``delegation: ...`` or ``error: ...``), after each probe, so a probe that hangs leaves the others' results.
"""

# teaching: no-regions

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
import zlib


def probe_seed(name: str, seed: int = 0) -> list[int]:
    """Seed sequence of a probe: the grading seed and the CRC32 of its name."""
    return [int(seed), zlib.crc32(name.encode("utf-8"))]


def _write(prefix: str, arrays: dict, status: dict) -> None:
    """Write the outputs so far (temporary name, then rename).

    Not ``minicnn.io``: importing anything from ``minicnn`` here would import the graded tree's package
    (the student's modules) before the first probe, and a module that raises at import would then cost
    every probe's report instead of failing the probes that use it.
    """
    import numpy as np

    np.savez(prefix + ".tmp.npz", **arrays)
    os.replace(prefix + ".tmp.npz", prefix + ".npz")
    with open(prefix + ".json.tmp", "w", encoding="utf-8") as fh:
        json.dump(status, fh, indent=1)
    os.replace(prefix + ".json.tmp", prefix + ".json")


def main(argv: list[str]) -> int:
    import faulthandler
    import signal

    import numpy as np

    faulthandler.enable(all_threads=True)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    probes_file, exercise, prefix, seed = argv[:4]
    wanted = set(argv[4].split(",")) if len(argv) > 4 else None
    timeout = float(os.environ.get("MINICNN_GRADING_TEST_TIMEOUT", "0") or 0)
    if os.environ.get("MINICNN_GRADING_NETWORK") == "socket guard":
        from minicnn.teaching.grading_plugin import _block_network

        _block_network()
    imports = os.environ.get("MINICNN_GRADING_IMPORTS", "")
    if imports:  # the import check first, in this process (one interpreter start less per exercise)
        check = importlib.util.spec_from_file_location("_teaching_import_check", os.path.join(os.path.dirname(__file__), "import_check.py"))
        import_check = importlib.util.module_from_spec(check)
        check.loader.exec_module(import_check)
        import_check.main([os.environ.get("MINICNN_GRADING_IMPORT_TIMEOUT", "30"), *imports.split(",")])
        faulthandler.enable(all_threads=True)
    spec = importlib.util.spec_from_file_location("_teaching_probes", probes_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    delegation = os.environ.get("MINICNN_GRADING_DELEGATION")
    if delegation:
        from minicnn.teaching.delegation import install_rules

        rules = json.loads(delegation)
        install_rules(rules["exercise"], rules["rules"])
    from minicnn.teaching.delegation import DelegationError

    probes = [p for p in module.PROBES.get(exercise, []) if wanted is None or p.__name__ in wanted]
    arrays: dict[str, np.ndarray] = {}
    status: dict[str, str] = {name: "not run (an earlier probe hung or crashed)" for name in (p.__name__ for p in probes)}
    for probe in probes:
        name = probe.__name__
        status[name] = "running"
        _write(prefix, arrays, status)
        if timeout > 0:  # a probe that hangs: dump the stacks and end; the grader runs the others again
            faulthandler.dump_traceback_later(timeout, exit=True)
        try:
            result = probe(np.random.default_rng(probe_seed(name, int(seed))))
            for key, value in result.items():
                arrays[f"{name}/{key}"] = np.asarray(value)
            status[name] = "ok"
        except NotImplementedError as exc:
            status[name] = f"not implemented: {str(exc)[:200]}"
        except DelegationError as exc:
            status[name] = f"delegation: {exc}"
        except BaseException as exc:  # noqa: BLE001 - any failure of student code is a result
            last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            where = f" ({os.path.basename(last.filename)}:{last.lineno})" if last else ""
            status[name] = f"error: {type(exc).__name__}: {str(exc)[:300]}{where}"
        finally:
            faulthandler.cancel_dump_traceback_later()
    _write(prefix, arrays, status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
