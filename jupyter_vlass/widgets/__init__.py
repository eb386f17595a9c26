"""Notebook widgets."""

from .browser import DatasetBrowser
from .jobs import JobLauncher

__all__ = ["DatasetBrowser", "JobLauncher"]
