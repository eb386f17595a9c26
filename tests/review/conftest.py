"""The real images the review tests build their consensus results from (the models' fixtures)."""

from tests.models.conftest import full_tile, real  # noqa: F401  (fixtures)
