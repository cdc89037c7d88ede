"""Suites: the case model, loaders and validation."""

from nullband.suite.case import Case
from nullband.suite.loader import iter_cases, load_cases

__all__ = ["Case", "iter_cases", "load_cases"]
