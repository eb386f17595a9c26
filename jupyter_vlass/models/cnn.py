"""A small fully convolutional network: per-pixel probabilities of background, source and artefact, with
their uncertainty from Monte Carlo dropout (``passes`` forward passes with dropout left on).

Input: the image in units of its local rms (the classical box statistics), and the brightest of it within
the receptive field, both compressed with asinh: a sidelobe is told from a source by its ratio to the bright
source beside it. Dilated convolutions (1, 2, 4, 8, 16) see 63
pixels around each pixel, enough for a ring 8 beams out. The image is read chunk by chunk with a halo of
half that, so a full tile or a mosaic runs in bounded memory; CPU by default, CUDA when there is one.

Detections are the local maxima of P(source) + P(artefact) above one half in one deterministic pass;
each is then sampled ``passes`` times with dropout on (on the 63-pixel patch its output depends on):
``kind`` is the likelier of the two, ``confidence`` its mean probability, ``confidence_err`` the spread.
Weights: ``jupyter_vlass/models/weights/cnn/<version>/`` (``model.pt``, ``card.json`` with its sha256 and
training record, ``model.sig`` a Model Signing signature of the folder), trained by
``python -m jupyter_vlass.models.train``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ..exceptions import InvalidArgument
from .classical import box_statistics
from .detections import detection_table
from .pixels import class_map
from .registry import WeightsMismatch, sha256_of

NAME = "cnn"
WEIGHTS = Path(__file__).parent / "weights" / "cnn"
DILATIONS = (1, 2, 4, 8, 16)
HALO = 1 + sum(DILATIONS)  # each 3x3 layer reaches its dilation further


def network(width: int = 16, dropout: float = 0.2):
    import torch.nn as nn

    layers, channels = [], 2
    for d in DILATIONS:
        layers += [nn.Conv2d(channels, width, 3, padding=d, dilation=d), nn.ReLU(), nn.Dropout2d(dropout)]
        channels = width
    layers.append(nn.Conv2d(width, 3, 1))
    return nn.Sequential(*layers)


def normalise(block: np.ndarray, box: int = 64, *, statistics: tuple | None = None) -> np.ndarray:
    """The network's input (2, y, x): asinh of the signal-to-noise ratio (NaN as zero), and the same of the
    brightest pixel within the receptive field (the context a sidelobe is judged against). ``statistics``:
    the block's (background, rms) when already measured."""
    from scipy import ndimage

    background, rms = statistics if statistics is not None else box_statistics(block, box)
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = np.nan_to_num((block - background) / rms, nan=0.0, posinf=0.0, neginf=0.0)
    context = ndimage.maximum_filter(snr, size=2 * HALO + 1, mode="constant")
    return np.arcsinh(np.stack([snr, context]) / 3.0).astype(np.float32)


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class CnnDetector:
    """The CNN model (see the module). ``passes``: MC dropout samples per pixel."""

    name = NAME

    def __init__(self, state: dict, card: dict, *, passes: int = 8, chunk: int = 1024, seed: int = 0):
        import torch

        self.card, self.version, self.passes, self.chunk, self.seed = card, card["version"], passes, chunk, seed
        self.net = network(**card.get("architecture", {}))
        self.net.load_state_dict(state)
        self.net.to(device())
        self._torch = torch

    def weights(self) -> bytes:
        buffer = io.BytesIO()
        self._torch.save(self.net.state_dict(), buffer)
        return buffer.getvalue()

    @classmethod
    def from_weights(cls, data: bytes, card: dict | None = None) -> CnnDetector:
        import torch

        try:
            state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many kinds for bytes that are not a state dict
            raise InvalidArgument(f"cnn: the weights are not a saved state dict ({type(error).__name__})") from None
        return cls(state, card or {"version": "unpinned"})

    @classmethod
    def packaged(cls, version: str | None = None) -> CnnDetector:
        """The weights that ship with the package (the newest, or ``version``), their sha256 checked."""
        versions = sorted(p.name for p in WEIGHTS.iterdir() if (p / "card.json").exists()) if WEIGHTS.is_dir() else []
        if not versions or (version and version not in versions):
            raise InvalidArgument(f"cnn: no packaged weights {version or ''} (have: {', '.join(versions) or 'none'})")
        folder = WEIGHTS / (version or versions[-1])
        card = json.loads((folder / "card.json").read_text())
        data = (folder / "model.pt").read_bytes()
        if sha256_of(data) != card["weights_sha256"]:
            raise WeightsMismatch(f"cnn {card['version']}: model.pt does not have the sha256 its card names")
        return cls.from_weights(data, card)

    def probabilities(self, normalised: np.ndarray) -> np.ndarray:
        """The per-pixel class probabilities (3, y, x) of one deterministic pass (dropout off) over a
        :func:`normalise` d block."""
        torch = self._torch
        x = torch.from_numpy(normalised)[None].to(device())
        self.net.eval()
        with torch.no_grad():
            return torch.softmax(self.net(x)[0], dim=0).cpu().numpy()

    def sampled(self, normalised: np.ndarray, points: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
        """MC dropout at ``points`` (y, x) of a normalised block: mean and spread of their probabilities (P, 3).

        A pixel's output depends only on the 63 pixels around it, so each point is sampled on its own patch."""
        torch = self._torch
        padded = np.pad(normalised, ((0, 0), (HALO, HALO), (HALO, HALO)))
        patches = np.stack([padded[:, y:y + 2 * HALO + 1, x:x + 2 * HALO + 1] for y, x in points])
        x = torch.from_numpy(np.ascontiguousarray(patches)).to(device())
        self.net.train()  # dropout on: each pass samples another sub-network
        torch.manual_seed(self.seed)  # the same image gives the same answer
        with torch.no_grad():
            samples = torch.stack([torch.softmax(self.net(x)[:, :, HALO, HALO], dim=1) for _ in range(self.passes)])
        return samples.mean(0).cpu().numpy(), samples.std(0).cpu().numpy()

    def detect(self, image):
        """Detections of ``image`` (an :func:`~.images.open_image` DataArray) as a detection table."""
        return self._run(image, paint=False)[0]

    def analyse(self, image):
        """``(detections, classes)``: the detections and the class map (``uint8`` DataArray: 0 background,
        1 source, 2 artefact, the likelier of the two where P(source) + P(artefact) > 0.5) of one pass."""
        return self._run(image, paint=True)

    def _run(self, image, *, paint: bool):
        from scipy import ndimage

        data = image.data
        ny, nx = data.shape
        rows = []
        classes = np.zeros((ny, nx), np.uint8) if paint else None
        for y0 in range(0, ny, self.chunk):
            for x0 in range(0, nx, self.chunk):
                ya, xa = max(0, y0 - HALO), max(0, x0 - HALO)
                yb, xb = min(ny, y0 + self.chunk + HALO), min(nx, x0 + self.chunk + HALO)
                # At the image's edges the block is mirrored out to a full halo, so that the deterministic
                # pass and the dropout samples (on patches) see the same pixels, however small the image.
                ye, xe = min(ny, y0 + self.chunk), min(nx, x0 + self.chunk)  # the core's end
                pad = ((HALO - (y0 - ya), ye + HALO - yb), (HALO - (x0 - xa), xe + HALO - xb))
                block = np.pad(np.asarray(data[ya:yb, xa:xb], dtype=np.float32), pad, mode="symmetric")
                ya, xa = ya - pad[0][0], xa - pad[1][0]
                background, rms = box_statistics(block, 64)
                normalised = normalise(block, statistics=(background, rms))
                mean = self.probabilities(normalised)
                signal = mean[1] + mean[2]
                if paint:
                    called = np.where(mean[1] >= mean[2], 1, 2).astype(np.uint8) * (signal > 0.5)
                    classes[y0:ye, x0:xe] = called[y0 - ya:ye - ya, x0 - xa:xe - xa]
                peaks = (signal > 0.5) & (signal == ndimage.maximum_filter(signal, size=5))
                ys, xs = np.nonzero(peaks)
                inside = (ys + ya >= y0) & (ys + ya < ye) & (xs + xa >= x0) & (xs + xa < xe)
                points = list(zip(ys[inside], xs[inside]))
                if not points:
                    continue
                probability, spread = self.sampled(normalised, points)
                for (y, x), p, e in zip(points, probability, spread):
                    kind = 1 if p[1] >= p[2] else 2
                    noise, peak = float(rms[y, x]), float(block[y, x])
                    rows.append({"x": float(x + xa), "y": float(y + ya), "peak": peak, "peak_err": noise,
                                 "flux": peak, "flux_err": noise, "snr": peak / noise if noise else float("nan"),
                                 "kind": "source" if kind == 1 else "artefact",
                                 "confidence": float(p[kind]), "confidence_err": float(e[kind])})
        table = detection_table(rows, image, model=NAME, version=self.version)
        if not paint:
            return table, None
        import dask.array as da

        return table, class_map(image, da.from_array(classes, chunks=image.data.chunks))
