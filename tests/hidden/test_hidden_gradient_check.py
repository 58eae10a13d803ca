"""The G01 activation gradient check keeps its power (instructor only: the wrong gradients below show the right ones).

``tests/test_functional_dense_act.py`` keeps the inputs of its sigmoid/tanh gradient check within
``|x| <= 4`` (deeper in the tails a correct gradient failed the 1e-6 tolerance by roundoff). These tests
make sure that, with exactly those inputs and that tolerance, plausible wrong gradients still fail, down
to one only 0.1 % off. They use reference activations, not the student's code.
"""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strategies import seeds, shapes  # noqa: E402
from test_functional_dense_act import GRADIENT_TOLERANCE, _activation_inputs, _gradient_error  # noqa: E402


def _tanh(x):
    y = np.tanh(x)
    return y, y


def _sigmoid(x):
    y = 1 / (1 + np.exp(-x))
    return y, y


# (reference forward returning (out, cache = out), backward from (dout, cache))
RIGHT = {
    "tanh": (_tanh, lambda dout, y: dout * (1 - y * y)),
    "sigmoid": (_sigmoid, lambda dout, y: dout * y * (1 - y)),
}
WRONG = {
    "tanh: 1 - y": (_tanh, lambda dout, y: dout * (1 - y)),
    "tanh: no dout": (_tanh, lambda dout, y: 1 - y * y),
    "tanh: 0.1 % too large": (_tanh, lambda dout, y: 1.001 * dout * (1 - y * y)),
    "sigmoid: y alone": (_sigmoid, lambda dout, y: dout * y),
    "sigmoid: 0.1 % too large": (_sigmoid, lambda dout, y: 1.001 * dout * y * (1 - y)),
}


CASES = [(name, True) for name in RIGHT] + [(name, False) for name in WRONG]


@pytest.mark.parametrize("name, right", CASES, ids=[name for name, _ in CASES])
@settings(max_examples=25)
@given(shape=shapes(), seed=seeds)
def test_the_check_passes_right_gradients_and_fails_wrong_ones(name, right, shape, seed):
    fwd, bwd = (RIGHT if right else WRONG)[name]
    x, dout = _activation_inputs(shape, seed)
    assert (_gradient_error(fwd, bwd, x, dout) < GRADIENT_TOLERANCE) == right
