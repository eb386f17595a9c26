"""``jupyter-vlass`` (also ``jupyter vlass``), the command line: it sits on top of the domain and nothing
imports it.

One module per command family on a thin :mod:`.main`: :mod:`.datasets` (sources, datasets, demo data),
:mod:`.admin` (allocations, approvals, the database schema), :mod:`.jobs` (analysis jobs and the result
cache), :mod:`.capsules` (publish, verify, replay, fork, diff, analyses, keys) and :mod:`.review` (review
and audit). Each command imports the domain modules it needs when it runs (deliberately: ``--help`` and
argument errors answer without loading astropy, SQLAlchemy or torch).
"""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
