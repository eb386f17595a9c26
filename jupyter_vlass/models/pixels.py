"""Per-pixel agreement of several runs' class maps on one image.

A **class map** is a run's call for every pixel of the image: 0 background, 1 source, 2 artefact (the
classical detector's islands, the CNN's most likely class where it sees signal; ``classes()`` of either
model). The **agreement map** says, for each pixel, what the finished runs said together, with the same
words as the per-detection consensus (:mod:`.consensus`):

* ``AGREE`` (1): every run marks the pixel, all with the same class;
* ``CONFLICT`` (2): some run marks it, but not every run does, or they call it different classes;
* ``SINGLE`` (3): only one run finished, and it marks the pixel;
* ``NOTHING`` (0): no run marks it.

Everything is lazy and chunked (dask): three 3722² maps are 13 MB each (``uint8``), and their agreement is
computed a chunk at a time. Class maps are written by jobs as FITS (one compressed HDU per image,
:func:`write_classes`) beside ``detections.ecsv``, so runs at other sites take part too.
"""

from __future__ import annotations

import re

import numpy as np

from ..exceptions import InvalidArgument

NOTHING, AGREE, CONFLICT, SINGLE = 0, 1, 2, 3
NAMES = {AGREE: "agree", CONFLICT: "conflict", SINGLE: "single"}
CLASSES = {"source": 1, "artefact": 2}
CHUNK = 1024  # pixels a side of the chunks an in-memory map is compared in


def class_map(image, data, name: str = "classes"):
    """``data`` (a ``uint8`` dask array on ``image``'s grid) as a class-map DataArray: the image's WCS and
    path in its attrs, without the image's per-pixel sky coordinates (computing them costs 16 bytes a pixel)."""
    return image.copy(deep=False, data=data).drop_vars(["lon", "lat"], errors="ignore").rename(name)


def _agreement_block(stack: np.ndarray) -> np.ndarray:
    first = stack[0]
    if len(stack) == 1:
        return np.where(first > 0, SINGLE, NOTHING).astype(np.uint8)
    any_marked, same = first > 0, np.ones(first.shape, bool)
    for other in stack[1:]:
        any_marked |= other > 0
        same &= other == first
    out = any_marked.view(np.uint8) * np.uint8(CONFLICT)  # marked: a conflict unless all agree
    out[same & (first > 0)] = AGREE
    return out


def pixel_agreement(maps: list):
    """The agreement map (a lazy ``uint8`` DataArray on the first map's grid) of the class maps ``maps``
    (DataArrays or arrays of one shape), one per finished run."""
    import dask.array as da
    import xarray as xr

    if not maps:
        raise InvalidArgument("pixel agreement: no class maps (no run finished)")
    shapes = {tuple(m.shape) for m in maps}
    if len(shapes) != 1:
        raise InvalidArgument(f"pixel agreement: the class maps have different shapes {sorted(shapes)}; "
                              "they must be on the same image")
    grids = [m.attrs["wcs"] for m in maps if "wcs" in getattr(m, "attrs", {})]
    if any(not w.wcs.compare(grids[0].wcs, tolerance=1e-9) for w in grids[1:]):
        raise InvalidArgument("pixel agreement: the class maps are on different sky grids; "
                              "they must be on the same image")
    first = maps[0]
    arrays = [da.asarray(getattr(m, "data", m), chunks=CHUNK) for m in maps]  # in memory: cut into chunks
    chunks = arrays[0].chunks
    stack = da.stack([a.rechunk(chunks).astype(np.uint8, copy=False) for a in arrays])
    agreement = stack.map_blocks(_agreement_block, drop_axis=0, dtype=np.uint8)
    if isinstance(first, xr.DataArray):
        return class_map(first, agreement, "agreement")
    return xr.DataArray(agreement, dims=("y", "x"), name="agreement")


def pixel_counts(agreement) -> dict:
    """``{"agree": n, "conflict": n, "single": n, "marked": n, "agree_fraction": f}`` of an agreement map:
    pixel counts, and the share of marked pixels where the runs agree."""
    import dask.array as da

    array = da.asarray(getattr(agreement, "data", agreement))
    per_block = array.map_blocks(lambda b: np.bincount(b.ravel(), minlength=4)[None, None, :4], new_axis=2,
                                 chunks=(1,) * array.ndim + (4,), dtype=np.int64)
    counts = per_block.sum(axis=(0, 1)).compute()
    found = {name: int(counts[code]) for code, name in NAMES.items()}
    found["marked"] = sum(found.values())
    found["agree_fraction"] = round(found["agree"] / found["marked"], 4) if found["marked"] else 0.0
    return found


def write_classes(path, maps: dict) -> None:
    """Class maps ``{dataset id: DataArray}`` as one FITS file: a compressed HDU each (EXTNAME the dataset
    id made safe, ``DATASET`` the id itself), with the image's celestial WCS."""
    from astropy.io import fits

    hdus = [fits.PrimaryHDU()]
    for k, (dataset, array) in enumerate(sorted(maps.items())):
        header = array.attrs["wcs"].to_header() if "wcs" in array.attrs else fits.Header()
        header["DATASET"] = dataset
        header["CLASSES"] = "0 background, 1 source, 2 artefact"
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", dataset)[:60] or f"IMAGE{k}"
        hdus.append(fits.CompImageHDU(np.asarray(array.data, dtype=np.uint8), header=header, name=name,
                                      compression_type="GZIP_2"))
    fits.HDUList(hdus).writeto(path, overwrite=True)


def read_classes(path) -> dict:
    """``{dataset id: uint8 ndarray}`` of a file :func:`write_classes` wrote."""
    from astropy.io import fits

    try:
        with fits.open(path) as hdul:
            return {h.header["DATASET"]: np.asarray(h.data, dtype=np.uint8) for h in hdul[1:] if "DATASET" in h.header}
    except (OSError, ValueError, KeyError) as error:
        raise InvalidArgument(f"{path}: not a class-map file ({error})") from None
