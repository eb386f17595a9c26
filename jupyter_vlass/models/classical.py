"""The classical detector: background and rms maps, islands, a source catalogue with flux errors, and
flags for calibration artefacts (rings and stripes of sidelobes around bright sources).

* Background and rms: sigma-clipped median and MAD-based rms in boxes of ``box`` pixels (each box's
  statistics, as the analysis notebook measures them), computed chunk by chunk (chunks are multiples of
  ``box``).
* Detections: pixels ``threshold`` times the local rms above the background that are higher than their
  8 neighbours; each one's island is the 8-connected region above ``flood`` σ around it. Chunks are read
  with a halo, and a detection belongs to the chunk whose core holds its peak, so nothing is found twice.
* Flux: the island's sum over the beam area for an island with one peak, the peak otherwise (a blend);
  errors from the local rms. Confidence: Φ(snr − threshold), with its 1σ interval from the rms.
* Artefacts: a detection within ``artefact_beams`` beams of a source ``1/artefact_ratio`` times brighter is
  flagged ``artefact`` (a ring or stripe sidelobe of a calibration error), not ``source``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from math import erf, exp, pi, sqrt

import numpy as np

from ..exceptions import InvalidArgument
from .detections import detection_table
from .pixels import CLASSES, class_map

NAME, VERSION = "classical", "1.0.0"


def box_statistics(block: np.ndarray, box: int, clip: float = 3.0, iterations: int = 5):
    """Per-pixel background and rms of ``block``: each ``box``² box's sigma-clipped median and rms."""
    ny, nx = -(-block.shape[0] // box), -(-block.shape[1] // box)
    padded = np.full((ny * box, nx * box), np.nan, dtype=np.float32)
    padded[:block.shape[0], :block.shape[1]] = block
    boxes = padded.reshape(ny, box, nx, box).transpose(0, 2, 1, 3).reshape(ny, nx, box * box)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN boxes (blanked edges) are expected
        for _ in range(iterations):
            median = np.nanmedian(boxes, axis=2, keepdims=True)
            rms = 1.4826 * np.nanmedian(np.abs(boxes - median), axis=2, keepdims=True)
            boxes = np.where(np.abs(boxes - median) <= clip * rms, boxes, np.nan)
        median, rms = np.nanmedian(boxes, axis=2), np.nanstd(boxes, axis=2)
    sparse = np.isfinite(boxes).sum(axis=2) < 10
    median[sparse], rms[sparse] = np.nan, np.nan
    expand = (lambda grid: np.repeat(np.repeat(grid, box, axis=0), box, axis=1)[:block.shape[0], :block.shape[1]])
    return expand(median).astype(np.float32), expand(rms).astype(np.float32)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + erf(z / sqrt(2.0)))


def _islands(block: np.ndarray, y0: int, x0: int, halo: tuple[int, int, int, int], *, threshold: float,
             flood: float, beam_px: float) -> list[dict]:
    """Detections whose peak lies in the block's core; ``block`` is (residual, rms) with a halo."""
    from scipy import ndimage

    residual, rms = block[0], block[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = np.where(np.isfinite(residual) & (rms > 0), residual / rms, -np.inf)
    top, bottom, left, right = halo
    peaks = (snr >= threshold) & (snr == ndimage.maximum_filter(snr, size=3, mode="constant", cval=-np.inf))
    core = np.zeros_like(peaks)
    core[top:snr.shape[0] - bottom, left:snr.shape[1] - right] = True
    ys, xs = np.nonzero(peaks & core)
    if not len(ys):
        return []
    labels, _ = ndimage.label(snr >= flood, structure=np.ones((3, 3)))
    peaks_per_island = np.bincount(labels[peaks].ravel())
    beam_area = pi / (4 * np.log(2)) * beam_px ** 2
    found = []
    for y, x in zip(ys, xs):
        island = labels == labels[y, x]
        n = int(island.sum())
        window = np.nan_to_num(residual[max(0, y - 1):y + 2, max(0, x - 1):x + 2]).clip(min=0)
        gy, gx = np.mgrid[max(0, y - 1):y + 2, max(0, x - 1):x + 2]
        weight = float(window.sum()) or 1.0
        peak, noise, s = float(residual[y, x]), float(rms[y, x]), float(snr[y, x])
        single = peaks_per_island[labels[y, x]] == 1
        flux = float(residual[island].sum()) / beam_area if single else peak
        found.append({"x": float((gx * window).sum() / weight) + x0 - left,
                      "y": float((gy * window).sum() / weight) + y0 - top,
                      "peak": peak, "peak_err": noise, "flux": flux,
                      "flux_err": noise * sqrt(max(n / beam_area, 1.0)) if single else noise,
                      "snr": s, "island_pixels": n, "confidence": _phi(s - threshold),
                      "confidence_err": exp(-0.5 * (s - threshold) ** 2) / sqrt(2 * pi)})
    return found


def _painted(block: np.ndarray, y0: int, x0: int, depth: int, flood: float, xs, ys, kinds) -> np.ndarray:
    """The core of ``block`` (residual, rms with a halo of ``depth``; its first pixel at ``y0``, ``x0`` of the
    image) with each island that holds a detection painted in that detection's class."""
    from scipy import ndimage

    residual, rms = block[0], block[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        above = np.isfinite(residual) & (rms > 0) & (residual >= flood * rms)
    labels, _ = ndimage.label(above, structure=np.ones((3, 3)))
    iy, ix = np.rint(ys).astype(int) - y0, np.rint(xs).astype(int) - x0
    inside = (iy >= 0) & (iy < labels.shape[0]) & (ix >= 0) & (ix < labels.shape[1])
    lookup = np.full(labels.max() + 1, 255, np.uint8)
    np.minimum.at(lookup, labels[iy[inside], ix[inside]], kinds[inside])  # a source and an artefact: a source
    lookup[(lookup == 255) | (np.arange(len(lookup)) == 0)] = 0
    return lookup[labels][depth:labels.shape[0] - depth, depth:labels.shape[1] - depth]


@dataclass
class ClassicalDetector:
    """The classical detector (see the module); its parameters are its weights."""

    box: int = 64
    threshold: float = 5.0
    flood: float = 3.0
    clip: float = 3.0
    artefact_beams: float = 14.0
    artefact_ratio: float = 0.06
    name: str = NAME
    version: str = VERSION

    PARAMETERS = ("box", "threshold", "flood", "clip", "artefact_beams", "artefact_ratio")

    def weights(self) -> bytes:
        """What determines the output: the parameters, as canonical JSON (its sha256 pins the version)."""
        return json.dumps({k: getattr(self, k) for k in self.PARAMETERS}, sort_keys=True).encode()

    @classmethod
    def from_weights(cls, data: bytes) -> ClassicalDetector:
        try:
            doc = json.loads(data)
            return cls(**{k: type(getattr(cls, k))(doc[k]) for k in cls.PARAMETERS})
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument("classical detector: the weights are not its parameters as JSON") from None

    def _blocks(self, data, depth: int = 0):
        """``data`` rechunked so that chunks are whole boxes and none is thinner than ``depth``."""
        if any(c % self.box for c in data.chunks[0][:-1] + data.chunks[1][:-1]):
            data = data.rechunk(max(self.box, data.chunksize[0] // self.box * self.box))
        merged = tuple(c[:-2] + (c[-2] + c[-1],) if len(c) > 1 and c[-1] < depth else c for c in data.chunks)
        return data.rechunk(merged) if merged != data.chunks else data  # a thin last chunk joins its neighbour

    def _per_block(self, data, combine):
        """A (2, y, x) dask array: ``combine(block, background, rms)`` of each block's box statistics."""
        return data.map_blocks(lambda b: np.stack(combine(b, *box_statistics(b, self.box, self.clip))),
                               new_axis=0, chunks=((2,),) + data.chunks, dtype=np.float32)

    def maps(self, image):
        """Background and rms maps of ``image`` (an :func:`~.images.open_image` DataArray), as lazy DataArrays."""
        both = self._per_block(self._blocks(image.data), lambda _, background, rms: (background, rms))
        return image.copy(data=both[0]), image.copy(data=both[1])

    def _padded(self, image):
        """``(padded, depth, starts_y, starts_x, beam)``: the (residual, rms) stack of ``image`` with a halo of
        ``depth`` pixels around each chunk, and where each chunk starts."""
        import dask.array as da

        beam = float(image.attrs.get("beam_fwhm_px", 2.5))
        depth = int(np.ceil(max(4 * beam, 8)))
        data = self._blocks(image.data, depth)
        depth = min(depth, *data.chunks[0], *data.chunks[1])  # a small image is one chunk: no halo needed
        stacked = self._per_block(data, lambda block, background, rms: (block - background, rms))
        padded = da.overlap.overlap(stacked, depth={0: 0, 1: depth, 2: depth}, boundary={0: "none", 1: np.nan, 2: np.nan})
        starts = tuple(np.cumsum((0,) + c[:-1]) for c in data.chunks)
        return padded, depth, starts[0], starts[1], beam, data.chunks

    def detect(self, image):
        """The detections of ``image`` as an astropy Table (:func:`~.detections.detection_table`)."""
        import dask

        padded, depth, starts_y, starts_x, beam, _ = self._padded(image)
        tasks = []
        blocks = padded.to_delayed()
        for i, y0 in enumerate(starts_y):
            for j, x0 in enumerate(starts_x):
                tasks.append(dask.delayed(_islands)(blocks[0, i, j], int(y0), int(x0), (depth,) * 4,
                                                    threshold=self.threshold, flood=self.flood, beam_px=beam))
        rows = [row for found in dask.compute(*tasks) for row in found]
        table = detection_table(rows, image, model=self.name, version=self.version)
        self.flag_artefacts(table, beam)
        return table

    def analyse(self, image):
        """``(detections, classes)`` of ``image``: :meth:`detect` and :meth:`classes`."""
        table = self.detect(image)
        return table, self.classes(image, table)

    def classes(self, image, detections):
        """The class map of ``image`` (lazy ``uint8`` DataArray: 0 background, 1 source, 2 artefact): each
        detection's island (its 8-connected pixels above ``flood`` σ) takes the detection's kind."""

        padded, depth, starts_y, starts_x, _, chunks = self._padded(image)
        xs, ys = np.asarray(detections["x"], float), np.asarray(detections["y"], float)
        kinds = np.array([CLASSES[k] for k in detections["kind"]], np.uint8)

        def paint(block, block_info=None):
            _, i, j = block_info[0]["chunk-location"]
            return _painted(block, int(starts_y[i]) - depth, int(starts_x[j]) - depth, depth, self.flood, xs, ys, kinds)

        painted = padded.map_blocks(paint, drop_axis=0, chunks=chunks, dtype=np.uint8)
        return class_map(image, painted)

    def flag_artefacts(self, table, beam_px: float) -> None:
        """Mark detections near a much brighter source as artefacts (in place), saying why."""
        from scipy.spatial import cKDTree

        if len(table) < 2:
            return
        xy = np.column_stack([table["x"], table["y"]])
        tree = cKDTree(xy)
        order = np.argsort(-np.asarray(table["peak"]))
        for i in order:
            if table["kind"][i] == "artefact":
                continue
            bright = float(table["peak"][i])
            for j in tree.query_ball_point(xy[i], self.artefact_beams * beam_px):
                if j != i and table["peak"][j] < self.artefact_ratio * bright and table["kind"][j] == "source":
                    table["kind"][j] = "artefact"
                    table["note"][j] = (f"{table['peak'][j] / bright:.1%} of a source "
                                        f"{np.hypot(*(xy[j] - xy[i])) / beam_px:.1f} beams away: a sidelobe")
