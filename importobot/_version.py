"""The version: the single source hatchling writes into the package metadata."""

__version__ = "0.2.0"
