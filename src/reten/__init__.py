"""Reten: an open platform for field activities."""

__version__ = "0.1.0"
