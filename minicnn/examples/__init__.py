"""Runnable examples: ``python -m minicnn.examples.<name> --help``.

- ``digits``: train a small CNN on scikit-learn's bundled handwritten digits (offline, under a minute).
"""
