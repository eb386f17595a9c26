"""The release of this package (read by the build, recorded in every capsule and result-cache key)."""

__version__ = "0.1.0"
