"""Golden values: what the reference computes on fixed inputs, stored as data for the student edition.

The student edition ships no reference implementation (those live in ``tests/hidden/``). Where a visible
test would compare with one, it compares with **golden values** instead: the release
(``python -m minicnn.teaching release``) runs every case below with the solution edition's code and writes
``tests/golden/<exercise>.npz`` into the edition (``np.savez``, loaded with ``allow_pickle=False``):
the inputs under ``<case>/in/<name>`` and the outputs under ``<case>/out/<i>``.
``tests/test_golden.py`` calls the student's function on the stored inputs and compares.

A case is only inputs and a call: no formula. The solution edition has no golden files (nothing to
compare with but itself), so there the tests skip; grading uses the hidden references.
"""

# teaching: no-regions

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN_DIR = "tests/golden"


def _notebook(root: Path, exercise: str, name: str):
    """The function ``name`` of the exercise's notebook under ``root`` (its imports and definitions only)."""
    from minicnn.teaching.notebooks import find_notebook, notebook_function

    return notebook_function(find_notebook(Path(root) / "generic_exercises", exercise), name, {})


def _conv_forward(root, x, w, b, stride, padding):
    from minicnn.functional.conv_naive import conv2d_forward_naive

    return conv2d_forward_naive(x, w, b, stride=int(stride), padding=int(padding))[0]


def _conv_backward(root, x, w, b, stride, padding, dout):
    from minicnn.functional.conv_naive import conv2d_backward_naive, conv2d_forward_naive

    _, cache = conv2d_forward_naive(x, w, b, stride=int(stride), padding=int(padding))
    return conv2d_backward_naive(dout, cache)


def _pool(kind):
    def run(root, x, kernel_size, stride, dout):
        from minicnn.functional import pooling_naive

        forward = getattr(pooling_naive, f"{kind}_pool2d_forward_naive")
        backward = getattr(pooling_naive, f"{kind}_pool2d_backward_naive")
        out, cache = forward(x, kernel_size=int(kernel_size), stride=int(stride))
        return out, backward(dout, cache)

    return run


def _im2col(root, x, kh, kw, stride, padding):
    return _notebook(root, "G03", "im2col_numpy")(x, int(kh), int(kw), int(stride), int(padding))


def _compose_he(root, conc_h, conc_e, stains, io):
    return _notebook(root, "G07", "compose_he")(conc_h, conc_e, stains, io=float(io))


def _impurities(root, counts):
    from minicnn.tree.criteria import entropy, gini

    return np.array([gini(c) for c in counts]), np.array([entropy(c) for c in counts])


def _bias_variance(root, predictions, truth):
    return np.asarray(_notebook(root, "G09", "bias_variance")(predictions, truth), dtype=np.float64)


def _auc_by_pairs(root, y, s):
    return np.float64(_notebook(root, "G10", "auc_by_pairs")(y, s))


def _kappas(root, confusion):
    from minicnn.metrics.agreement import kappa_from_confusion

    return np.array([kappa_from_confusion(confusion, weights=w) for w in (None, "linear", "quadratic")])


def _confusion(root, true_idx, pred_idx, w, n_classes):
    from minicnn.metrics.classification import confusion_counts

    return confusion_counts(true_idx, pred_idx, w, int(n_classes))


def _binary_counts(root, positive, y_score, w):
    from minicnn.metrics.ranking import binary_counts

    return binary_counts(positive, y_score, w)


@dataclass(frozen=True)
class Case:
    """One golden case: the exercise it checks, its inputs (from a seeded generator) and the call."""

    exercise: str
    inputs: Callable[[np.random.Generator], dict]
    call: Callable
    #: uint8 outputs of rounded floats may differ by one where a value is at .5
    integer_slack: int = 0


def _conv_inputs(rng):
    return {"x": rng.standard_normal((2, 3, 7, 6)), "w": rng.standard_normal((4, 3, 3, 2)),
            "b": rng.standard_normal(4), "stride": 2, "padding": 1}  # fmt: skip


def _conv_backward_inputs(rng):
    inputs = _conv_inputs(rng)
    inputs["dout"] = rng.standard_normal((2, 4, 4, 4))
    return inputs


def _pool_inputs(kernel, stride, out_hw):
    def make(rng):
        return {"x": rng.standard_normal((2, 3, 7, 7)), "kernel_size": kernel, "stride": stride,
                "dout": rng.standard_normal((2, 3, *out_hw))}  # fmt: skip

    return make


def _he_inputs(rng):
    return {"conc_h": rng.uniform(0, 1.5, (5, 7)), "conc_e": rng.uniform(0, 1.0, (5, 7)),
            "stains": np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11]]), "io": 255.0}  # fmt: skip


def _auc_inputs(rng):
    y = rng.integers(0, 2, 60)
    return {"y": y, "s": np.round(y * 0.8 + rng.standard_normal(60), 1)}  # ties on purpose


def _encoded_labels(rng):
    n = 50
    true_idx = rng.integers(-1, 4, n)  # -1: left out
    return {"true_idx": true_idx, "pred_idx": np.where(rng.random(n) < 0.6, true_idx, rng.integers(0, 4, n)),
            "w": rng.uniform(0.5, 2.0, n), "n_classes": 4}  # fmt: skip


def _ranking_inputs(rng):
    score = np.round(rng.standard_normal(40), 1)  # ties on purpose
    return {"positive": score + rng.standard_normal(40) > 0, "y_score": score, "w": rng.uniform(0.5, 2.0, 40)}


CASES: dict[str, Case] = {
    "conv2d_forward_naive": Case("G03", _conv_inputs, _conv_forward),
    "conv2d_backward_naive": Case("G03", _conv_backward_inputs, _conv_backward),
    "im2col_numpy": Case("G03", lambda rng: {"x": rng.standard_normal((2, 3, 7, 6)), "kh": 3, "kw": 2, "stride": 2,
                                             "padding": 1}, _im2col),  # fmt: skip
    "max_pool2d_naive_2x2": Case("G04", _pool_inputs(2, 2, (3, 3)), _pool("max")),
    "max_pool2d_naive_3x3_stride2": Case("G04", _pool_inputs(3, 2, (3, 3)), _pool("max")),
    "avg_pool2d_naive_3x3_stride2": Case("G04", _pool_inputs(3, 2, (3, 3)), _pool("avg")),
    "compose_he": Case("G07", _he_inputs, _compose_he, integer_slack=1),
    "gini_and_entropy": Case("G08", lambda rng: {"counts": np.vstack([rng.integers(1, 9, (6, 3)), [[5, 0, 0]],
                                                                      [[0, 2, 2]]]).astype(np.float64)},
                             _impurities),  # fmt: skip
    "bias_variance": Case("G09", lambda rng: {"predictions": rng.uniform(size=(7, 30)), "truth": rng.uniform(size=30)},
                          _bias_variance),  # fmt: skip
    "auc_by_pairs": Case("G10", _auc_inputs, _auc_by_pairs),
    "kappa_from_confusion": Case("G10", lambda rng: {"confusion": rng.integers(0, 20, (4, 4)).astype(np.float64)},
                                 _kappas),  # fmt: skip
    "confusion_counts": Case("G10", _encoded_labels, _confusion),
    "binary_counts": Case("G10", _ranking_inputs, _binary_counts),
}
#: Seed of every case's inputs (one generator per case, so adding a case changes no other).
SEED = 20261207


def case_inputs(name: str) -> dict:
    """The inputs of case ``name`` (numbers as they are, arrays as float64/int64/bool arrays)."""
    return CASES[name].inputs(np.random.default_rng([SEED, zlib.crc32(name.encode())]))


def as_outputs(value) -> list[np.ndarray]:
    """A function's result as a list of arrays (a tuple gives one array per element)."""
    values = value if isinstance(value, tuple) else (value,)
    return [np.asarray(v) for v in values]


def compute(root: Path = REPO) -> dict[str, dict[str, np.ndarray]]:
    """``{exercise: {key: array}}`` of every case, computed with the code (and notebooks) of ``root``."""
    found: dict[str, dict[str, np.ndarray]] = {}
    for name, case in sorted(CASES.items()):
        inputs = case_inputs(name)
        arrays = found.setdefault(case.exercise, {})
        for key, value in inputs.items():
            arrays[f"{name}/in/{key}"] = np.asarray(value)
        for i, out in enumerate(as_outputs(case.call(root, **inputs))):
            if out.dtype == object:
                raise TypeError(f"golden case {name}: output {i} is not a numeric array")
            arrays[f"{name}/out/{i}"] = out
    return found


def write(root: Path, edition: Path) -> list[Path]:
    """Write ``tests/golden/<exercise>.npz`` of every case into ``edition`` (computed with ``root``'s code)."""
    from minicnn.io import atomic_path

    folder = Path(edition) / GOLDEN_DIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for exercise, arrays in sorted(compute(root).items()):
        path = folder / f"{exercise}.npz"
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
        written.append(path)
    return written


def load(root: Path, name: str) -> tuple[dict, list[np.ndarray]] | None:
    """(inputs, expected outputs) of case ``name`` from ``root``'s golden files, or None when there are none."""
    path = Path(root) / GOLDEN_DIR / f"{CASES[name].exercise}.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        inputs = {k.split("/", 2)[2]: z[k] for k in z.files if k.startswith(f"{name}/in/")}
        outputs = sorted((int(k.split("/", 2)[2]), z[k]) for k in z.files if k.startswith(f"{name}/out/"))
    if not outputs:
        raise KeyError(f"{path}: no golden outputs for case {name} (release again)")
    inputs = {k: (v.item() if v.ndim == 0 else v) for k, v in inputs.items()}
    return inputs, [v for _, v in outputs]
