"""Run the probes of one exercise and save their outputs (executed as a script by the grader).

Usage: ``python probe_runner.py PROBES_FILE EXERCISE OUT_PREFIX``

The probes file is loaded by path (so the instructor's probes are used whatever the student's tree
holds); ``minicnn``/``camelyon`` are imported from ``PYTHONPATH`` (the tree being graded). Each probe is
called with ``numpy.random.default_rng(seed)``, ``seed`` fixed per probe name, and returns a dict of
arrays. Writes ``OUT_PREFIX.npz`` (keys ``<probe>/<name>``) and ``OUT_PREFIX.json`` (status per probe:
``ok``, ``not implemented: ...`` or ``error: ...``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
import zlib


def probe_seed(name: str) -> int:
    """Fixed seed of a probe (CRC32 of its name), the same in every process."""
    return zlib.crc32(name.encode("utf-8"))


def main(argv: list[str]) -> int:
    import numpy as np

    probes_file, exercise, prefix = argv
    spec = importlib.util.spec_from_file_location("_teaching_probes", probes_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    probes = module.PROBES.get(exercise, [])
    arrays: dict[str, np.ndarray] = {}
    status: dict[str, str] = {}
    for probe in probes:
        name = probe.__name__
        try:
            result = probe(np.random.default_rng(probe_seed(name)))
            for key, value in result.items():
                arrays[f"{name}/{key}"] = np.asarray(value)
            status[name] = "ok"
        except NotImplementedError as exc:
            status[name] = f"not implemented: {str(exc)[:200]}"
        except Exception as exc:  # noqa: BLE001 - any failure of student code is a result
            last = traceback.extract_tb(exc.__traceback__)[-1]
            status[name] = f"error: {type(exc).__name__}: {str(exc)[:200]} ({os.path.basename(last.filename)}:{last.lineno})"
    np.savez(prefix + ".npz", **arrays)
    with open(prefix + ".json", "w", encoding="utf-8") as fh:
        json.dump(status, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
