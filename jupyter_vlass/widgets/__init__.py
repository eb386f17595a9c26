"""Notebook widgets."""

from .browser import DatasetBrowser

__all__ = ["DatasetBrowser"]
