"""Benchmarks run on the simulated farm only, and never as part of the test suite (opt-in:
``python -m pytest benchmarks``)."""
