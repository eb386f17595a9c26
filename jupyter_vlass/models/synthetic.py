"""Tiles with a known truth, for scoring the detectors and training the CNN.

SYNTHETIC PIXELS: real source positions and integrated fluxes from the ASKAP RACS component catalogue
(askap-flint's test data; or its NVSS extract, a field of another survey) rendered as point sources in a VLASS-like 2.5" beam with 120 µJy/beam noise
(:func:`jupyter_vlass.sample_data.render_sources`), plus calibration artefacts injected at known
positions around the brightest sources:

* a **ring** of sidelobes at ``ring_beams`` beams from the source, ``m`` lobes around it, each lobe
  ``amplitude`` times the source's peak (the pattern an antenna-based phase error leaves);
* a **stripe** of sidelobes along a line through the source, alternating in sign every ``stripe_beams``
  beams (a baseline-based error).

The truth is a table of ``source`` rows (every rendered component ``min_snr`` times the noise or more)
and ``artefact`` rows (each positive lobe's peak), plus per-pixel masks (0 background, 1 source, 2 artefact)
for training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sample_data import BEAM_FWHM_DEG, NOISE_JY, TILE_SCALE_DEG, render_sources

SIGMA_PX = BEAM_FWHM_DEG / TILE_SCALE_DEG / 2.3548
COMMENT = ("SYNTHETIC PIXELS: real RACS component positions and fluxes (askap-flint test data) in a 2.5 arcsec "
           "beam, 120 uJy/beam noise, with rings and stripes injected at known positions (jupyter_vlass.models.synthetic)")


@dataclass(frozen=True)
class Artefacts:
    bright: int = 3          # the brightest sources that get an artefact
    amplitude: float = 0.03  # each lobe's peak over the source's
    ring_beams: float = 8.0
    lobes: int = 6
    stripe_beams: float = 3.0
    stripe_lobes: int = 4    # on each side of the source


def tile_header(ra: float, dec: float, pixels: int, *, frame: str = "fk5"):
    """A VLASS-like 2-D header (SIN projection, 1"/pixel) centred on ``ra``, ``dec`` (or l, b for galactic)."""
    from astropy.io import fits

    header = fits.Header()
    names = {"galactic": ("GLON-SIN", "GLAT-SIN")}.get(frame, ("RA---SIN", "DEC--SIN"))
    header.update({"NAXIS": 2, "NAXIS1": pixels, "NAXIS2": pixels, "BUNIT": "Jy/beam", "BMAJ": BEAM_FWHM_DEG,
                   "BMIN": BEAM_FWHM_DEG, "BPA": 0.0, "CTYPE1": names[0], "CRVAL1": ra, "CDELT1": -TILE_SCALE_DEG,
                   "CRPIX1": pixels / 2 + 0.5, "CUNIT1": "deg", "CTYPE2": names[1], "CRVAL2": dec,
                   "CDELT2": TILE_SCALE_DEG, "CRPIX2": pixels / 2 + 0.5, "CUNIT2": "deg"})
    if frame != "galactic":
        header.update({"RADESYS": frame.upper(), "EQUINOX": 1950.0 if frame == "fk4" else 2000.0})
    header["COMMENT"] = COMMENT
    return header


def read_components(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ICRS RA, Dec (degrees) and integrated flux (Jy) of a real component catalogue: the RACS components
    (``ra``, ``dec``, ``int_flux``) or a VizieR NVSS extract (``_RAJ2000``, ``_DEJ2000``, ``S1.4`` in mJy)."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        cat = hdul[1].data
        names = set(cat.columns.names)
        if {"ra", "dec", "int_flux"} <= names:
            return tuple(np.asarray(cat[k], dtype=float) for k in ("ra", "dec", "int_flux"))
        if {"_RAJ2000", "_DEJ2000", "S1.4"} <= names:
            return (np.asarray(cat["_RAJ2000"], dtype=float), np.asarray(cat["_DEJ2000"], dtype=float),
                    np.asarray(cat["S1.4"], dtype=float) / 1000.0)
    raise ValueError(f"{path}: neither RACS components nor an NVSS extract")


def make_tile(components, *, ra: float, dec: float, pixels: int, seed: int, frame: str = "fk5",
              artefacts: Artefacts = Artefacts(), min_snr: float = 5.0):
    """``(image, header, truth, mask)`` for a tile centred on ``ra``, ``dec`` (degrees, in ``frame``)."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table
    from astropy.wcs import WCS

    c_ra, c_dec, flux = read_components(components)
    header = tile_header(ra, dec, pixels, frame=frame)
    wcs = WCS(header)
    x, y = wcs.world_to_pixel(SkyCoord(c_ra * u.deg, c_dec * u.deg, frame="icrs"))
    inside = (x >= 0) & (x < pixels) & (y >= 0) & (y < pixels) & np.isfinite(flux) & (flux > 0)
    x, y, flux = x[inside], y[inside], flux[inside]
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, NOISE_JY, (pixels, pixels)).astype(np.float32)
    render_sources(image, x, y, flux, SIGMA_PX)
    mask = np.zeros((pixels, pixels), np.uint8)
    rows = []
    for px, py, f in zip(x, y, flux):
        if f >= min_snr * NOISE_JY:
            rows.append(("source", px, py, f))
            _disc(mask, px, py, 1.5 * SIGMA_PX, 1)
    for source in np.argsort(-flux)[:artefacts.bright]:
        if flux[source] * artefacts.amplitude >= min_snr * NOISE_JY:  # only lobes that could be seen
            rows += _inject(image, mask, x[source], y[source], flux[source], artefacts, rng)
    positions = wcs.pixel_to_world([r[1] for r in rows], [r[2] for r in rows]).icrs if rows else None
    truth = Table(rows=[(k, p.ra.deg, p.dec.deg, px, py, f) for (k, px, py, f), p in zip(rows, positions or [])]
                  or None, names=("kind", "ra", "dec", "x", "y", "flux"), dtype=("U8", float, float, float, float, float))
    return image, header, truth, mask


def _disc(mask: np.ndarray, x: float, y: float, radius: float, value: int) -> None:
    r = int(np.ceil(radius))
    iy, ix = int(round(y)), int(round(x))
    y0, y1, x0, x1 = max(0, iy - r), min(mask.shape[0], iy + r + 1), max(0, ix - r), min(mask.shape[1], ix + r + 1)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mask[y0:y1, x0:x1][(yy - y) ** 2 + (xx - x) ** 2 <= radius ** 2] = value


def _inject(image, mask, x: float, y: float, flux: float, spec: Artefacts, rng) -> list[tuple]:
    """A ring and a stripe around the source at (x, y); the truth rows of their positive lobes."""
    beam = BEAM_FWHM_DEG / TILE_SCALE_DEG
    lobe = spec.amplitude * flux
    rows, lobes = [], []
    phase = rng.uniform(0, 2 * np.pi)
    radius = spec.ring_beams * beam
    for k in range(spec.lobes):  # the ring: m positive lobes, negative ones between them
        for sign, angle in ((1, phase + 2 * np.pi * k / spec.lobes), (-1, phase + 2 * np.pi * (k + 0.5) / spec.lobes)):
            lobes.append((x + radius * np.cos(angle), y + radius * np.sin(angle), sign * lobe))
    angle = rng.uniform(0, np.pi)
    for k in range(1, spec.stripe_lobes + 1):  # the stripe: alternating lobes on both sides
        for side in (1, -1):
            d = side * k * spec.stripe_beams * beam
            lobes.append((x + d * np.cos(angle), y + d * np.sin(angle), (1 if k % 2 else -1) * lobe))
    ny, nx = image.shape
    kept = [(lx, ly, a) for lx, ly, a in lobes if 0 <= lx < nx and 0 <= ly < ny]
    render_sources(image, [k[0] for k in kept], [k[1] for k in kept], [k[2] for k in kept], SIGMA_PX)
    for lx, ly, a in kept:
        if a > 0:
            rows.append(("artefact", lx, ly, a))
            _disc(mask, lx, ly, 1.5 * SIGMA_PX, 2)
    return rows


def write_tile(path, image, header) -> None:
    from astropy.io import fits

    fits.PrimaryHDU(image, header=header).writeto(path, overwrite=True)
