"""The consensus overlay on Aladin Lite, offline: where detection runs agree (green) and conflict (yellow),
how sure they are (faint when the score's uncertainty is above ``UNSURE``), each run as a layer of its
own, and a click on a detection that shows its details and takes the expert's vote.

ipyaladin imports Aladin Lite from a CDN; :func:`offline_esm` rewrites that import to the copy of the npm
``aladin-lite`` the labextension serves (``lab/extensions/jupyter-vlass/static/aladin.js``), and makes
survey paths that begin with ``/`` relative to the Jupyter server (``/vlass/hips/vlass`` is the registry's
HiPS of the sample tile, served by this server), so nothing is fetched from outside.
"""

from __future__ import annotations

import html
import logging
from functools import lru_cache
from pathlib import Path

import ipywidgets as w
import numpy as np

from ..exceptions import InvalidArgument, VlassError
from ..models.document import consensus_document, per_run
from .views import watch

log = logging.getLogger(__name__)
ALADIN_PATH = "lab/extensions/jupyter-vlass/static/aladin.js"
CDN_IMPORT = 'import C from"https://esm.sh/aladin-lite@3.9.2-beta";'
UNSURE = 0.1  # a consensus score uncertainty above this is drawn faint
COLOURS = {"agree": (0, 230, 0), "conflict": (255, 215, 0), "single": (170, 170, 170)}
RUN_STYLES = [("square", "#00e5ff"), ("triangle", "#ff40ff"), ("rhomb", "#ff7f2a"), ("plus", "#4d7cff"),
              ("cross", "#ffffff")]


# Under JupyterHub, a cookie-authenticated fetch() (mode "cors") must carry the server's XSRF token, as every
# request of JupyterLab's own does; Aladin Lite's fetches of this server's HiPS (``vlass/...``) are given it from
# the ``_xsrf`` cookie. Other URLs are fetched as they were.
XSRF_FETCH = ('if(!window.__vlassXsrf){window.__vlassXsrf=true;const __f=window.fetch.bind(window);'
              'window.fetch=(input,init)=>{try{const url=new URL(typeof input==="string"?input:input.url,location.href);'
              'const m=document.cookie.match(/(?:^|;\\s*)_xsrf=([^;]*)/);'
              'if(m&&url.origin===location.origin&&url.pathname.startsWith(__vlassBase+"vlass/")){'
              'const h=new Headers((init&&init.headers)||(typeof input==="string"?undefined:input.headers));'
              'h.set("X-XSRFToken",decodeURIComponent(m[1]));init={...(init||{}),headers:h};}}catch(e){}'
              'return __f(input,init);};}')


@lru_cache(maxsize=1)
def offline_esm() -> str:
    """ipyaladin's widget module with Aladin Lite imported from this server, not a CDN (and its fetches of this
    server's HiPS carrying the XSRF token, :data:`XSRF_FETCH`)."""
    import ipyaladin

    source = (Path(ipyaladin.__file__).parent / "static" / "widget.js").read_text()
    prelude = ('const __vlassBase=(()=>{try{return JSON.parse(document.getElementById("jupyter-config-data")'
               '.textContent).baseUrl||"/"}catch(e){return "/"}})();'
               'const __vlassAbs=u=>typeof u==="string"&&u.startsWith("/")?location.origin+__vlassBase+u.slice(1):u;'
               + XSRF_FETCH +
               f'const C=(await import(location.origin+__vlassBase+"{ALADIN_PATH}")).default;')
    edits = [(CDN_IMPORT, prelude), ("for(let s in a)n[y(s)]=a[s];", "for(let s in a)n[y(s)]=__vlassAbs(a[s]);"),
             ("this.aladin.setImageSurvey(e)", "this.aladin.setImageSurvey(__vlassAbs(e))")]
    for old, new in edits:
        if source.count(old) != 1:
            raise RuntimeError(f"ipyaladin's widget.js changed: {old[:40]!r} not found once (pin ipyaladin==0.8.1)")
        source = source.replace(old, new)
    return source


def _offline_aladin_class():
    from ipyaladin import Aladin

    class OfflineAladin(Aladin):
        _esm = offline_esm()

    return OfflineAladin


class ConsensusViewer(w.VBox):
    """``ConsensusViewer(consensus, runs, review=review(), survey="/vlass/hips/vlass")``.

    ``consensus``: what ``review.latest(dataset_id)`` gives (votes possible), or a
    :class:`~jupyter_vlass.models.consensus.Consensus`; ``runs``: the :class:`~jupyter_vlass.models.consensus.Run`
    objects it was made of (a layer each). The toggle shows every run and their consensus, or one run alone.
    """

    def __init__(self, consensus, runs=(), *, review=None, survey: str = "/vlass/hips/vlass",
                 radius_deg: float = 2.5 / 3600, height: int = 520, fov: float | None = None):
        self.doc, self.runs, self.review, self.radius_deg = consensus_document(consensus), list(runs), review, radius_deg
        summary = self.doc.get("summary") or {}
        if not self.doc["detections"] and not summary.get("runs"):  # not an empty sky at RA 0, Dec 0
            failed = "; ".join(f"{f.get('run')} {f.get('reason')}" for f in summary.get("failed") or [])
            raise InvalidArgument(f"nothing to show: no detection run finished ({failed or 'no runs given'})")
        self.said = per_run(self.doc, self.runs, radius_deg)
        detections = self.doc["detections"]
        ra, dec = (float(np.mean([d[k] for d in detections])) if detections else 0.0 for k in ("ra", "dec"))
        spread = max(np.ptp([d["dec"] for d in detections]) if detections else 0.1,
                     np.ptp([d["ra"] for d in detections]) * np.cos(np.radians(dec)) if detections else 0.1, 0.05)
        # Aladin's field of view is the width; a view about 1.6 times wider than high shows every detection
        self.aladin = _offline_aladin_class()(survey=survey, target=f"{ra} {dec}", fov=fov or spread * 1.8,
                                              height=height, log=False, show_coo_grid=False)
        watch(self.aladin)  # the search sidebar's "use the current Aladin view"
        labels = [r.label for r in self.runs if r.detections is not None]
        self.mode = w.ToggleButtons(options=["all runs", *labels], value="all runs", description="Show")
        self.details = w.HTML("<i>Click a detection for its details.</i>")
        self.verdict = w.ToggleButtons(options=[("confirmed", "confirmed"), ("false positive", "false_positive"),
                                                ("unsure", "unsure")], value=None, description="Your vote")
        self.comment = w.Text(placeholder="comment (optional)", layout=w.Layout(width="60%"))
        self.send = w.Button(description="Vote", icon="check", disabled=True)
        self.message = w.HTML()
        self.selected: dict | None = None
        self._shown: list[str] = []
        self.mode.observe(lambda _: self._draw(), names="value")
        self.send.on_click(lambda _: self.vote())
        self.aladin.set_listener("object_clicked", self._on_click)
        can_vote = review is not None and self.doc.get("id") is not None
        voting = [w.HBox([self.verdict, self.comment, self.send]), self.message] if can_vote else []
        super().__init__([self.mode, self.aladin, self.details, *voting])
        self._draw()

    # --- layers ------------------------------------------------------------------------------------
    def _table(self, rows: list[dict]):
        from astropy.table import Table

        def votes(d):
            v = d.get("votes") or {}
            return f"{v.get('confirmed', 0)} confirmed, {v.get('false_positive', 0)} false positive"
        table = Table({"detection": [d["detection"] for d in rows], "ra": [d["ra"] for d in rows],
                       "dec": [d["dec"] for d in rows], "agreement": [d["agreement"] for d in rows],
                       "score": [round(d["score"], 3) for d in rows], "score_err": [round(d["score_err"], 3) for d in rows],
                       "seen_by": [d["kinds"] for d in rows], "experts": [votes(d) for d in rows]})
        table["ra"].unit = table["dec"].unit = "deg"
        return table

    def _add(self, name: str, table, **options) -> None:
        self.aladin.add_table(table, name=name, **options)
        self._shown.append(name)

    def _draw(self) -> None:
        if self._shown:
            self.aladin.remove_overlay(self._shown)
            self._shown = []
        if self.mode.value == "all runs":
            for agreement, (r, g, b) in COLOURS.items():
                for unsure in (False, True):
                    rows = [d for d in self.doc["detections"] if d["agreement"] == agreement
                            and (d["score_err"] > UNSURE) == unsure]
                    if rows:
                        alpha = 0.55 if unsure else 1.0
                        self._add(f"{agreement}{' (uncertain)' if unsure else ''}", self._table(rows),
                                  shape="circle", color=f"rgba({r},{g},{b},{alpha})", source_size=18)
        for k, run in enumerate(self.runs):
            if run.detections is None or self.mode.value not in ("all runs", run.label):
                continue
            shape, colour = RUN_STYLES[k % len(RUN_STYLES)]
            table = run.detections[["ra", "dec", "kind", "confidence", "confidence_err", "flux", "flux_err"]]
            self._add(run.label, table, shape=shape, color=colour, source_size=8 if self.mode.value == "all runs" else 14)

    # --- details and votes ---------------------------------------------------------------------------
    def _on_click(self, content: dict) -> None:
        """A click on a consensus marker, or on a run's marker: the consensus detection there."""
        data = content.get("data") or {}
        number = data.get("detection")
        if number is None and self.doc["detections"]:
            try:
                ra, dec = float(content["ra"]), float(content["dec"])
            except (KeyError, TypeError, ValueError):
                return
            separations = [_separation_deg(ra, dec, d["ra"], d["dec"]) for d in self.doc["detections"]]
            nearest = int(np.argmin(separations))
            number = self.doc["detections"][nearest]["detection"] if separations[nearest] <= 2 * self.radius_deg else None
        if number is None:
            self.details.value = "<i>No consensus detection here: this run alone saw it.</i>"
            self.selected, self.send.disabled = None, True
            return
        self.select(int(number))

    def select(self, number: int) -> dict:
        """Show detection ``number``'s details (what a click does)."""
        detection = next(d for d in self.doc["detections"] if d["detection"] == number)
        self.selected = detection
        self.send.disabled = False
        runs = "".join(f"<li>{html.escape(label)}: {html.escape(kind)} {conf:.0%} ± {err:.0%}</li>"
                       for label, (kind, conf, err) in sorted(self.said.get(number, {}).items()))
        votes = detection.get("votes") or {}
        self.details.value = (
            f"<b>Detection {number}</b> at RA {detection['ra']:.5f}°, Dec {detection['dec']:.5f}°: "
            f"<b>{html.escape(detection['agreement'])}</b>, score {detection['score']:.2f} ± {detection['score_err']:.2f}"
            f"{' (high confidence)' if detection.get('high_confidence') else ''}"
            f"<ul>{runs or '<li>no run matched here</li>'}</ul>"
            f"Experts: {votes.get('confirmed', 0)} confirmed, {votes.get('false_positive', 0)} false positive, "
            f"{votes.get('unsure', 0)} unsure")
        return detection

    def vote(self) -> dict | None:
        if self.selected is None or self.verdict.value is None:
            self.message.value = "<span style='color:#b00'>Pick a detection and a verdict first.</span>"
            return None
        try:
            answer = self.review.vote(result_id=self.doc["id"], detection=self.selected["detection"],
                                      user=_user(), verdict=self.verdict.value, comment=self.comment.value)
        except VlassError as error:
            self.message.value = f"<span style='color:#b00'>{html.escape(error.message)}</span>"
            return None
        except Exception as error:  # from a button's callback it would only reach the kernel's log
            log.exception("vote on detection %s not recorded", self.selected["detection"])
            self.message.value = f"<span style='color:#b00'>Not recorded: {html.escape(repr(error))}</span>"
            return None
        self.selected["votes"] = answer["votes"]
        self.select(self.selected["detection"])
        self.message.value = f"Recorded: {html.escape(self.verdict.value.replace('_', ' '))}."
        return answer


def _separation_deg(ra1: float, dec1: float, ra2: float, dec2: float) -> float:
    from astropy.coordinates import angular_separation
    import astropy.units as u

    return float(angular_separation(ra1 * u.deg, dec1 * u.deg, ra2 * u.deg, dec2 * u.deg).to_value(u.deg))


def _user() -> str:
    import getpass
    import os

    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
