"""Hidden tests: ``grading_rng`` draws their inputs from the grading seed.

While grading, ``MINICNN_GRADING_SEED`` holds the seed of the run (``grade --seed``, or drawn at grading time and
recorded in ``grade.json``): the inputs then differ from one grading session to the next and cannot be read from
anything a student has. Without it (CI on the solution edition) the seed is fixed, so failures reproduce.
"""

import os
import zlib

import numpy as np
import pytest


@pytest.fixture
def grading_rng(request):
    """A ``numpy.random.Generator`` seeded by the grading seed and the test's node id."""
    seed = int(os.environ.get("MINICNN_GRADING_SEED", "20261207"))
    return np.random.default_rng([seed, zlib.crc32(request.node.nodeid.encode("utf-8"))])
