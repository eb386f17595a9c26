"""A mosaic of several images on one grid, written to disk as it is made, so the detectors read it chunk by
chunk like a single tile (:func:`~.images.open_image`).

The grid is reproject's optimal celestial WCS over the inputs (``frame``: ICRS unless asked, the finest
input pixel scale). The output is made a block of ``block``² pixels at a time: each input is read only
where it overlaps the block, interpolated (bilinear) onto it, and the inputs averaged where they overlap,
straight into the memory-mapped output FITS. Memory is a few blocks, whatever the number or size of the
inputs. Pixels no input covers are NaN, which the detectors skip. The beam is the largest of the inputs'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import InvalidArgument
from .images import beam_px, open_image, read_plane

BLOCK = 256


def _blank_fits(target: Path, header, shape) -> None:
    """An all-zero float32 image of ``shape`` with ``header`` at ``target``, without holding it in memory."""
    from astropy.io import fits

    full = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2), ("NAXIS1", shape[1]), ("NAXIS2", shape[0])])
    full.extend(header, unique=True)
    raw = full.tostring().encode("ascii")
    size = len(raw) + -(-shape[0] * shape[1] * 4 // 2880) * 2880
    with open(target, "wb") as fh:
        fh.write(raw)
        fh.truncate(size)


def _coadd_block(inputs, wcs, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """The mean of the inputs reprojected (bilinear) onto rows ``y0:y1``, columns ``x0:x1`` of ``wcs``'s grid;
    NaN where none covers it. Each input is read only where it overlaps the block."""
    from scipy.ndimage import map_coordinates

    from astropy.coordinates import SkyCoord
    from astropy.wcs.utils import wcs_to_celestial_frame

    yy, xx = np.mgrid[y0:y1, x0:x1]
    lon, lat = wcs.pixel_to_world_values(xx.ravel(), yy.ravel())
    del xx
    frame = wcs_to_celestial_frame(wcs)
    total = np.zeros(yy.size, np.float32)
    count = np.zeros(yy.size, np.uint8)
    for plane, own, _ in inputs:
        if wcs_to_celestial_frame(own) == frame:
            px, py = own.world_to_pixel_values(lon, lat)
        else:  # another frame (FK4, Galactic): through a coordinate transformation
            px, py = own.world_to_pixel(SkyCoord(lon, lat, unit="deg", frame=frame))
        inside = np.isfinite(px) & np.isfinite(py) & (px >= 0) & (py >= 0) & \
            (px <= plane.shape[1] - 1) & (py <= plane.shape[0] - 1)
        if not inside.any():
            continue
        ya, yb = int(np.floor(py[inside].min())), int(np.ceil(py[inside].max())) + 1
        xa, xb = int(np.floor(px[inside].min())), int(np.ceil(px[inside].max())) + 1
        window = np.asarray(plane[ya:yb, xa:xb], dtype=np.float32)
        values = map_coordinates(window, [py[inside] - ya, px[inside] - xa], order=1, mode="nearest")
        good = np.isfinite(values)
        where = np.flatnonzero(inside)[good]
        total[where] += values[good]
        count[where] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan).astype(np.float32).reshape(yy.shape)


def mosaic(paths, target, *, frame: str = "icrs", block: int = BLOCK):
    """Co-add the images at ``paths`` into the FITS file ``target`` (see the module) and open it."""
    import astropy.units as u
    from astropy.io import fits
    from reproject.mosaicking import find_optimal_celestial_wcs

    if len(paths) < 1:
        raise InvalidArgument("mosaic: no images")
    inputs = [read_plane(p) for p in paths]
    scales = [float(np.sqrt(abs(np.linalg.det(w.pixel_scale_matrix)))) for _, w, _ in inputs]
    wcs, shape = find_optimal_celestial_wcs([(p, w) for p, w, _ in inputs], frame=frame, resolution=min(scales) * u.deg)
    beam = max(beam_px(h, w) * scale for (_, w, h), scale in zip(inputs, scales))
    header = wcs.to_header()
    header.update({"BUNIT": inputs[0][2].get("BUNIT", ""), "BMAJ": beam, "BMIN": beam, "BPA": 0.0})
    header["HISTORY"] = "jupyter_vlass.models.mosaic of " + ", ".join(Path(p).name for p in paths)
    target = Path(target)
    _blank_fits(target, header, shape)
    with fits.open(target, mode="update", memmap=True) as out:
        for y0 in range(0, shape[0], block):
            for x0 in range(0, shape[1], block):
                y1, x1 = min(shape[0], y0 + block), min(shape[1], x0 + block)
                out[0].data[y0:y1, x0:x1] = _coadd_block(inputs, wcs, y0, y1, x0, x1)
        out.flush()
    return open_image(target)
