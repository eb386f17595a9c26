"""The science-aware diff of two capsules' outputs (a capsule and its replay or fork).

* catalogues (tables with ``ra``/``dec``): cross-matched with astropy within ``radius``; sources added,
  lost, and matched ones whose flux changed by more than ``sigma`` times the combined error (the
  catalogue's own error column: ``<flux>_err``);
* images (FITS): difference statistics, and the changed pixels as a MOC;
* JSON scalars: every number that changed, with its path.

``str(result)`` reads "original 47 sources, replay 52: 6 new, 1 lost, 3 changed by more than 3σ".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np

FLUX_COLUMNS = ("peak", "flux", "total_flux", "peak_flux", "int_flux")


@dataclass
class CapsuleDiff:
    catalogues: dict = field(default_factory=dict)
    images: dict = field(default_factory=dict)
    scalars: dict = field(default_factory=dict)
    only_in_original: list = field(default_factory=list)
    only_in_replay: list = field(default_factory=list)
    sigma: float = 3.0

    def to_json(self) -> dict:
        return {"catalogues": self.catalogues, "images": self.images, "scalars": self.scalars,
                "only_in_original": self.only_in_original, "only_in_replay": self.only_in_replay, "sigma": self.sigma}

    def __str__(self) -> str:
        lines = []
        for name, c in self.catalogues.items():
            lines.append(f"{name}: original {c['original']} sources, replay {c['replay']}: {c['added']} new, "
                         f"{c['lost']} lost, {c['changed']} changed by more than {self.sigma:g}σ")
        for name, i in self.images.items():
            lines.append(f"{name}: {i['changed_pixels']} of {i['pixels']} pixels changed "
                         f"(max |Δ| {i['max_abs_difference']:.3g}, rms Δ {i['rms_difference']:.3g})")
        for name, changes in self.scalars.items():
            lines.append(f"{name}: {len(changes)} values changed" + "".join(
                f"\n    {c['path']}: {c['original']} -> {c['replay']}" for c in changes[:20]))
        lines += [f"only in the original: {n}" for n in self.only_in_original]
        lines += [f"only in the replay: {n}" for n in self.only_in_replay]
        return "\n".join(lines) or "no outputs to compare"


def _flux_columns(table) -> tuple[str, str] | None:
    for name in FLUX_COLUMNS:
        if name in table.colnames and f"{name}_err" in table.colnames:
            return name, f"{name}_err"
    return None


def diff_catalogues(original, replay, *, radius: u.Quantity = 5 * u.arcsec, sigma: float = 3.0) -> dict:
    from astropy.coordinates import SkyCoord

    def positions(table, rows) -> list[dict]:
        return [{"ra": float(table["ra"][k]), "dec": float(table["dec"][k])} for k in rows]

    result = {"original": len(original), "replay": len(replay), "added": len(replay), "lost": len(original),
              "changed": 0, "matched": 0, "changes": [], "added_sources": positions(replay, range(len(replay))),
              "lost_sources": positions(original, range(len(original)))}
    if not len(original) or not len(replay):
        return result
    a = SkyCoord(original["ra"], original["dec"], unit="deg")
    b = SkyCoord(replay["ra"], replay["dec"], unit="deg")
    index, separation, _ = b.match_to_catalog_sky(a)
    matched = separation < radius
    # one replay source per original source: the nearest wins
    best: dict[int, int] = {}
    for j in np.flatnonzero(matched):
        i = int(index[j])
        if i not in best or separation[j] < separation[best[i]]:
            best[i] = int(j)
    result.update(matched=len(best), added=len(replay) - len(best), lost=len(original) - len(best),
                  added_sources=positions(replay, sorted(set(range(len(replay))) - set(best.values()))),
                  lost_sources=positions(original, sorted(set(range(len(original))) - set(best))))
    columns = _flux_columns(original) if _flux_columns(original) == _flux_columns(replay) else None
    if columns:
        flux, err = columns
        for i, j in sorted(best.items()):
            combined = float(np.hypot(original[err][i], replay[err][j]))
            delta = float(replay[flux][j] - original[flux][i])
            if combined > 0 and abs(delta) > sigma * combined:
                result["changes"].append({"ra": float(original["ra"][i]), "dec": float(original["dec"][i]),
                                          "original": float(original[flux][i]), "replay": float(replay[flux][j]),
                                          "sigmas": round(abs(delta) / combined, 2)})
        result["changed"] = len(result["changes"])
    return result


def diff_images(original: Path, replay: Path) -> dict:
    """Difference statistics of two images of the same shape, and the changed pixels as a MOC in ICRS
    (any number of axes: a pixel changed in any plane counts once at its sky position; any celestial frame)."""
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(original) as a, fits.open(replay) as b:
        data_a, data_b = np.asarray(a[0].data, dtype=float), np.asarray(b[0].data, dtype=float)
        header = a[0].header
    if data_a.shape != data_b.shape:
        return {"pixels": int(data_b.size), "changed_pixels": int(data_b.size), "max_abs_difference": float("nan"),
                "rms_difference": float("nan"), "note": f"shape {data_a.shape} -> {data_b.shape}", "moc": None}
    delta = data_b - data_a
    both_nan = np.isnan(data_a) & np.isnan(data_b)
    changed = ~both_nan & ~np.isclose(data_a, data_b, rtol=1e-6, atol=0, equal_nan=True)
    finite = np.where(np.isfinite(delta), delta, 0.0)
    moc = _changed_moc(changed, WCS(header)) if changed.any() else None
    return {"pixels": int(delta.size), "changed_pixels": int(changed.sum()),
            "max_abs_difference": float(np.abs(finite).max()) if delta.size else 0.0,
            "rms_difference": float(np.sqrt(np.mean(finite ** 2))) if delta.size else 0.0, "moc": moc}


def _changed_moc(changed: np.ndarray, wcs) -> str | None:
    """The sky positions of the changed pixels as an ASCII MOC in ICRS; None for an image without sky axes."""
    from mocpy import MOC

    celestial = [k for k, kind in enumerate(wcs.wcs.axis_types) if (kind // 1000) % 10 == 2]  # FITS axes
    if len(celestial) != 2 or changed.ndim != wcs.naxis:
        return None
    numpy_axes = [changed.ndim - 1 - k for k in celestial]  # numpy orders the FITS axes backwards
    others = tuple(a for a in range(changed.ndim) if a not in numpy_axes)
    plane = changed.any(axis=others) if others else changed  # axes left: ascending numpy order
    found = np.nonzero(plane)
    by_axis = dict(zip(sorted(numpy_axes), found))
    sky = wcs.celestial.pixel_to_world(*(by_axis[a] for a in numpy_axes)).icrs
    return MOC.from_lonlat(sky.ra, sky.dec, max_norder=14).to_string(format="ascii")


def _numbers(doc, path=""):
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _numbers(value, f"{path}.{key}" if path else str(key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _numbers(value, f"{path}[{index}]")
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield path, doc


def diff_scalars(original: Path, replay: Path) -> list[dict]:
    a = dict(_numbers(json.loads(original.read_text())))
    b = dict(_numbers(json.loads(replay.read_text())))
    return [{"path": p, "original": a.get(p), "replay": b.get(p)} for p in sorted(set(a) | set(b))
            if a.get(p) != b.get(p)]


def diff(original: str | Path, replay: str | Path, *, radius: u.Quantity = 5 * u.arcsec,
         sigma: float = 3.0) -> CapsuleDiff:
    """Compare the ``outputs/`` of two capsules (or two output folders)."""
    from astropy.table import Table

    def outputs(folder: Path) -> Path:
        return folder / "outputs" if (folder / "outputs").is_dir() else folder

    a, b = outputs(Path(original)), outputs(Path(replay))
    names_a = {p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file()}
    names_b = {p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file()}
    result = CapsuleDiff(only_in_original=sorted(names_a - names_b), only_in_replay=sorted(names_b - names_a),
                         sigma=sigma)
    for name in sorted(names_a & names_b):
        suffix = Path(name).suffix.lower()
        if suffix in (".ecsv", ".vot", ".xml") or (suffix == ".fits" and _is_table(a / name)):
            table_a, table_b = Table.read(a / name), Table.read(b / name)
            if {"ra", "dec"} <= set(table_a.colnames) and {"ra", "dec"} <= set(table_b.colnames):
                result.catalogues[name] = diff_catalogues(table_a, table_b, radius=radius, sigma=sigma)
        elif suffix == ".fits":
            result.images[name] = diff_images(a / name, b / name)
        elif suffix == ".json":
            result.scalars[name] = diff_scalars(a / name, b / name)
    return result


def figure(result: CapsuleDiff, original: str | Path, replay: str | Path):
    """A matplotlib figure of the diff: per catalogue the sources kept, new, lost and changed by more than
    σ on the sky; per image the difference replay − original. Works headless (no display needed)."""
    from astropy.io import fits
    from matplotlib.figure import Figure

    panels = list(result.catalogues.items()) + list(result.images.items())
    fig = Figure(figsize=(5.5 * max(1, len(panels)), 5), layout="constrained")
    if not panels:
        fig.text(0.5, 0.5, "no catalogues or images to compare", ha="center")
        return fig
    a_dir = Path(original) / "outputs" if (Path(original) / "outputs").is_dir() else Path(original)
    b_dir = Path(replay) / "outputs" if (Path(replay) / "outputs").is_dir() else Path(replay)
    for k, (name, doc) in enumerate(panels, start=1):
        ax = fig.add_subplot(1, len(panels), k)
        if name in result.catalogues:
            for key, colour, label in (("added_sources", "tab:green", "new"), ("lost_sources", "tab:red", "lost"),
                                       ("changes", "tab:orange", f"changed > {result.sigma:g}σ")):
                points = doc[key]
                ax.scatter([p["ra"] for p in points], [p["dec"] for p in points], s=40, c=colour,
                           label=f"{label} ({len(points)})", marker="o" if key != "lost_sources" else "x")
            ax.invert_xaxis()
            ax.set(xlabel="RA (deg)", ylabel="Dec (deg)",
                   title=f"{name}: {doc['original']} → {doc['replay']} sources, {doc['matched']} matched")
            ax.legend(loc="best", fontsize="small")
        else:
            with fits.open(a_dir / name) as a, fits.open(b_dir / name) as b:
                delta = np.squeeze(np.asarray(b[0].data, dtype=float) - np.asarray(a[0].data, dtype=float))
            while delta.ndim > 2:
                delta = delta[0]
            finite = np.abs(delta[np.isfinite(delta)])
            limit = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
            shown = ax.imshow(delta, origin="lower", cmap="RdBu_r", vmin=-limit, vmax=limit)
            fig.colorbar(shown, ax=ax, label="replay − original")
            ax.set(title=f"{name}: {doc['changed_pixels']} of {doc['pixels']} pixels changed", xlabel="x", ylabel="y")
    return fig


def _is_table(path: Path) -> bool:
    from astropy.io import fits

    with fits.open(path) as hdul:
        return any(isinstance(h, (fits.BinTableHDU, fits.TableHDU)) for h in hdul)
