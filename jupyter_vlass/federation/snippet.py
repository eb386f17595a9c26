"""Python that opens one dataset version in a notebook: pinned by version and sha256, and citing it.

The JupyterLab search sidebar inserts this code into the active notebook ("insert code to open").
Identifiers and hashes enter the code only as Python literals (``repr``), and titles and citations only
as comments with every line break and control character removed, so no source's metadata can add code.
"""

from __future__ import annotations

import unicodedata

from .records import DatasetRecord, cite

_FITS = (["import io", "", "from astropy.io import fits"], ["hdul = fits.open(io.BytesIO(data))", "hdul.info()"])
# format -> (imports, code that reads ``data``)
_READERS = {
    "application/fits": _FITS,
    "image/fits": _FITS,
    "application/vnd.datapackage+json": (["import json"], [
        "package = json.loads(data)", "print(package.get('title'), len(package.get('resources', [])), 'resources')"]),
}
_BYTES = ([], ["print(len(data), 'bytes')"])


def comment(text: str) -> str:
    """``text`` on one comment line: line breaks and other control or format characters become spaces."""
    flat = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    return "# " + " ".join(flat.split())


def open_code(record: DatasetRecord) -> str:
    """Code that fetches ``record``'s bytes through the registry, checks them against the pinned sha256 and
    opens them with the reader its format calls for (the bytes themselves when none is known)."""
    imports, body = _READERS.get(record.access_format.split(";")[0].strip().lower(), _BYTES)
    lines = [
        comment(f"{record.title} ({record.dataset_id}), version {record.version}"),
        comment(f"Cite: {cite(record)}"),
        "import hashlib",
        *imports,
        "from jupyter_vlass.federation import Registry",
        "",
        "registry = Registry()",
        f"record = registry.get({record.dataset_id!r}, version={record.version!r})",
        "with registry.open(record) as fh:",
        "    data = fh.read()",
    ]
    if record.sha256:
        lines += [f"if hashlib.sha256(data).hexdigest() != {record.sha256!r}:",
                  "    raise ValueError(f'{record.dataset_id} {record.version}: the bytes are not the pinned ones')"]
    else:
        lines += ["# The source published no sha256 for this version: record the one read now.",
                  "print('sha256:', hashlib.sha256(data).hexdigest())"]
    lines += ["", *body]
    return "\n".join(lines) + "\n"
