"""Radio images as xarray DataArrays in dask chunks, their sky coordinates computed lazily per chunk.

A VLASS Quick Look tile or a RACS image is 4-D (Stokes, frequency, y, x); FIRST cutouts are 2-D. Every
detector works on the celestial plane: ``open_image`` takes the first plane of the leading axes, reads it
memory-mapped, and chunks it, so that a full 3722² tile (or a mosaic of several) is processed chunk by
chunk in bounded memory. ``image.attrs``: ``wcs`` (the celestial WCS), ``unit``, ``beam_fwhm_px``, ``path``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..exceptions import InvalidArgument

DEFAULT_CHUNK = 512


def _plane(data: np.ndarray) -> np.ndarray:
    while data.ndim > 2:
        data = data[0]
    return data


class _Mapped:
    """A memory-mapped plane that dask reads a chunk at a time: dask's ``from_array`` copies whatever has a
    ``copy`` method (a memory map into memory, the whole image), so this exposes only what it needs."""

    def __init__(self, plane: np.ndarray):
        self._plane = plane
        self.shape, self.dtype, self.ndim = plane.shape, plane.dtype, plane.ndim

    def __getitem__(self, key):
        return np.asarray(self._plane[key])


def beam_px(header, wcs) -> float:
    """The beam's FWHM in pixels (the geometric mean of its axes), 2.5 pixels when the header has none."""
    scale = float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))))  # deg per pixel
    if "BMAJ" in header and "BMIN" in header and scale > 0:
        return float(np.sqrt(header["BMAJ"] * header["BMIN"])) / scale
    return 2.5


def read_plane(path: str | Path):
    """``(plane, wcs, header)`` of an image file: its celestial plane as a view of the file's memory map
    (nothing read yet), its celestial WCS and its header."""
    from astropy.io import fits
    from astropy.wcs import WCS, FITSFixedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            hdul = fits.open(path, memmap=True)
        except (OSError, ValueError) as error:
            raise InvalidArgument(f"{Path(path).name}: not a FITS image ({error})") from None
        with hdul:
            hdu = next((h for h in hdul if getattr(h, "data", None) is not None and h.data.ndim >= 2), None)
            if hdu is None:
                raise InvalidArgument(f"{Path(path).name}: no image HDU")
            header = hdu.header
            wcs = WCS(header).celestial
            plane = _plane(hdu.data)
    if wcs.naxis != 2:
        raise InvalidArgument(f"{Path(path).name}: the image has no celestial axes")
    return plane, wcs, header


def open_image(path: str | Path, *, chunks: int = DEFAULT_CHUNK):
    """The image's celestial plane as a dask-backed ``xarray.DataArray`` (dims ``y``, ``x``) with ``lon`` and
    ``lat`` coordinates (degrees in the image's own frame: RA/Dec in ICRS, FK5 or FK4, or Galactic l/b)
    computed lazily per chunk; :func:`sky` gives positions as a SkyCoord."""
    import dask.array as da
    import xarray as xr
    from dask.base import tokenize

    plane, wcs, header = read_plane(path)
    stat = Path(path).stat()
    name = "image-" + tokenize(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size, plane.shape, chunks)
    pixels = da.from_array(_Mapped(plane), chunks=(chunks, chunks), name=name).astype(np.float32)

    def world(block_info=None, *, axis: int):
        (y0, y1), (x0, x1) = block_info[None]["array-location"]
        yy, xx = np.mgrid[y0:y1, x0:x1]
        return wcs.pixel_to_world_values(xx, yy)[axis]

    lon = da.map_blocks(world, axis=0, chunks=pixels.chunks, dtype=float)
    lat = da.map_blocks(world, axis=1, chunks=pixels.chunks, dtype=float)
    return xr.DataArray(pixels, dims=("y", "x"), name=Path(path).name,
                        coords={"lon": (("y", "x"), lon), "lat": (("y", "x"), lat)},
                        attrs={"wcs": wcs, "unit": header.get("BUNIT", ""), "beam_fwhm_px": beam_px(header, wcs),
                               "path": str(path)})


def sky(image, x, y):
    """Pixel positions of ``image`` as an ICRS SkyCoord, whatever the image's frame."""
    return image.attrs["wcs"].pixel_to_world(np.asarray(x, dtype=float), np.asarray(y, dtype=float)).icrs
