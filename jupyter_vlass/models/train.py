"""Train the CNN on tiles with a known truth and write its versioned, signed weights.

    python -m jupyter_vlass.models.train --version 0.1.0 --keys KEYRING [--steps 1500] [--out FOLDER]

Tiles: :func:`jupyter_vlass.models.synthetic.make_tile` around real RACS components (the brightest of the
field, and random places), rings and stripes injected at known positions, labels from the truth's masks.
The output folder (default the packaged ``weights/cnn/<version>``) holds ``model.pt``, ``card.json`` (the
weights' sha256, the architecture, the training record: seeds, steps, loss, the catalogue's sha256, torch)
and ``model.sig``: the folder signed with the keyring's current key the way capsules are (OpenSSF Model
Signing), so ``model_signing verify key`` checks it. Runs on CPU (CUDA when present), a few minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..reproducibility.keys import Keyring
from ..sample_data import fetch_real_files
from ..store.location import data_dir
from .cnn import WEIGHTS, network, normalise
from .synthetic import Artefacts, make_tile

FIELD = {"ra": (205.5, 213.4), "dec": (-22.5, -15.2)}  # inside the RACS component catalogue's field


def tiles(components: Path, *, count: int, pixels: int, seed: int):
    """``count`` (input, labels) pairs: half centred near bright components, half anywhere in the field."""
    from astropy.io import fits

    with fits.open(components) as hdul:
        cat = hdul[1].data
        bright = np.argsort(-np.asarray(cat["int_flux"], float))[:count]
        ra, dec = np.asarray(cat["ra"], float), np.asarray(cat["dec"], float)
    rng = np.random.default_rng(seed)
    for k in range(count):
        if k % 2 == 0:
            i = bright[k // 2]
            centre = (ra[i] + rng.uniform(-0.03, 0.03), dec[i] + rng.uniform(-0.03, 0.03))
        else:
            centre = (rng.uniform(*FIELD["ra"]), rng.uniform(*FIELD["dec"]))
        spec = Artefacts(bright=2, amplitude=float(rng.uniform(0.015, 0.05)), ring_beams=float(rng.uniform(6, 10)),
                         lobes=int(rng.integers(4, 9)), stripe_beams=float(rng.uniform(2.5, 4)))
        image, _, _, mask = make_tile(components, ra=centre[0], dec=centre[1], pixels=pixels, seed=seed + k,
                                      artefacts=spec)
        yield normalise(image), mask.astype(np.int64)


def train(components: Path, *, steps: int, seed: int = 11, count: int = 24, pixels: int = 1024,
          crop: int = 128, batch: int = 8, log=print) -> tuple[object, dict]:
    import torch

    torch.manual_seed(seed)
    data = list(tiles(components, count=count, pixels=pixels, seed=seed))
    net = network()
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_of = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 20.0, 10.0]))
    rng = np.random.default_rng(seed)
    losses = []
    started = time.perf_counter()
    net.train()
    for step in range(steps):
        xs, ys = [], []
        for b in range(batch):  # half the crops around a source, a quarter around an artefact, a quarter anywhere
            image, mask = data[rng.integers(len(data))]
            want = (1, 2, 1, 0)[b % 4]
            labelled = np.argwhere(mask == want) if want else np.empty((0, 2))
            if len(labelled):
                cy, cx = labelled[rng.integers(len(labelled))] + rng.integers(-crop // 3, crop // 3, size=2)
                y0, x0 = (int(np.clip(c - crop // 2, 0, pixels - crop)) for c in (cy, cx))
            else:
                y0, x0 = rng.integers(0, pixels - crop, size=2)
            xs.append(image[:, y0:y0 + crop, x0:x0 + crop])
            ys.append(mask[y0:y0 + crop, x0:x0 + crop])
        x = torch.from_numpy(np.stack(xs))
        loss = loss_of(net(x), torch.from_numpy(np.stack(ys)))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step}: loss {np.mean(losses[-50:]):.4f}")
    record = {"steps": steps, "seed": seed, "tiles": count, "tile_pixels": pixels, "crop": crop, "batch": batch,
              "final_loss": round(float(np.mean(losses[-50:])), 5), "seconds": round(time.perf_counter() - started, 1),
              "torch": torch.__version__,
              "catalogue": {"file": components.name, "sha256": hashlib.sha256(components.read_bytes()).hexdigest()}}
    return net, record


def write(net, record: dict, *, version: str, out: Path, keys: Path) -> Path:
    """model.pt, card.json and model.sig in ``out``."""
    import io

    import torch
    from model_signing import hashing, signing

    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    (out / "model.pt").write_bytes(buffer.getvalue())
    card = {"name": "cnn", "version": version, "weights_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
            "architecture": {"width": 16, "dropout": 0.2}, "classes": ["background", "source", "artefact"],
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "training": record,
            "data": "SYNTHETIC PIXELS from real RACS components with injected artefacts (models.synthetic)"}
    (out / "card.json").write_text(json.dumps(card, indent=1, sort_keys=True))
    keyring = Keyring(keys)
    key_id = keyring.current()
    config = signing.Config().use_elliptic_key_signer(private_key=keyring.private_key_path(key_id))
    config.set_hashing_config(hashing.Config().set_ignored_paths(paths=["model.sig", "public.pem"]))
    config.sign(out, out / "model.sig")
    (out / "public.pem").write_text(keyring.public_key(key_id).pem)  # the key that signed it, for readers
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_vlass.models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True)
    parser.add_argument("--keys", required=True, help="the keyring that signs the weights")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--out", help="default: the packaged weights folder of this version")
    parser.add_argument("--cache", help="where the real files are kept (default: the data directory)")
    args = parser.parse_args(argv)
    real = fetch_real_files(args.cache or data_dir() / "sample-cache")
    net, record = train(real["racs_components"], steps=args.steps)
    print(write(net, record, version=args.version, out=Path(args.out) if args.out else WEIGHTS / args.version,
                keys=Path(args.keys)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
