"""FITS cutouts of a dataset image around a region (2-D, celestial axes only)."""

from __future__ import annotations

import io

import numpy as np
from astropy.io import fits
from astropy.nddata import Cutout2D, NoOverlapError
from astropy.wcs import WCS

from ..exceptions import CorruptData, InvalidArgument
from .region import Region

MAX_CUTOUT_PIXELS = 4096


def cutout_fits(fileobj, region: Region) -> bytes:
    """A FITS file holding the square cutout of side 2 × radius around the region's centre."""
    try:
        with fits.open(fileobj, memmap=False) as hdul:
            hdu = next((h for h in hdul if h.data is not None and h.data.ndim >= 2), None)
            if hdu is None:
                raise CorruptData("the dataset holds no image")
            data = np.squeeze(hdu.data)
            while data.ndim > 2:
                data = data[0]
            wcs = WCS(hdu.header).celestial
            header = hdu.header
    except (OSError, ValueError) as exc:
        raise CorruptData(f"cannot read the dataset as FITS: {exc}") from None
    if wcs.naxis != 2:
        raise CorruptData("the image has no celestial axes (RA/Dec or another sky frame): it has no cutout",
                          reason="no_sky_axes")
    scale = abs(wcs.proj_plane_pixel_scales()[0].to_value("deg"))
    side = int(np.ceil(2 * region.radius_deg / scale))
    if side > MAX_CUTOUT_PIXELS:
        raise InvalidArgument(f"cutout would be {side} pixels wide (max {MAX_CUTOUT_PIXELS}); use a smaller radius")
    x, y = wcs.world_to_pixel(region.center)
    if not (np.isfinite(x) and np.isfinite(y)):
        raise InvalidArgument("the region does not overlap this image", reason="no_overlap")
    try:
        cut = Cutout2D(data, region.center, (max(side, 1), max(side, 1)), wcs=wcs, mode="partial", fill_value=np.nan)
    except (NoOverlapError, ValueError):
        raise InvalidArgument("the region does not overlap this image", reason="no_overlap") from None
    out_header = cut.wcs.to_header()
    for key in ("BUNIT", "BMAJ", "BMIN", "BPA", "TELESCOP", "DATE-OBS", "OBJECT"):
        if key in header:
            out_header[key] = header[key]
    out = io.BytesIO()
    fits.PrimaryHDU(cut.data.astype(np.float32), header=out_header).writeto(out)
    return out.getvalue()
