"""Reten's benchmark harness (docs: bench/README.md). Run with `python -m bench all`."""
