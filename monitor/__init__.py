"""monitor: a statement monitor for the public words of named leaders."""

__version__ = "0.1.0"
