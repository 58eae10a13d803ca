"""Teaching tools: the student edition, per-exercise self-checks and instructor grading.

- :mod:`minicnn.teaching.regions`: find and validate solution regions in modules and notebooks;
- :mod:`minicnn.teaching.release`: write the student edition and prove that nothing leaked;
- :mod:`minicnn.teaching.grade`: grade a student's edition (tests + probes against the reference);
- :mod:`minicnn.teaching.pytest_plugin`: ``pytest -m G03``, one-line "not implemented" reports;
- command line: ``python -m minicnn.teaching {check,release,grade}`` (see ``docs/teaching.md``).
"""
