"""Any IVOA SIA v2 / ObsCore service, queried live through pyvo."""

from __future__ import annotations

import math
import re
from typing import IO

import astropy.units as u
import numpy as np
import requests
from astropy.coordinates import SkyCoord
from pyvo.dal import DALFormatError, DALQueryError, DALServiceError
from pyvo.dal.sia2 import SIA2Service

from ...exceptions import CorruptData, SourceTimeout, SourceUnauthorized, SourceUnavailable
from ..base import Source
from ..footprints import Footprint
from ..options import boolean, option, positive_integer
from ..records import ACCESS_TIERS, DatasetRecord
from ..region import Region
from ._io import HttpClient, OriginBoundAuth, check_uri

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: float):
        super().__init__()
        self.timeout = timeout

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super().request(*args, **kwargs)


def parse_s_region(text: str) -> Footprint | None:
    """``POLYGON [ICRS] ra dec ...`` or ``CIRCLE [ICRS] ra dec r`` (STC-S, as ObsCore serves it)."""
    if not isinstance(text, str):
        return None
    words = text.strip().split()
    if not words:
        return None
    shape = words[0].upper()
    numbers = [float(w) for w in words[1:] if re.fullmatch(_NUMBER, w)]
    try:
        if shape == "POLYGON" and len(numbers) >= 6 and len(numbers) % 2 == 0:
            pts = np.asarray(numbers).reshape(-1, 2)
            return Footprint.polygon(SkyCoord(pts[:, 0] * u.deg, pts[:, 1] * u.deg))
        if shape == "CIRCLE" and len(numbers) == 3:
            return Footprint.from_spec({"ra": numbers[0], "dec": numbers[1], "radius": numbers[2]})
    except (CorruptData, ValueError):
        return None
    return None


def _value(row, name):
    try:
        value = row[name]
    except (KeyError, IndexError):
        return None
    if np.ma.is_masked(value):
        return None
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


class Sia2Source(Source):
    """An SIA2 query endpoint (``uri``); option ``capabilities: true`` resolves it from VOSI."""

    kind = "sia2"
    OPTIONS = {"capabilities": boolean, "maxrec": positive_integer}
    live = True

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("http", "https")), **kwargs)

    def query(self, region: Region, *, timeout: float) -> list[DatasetRecord]:
        session = _TimeoutSession(timeout)
        session.auth = OriginBoundAuth(self.credentials, self.uri)
        try:
            service = SIA2Service(self.uri, session=session, check_baseurl=option(self.options, "capabilities", boolean, False))
            pos = (region.ra_deg * u.deg, region.dec_deg * u.deg, region.radius_deg * u.deg)
            table = service.search(pos=pos, maxrec=option(self.options, "maxrec", positive_integer, 10000)).to_table()
        except DALServiceError as exc:
            code = getattr(exc, "code", None)
            if code in (401, 403):
                raise SourceUnauthorized(f"{self.name}: access refused (HTTP {code})") from None
            if isinstance(exc.cause, requests.Timeout):
                raise SourceTimeout(f"{self.name}: no answer within {timeout:g} s") from None
            raise SourceUnavailable(f"{self.name}: service error" + (f" (HTTP {code})" if code else "")) from None
        except (DALFormatError, DALQueryError) as exc:
            raise CorruptData(f"{self.name}: bad service response ({type(exc).__name__})") from None
        except requests.Timeout:
            raise SourceTimeout(f"{self.name}: no answer within {timeout:g} s") from None
        except requests.RequestException as exc:
            raise SourceUnavailable(f"{self.name}: {type(exc).__name__}") from None
        return [r for r in (self._record(row) for row in table) if r is not None]

    def _record(self, row) -> DatasetRecord | None:
        footprint = parse_s_region(_value(row, "s_region"))
        if footprint is None:
            ra, dec, fov = (_value(row, k) for k in ("s_ra", "s_dec", "s_fov"))
            if ra is None or dec is None:
                return None
            footprint = Footprint.from_spec({"ra": ra, "dec": dec, "radius": max((fov or 0.01) / 2, 1e-4)})
        did = _value(row, "obs_publisher_did") or _value(row, "obs_id")
        url = _value(row, "access_url")
        if not did or not url:
            return None
        em_min, em_max = _value(row, "em_min"), _value(row, "em_max")
        tier = _value(row, "access_tier") or "public"
        size_kb = _value(row, "access_estsize")
        return DatasetRecord(
            dataset_id=f"{self.name}:{did}",
            version=str(_value(row, "version") or "as-served"),
            uri=str(url),
            sha256=_value(row, "sha256"),
            title=str(_value(row, "obs_title") or _value(row, "target_name") or did),
            source=self.name,
            footprint=footprint,
            em_min=None if em_min is None else em_min * u.m,
            em_max=None if em_max is None else em_max * u.m,
            access_tier=tier if tier in ACCESS_TIERS else "public",
            size=None if size_kb is None or size_kb < 0 else int(size_kb) * 1024,
            dataproduct_type=str(_value(row, "dataproduct_type") or "image"),
            access_format=str(_value(row, "access_format") or "application/fits"),
            provenance={k: _value(row, k) for k in ("obs_collection", "facility_name", "instrument_name",
                                                    "calib_level") if _value(row, k) is not None},
        )

    def open(self, record: DatasetRecord) -> IO[bytes]:
        return HttpClient(self.credentials.for_returned_urls()).get(record.uri, stream=True).raw
