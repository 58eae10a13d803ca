"""Shared pytest set-up.

Exercise markers: a test that checks exercise G03 is written ``@pytest.mark.exercise("G03")``;
the teaching plugin (``minicnn.teaching.pytest_plugin``) also gives it the plain marker ``G03`` so that
a student runs ``pytest -m G03``, reports an exercise that is not implemented yet in one line, and
writes a per-test JSON report with ``--teaching-report PATH``.
"""

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["minicnn.teaching.pytest_plugin"]

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=40
)
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=25)
settings.load_profile("ci" if os.environ.get("CI") else "default")
