"""Probes: the exercises' functions on fixed random inputs, compared by the grader with the reference.

``PROBES`` maps an exercise id to functions ``probe(rng) -> dict of arrays``. The grader calls each
probe with the same seeded ``numpy.random.Generator`` over the student's tree and over the reference
tree and compares the outputs (floats to ``rtol=1e-3``). Probes set every parameter explicitly from
``rng`` so that a different (but valid) initialisation order does not count as a mistake.
"""

PROBES: dict = {}
