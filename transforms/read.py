"""Kept for callers of the single-module reader: everything now lives in
``transforms.readers`` (one module per format behind one dispatcher)."""

from transforms.readers import *  # noqa: F401,F403
from transforms.readers import __all__  # noqa: F401
