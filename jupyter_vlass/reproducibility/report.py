"""An institute's provenance report for people (Markdown): what the chain holds in numbers, the service units
each site charged for it, the grants it was done under, and the citations of every analysis and dataset version.
The same chain as every other export format (:mod:`.provenance`); user-supplied text is escaped."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timezone

from .chain import Origins

_SPECIAL = re.compile(r"([\\`*_\[\]|#<>!])")


def _text(value: object) -> str:
    """``value`` as literal Markdown text: no markup, no HTML, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def _retracted(marks: list[dict]) -> dict | None:
    return next((m for m in marks if m["mark"] == "Retracted" and not m.get("because")), None)


def _standing(shown: dict[str, dict], marks: Callable[[str], list[dict]]) -> dict[str, tuple[str, dict] | None]:
    """Each analysis's retraction: ``("own", mark)``, ``("derived", mark)`` when a capsule it derives from or a
    dataset version it read was retracted, else None."""
    own = {i: _retracted(marks(f"capsule:{i}")) for i in shown}
    data = {}

    def of(capsule_id: str, seen=()) -> tuple[str, dict] | None:
        if own[capsule_id] is not None:
            return ("own", own[capsule_id])
        analysis = shown[capsule_id]
        for pin in (f"{p['id']}@{p['version']}" for p in analysis["inputs"] + analysis["opened"]):
            if pin not in data:
                data[pin] = _retracted(marks(pin))
            if data[pin] is not None:
                return ("derived", data[pin])
        parent = analysis["parent"]
        if parent in shown and parent not in seen:
            found = of(parent, (*seen, capsule_id))
            return found and ("derived", found[1])
        return None
    return {i: of(i) for i in shown}


def summary(shown: dict[str, dict], *, origins: Origins, marks: Callable[[str], list[dict]] | None = None,
            about: str = "", now: datetime | None = None) -> str:
    """The report of ``shown`` (the chain's summaries by id, :func:`.chain.chain`); ``about``: what it covers."""
    marks = marks or (lambda subject: [])
    analyses = list(shown.values())
    kinds = Counter()
    for analysis in analyses:
        parent = shown.get(analysis["parent"] or "")
        if parent is None:
            continue
        replay = (analysis["inputs"], analysis["parameters"]) == (parent["inputs"], parent["parameters"])
        kinds["replay" if replay else "fork"] += 1
        kinds["independent"] += replay and analysis["owner"] != parent["owner"] and analysis["status"] == "completed"
    standing = _standing(shown, marks)
    read = list(dict.fromkeys(f"{p['id']}@{p['version']}" for a in analyses for p in a["inputs"] + a["opened"]))
    traced = origins.walk(read)
    grants = Counter((g["funder"], g["award"]) for a in analyses for g in a.get("funding") or [])
    when = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Provenance report", "", f"{_text(about) if about else 'The analyses asked for'}, "
             f"and everything they derive from. Generated {when} by jupyter-vlass.", "",
             "## In numbers", "", "| | |", "|---|---|",
             f"| Analyses | {len(analyses)} ({sum(a['status'] == 'completed' for a in analyses)} completed, "
             f"{sum(a['status'] == 'failed' for a in analyses)} failed runs) |",
             f"| Replays | {kinds['replay']} ({kinds['independent']} independent: by another user, completed) |",
             f"| Forks | {kinds['fork']} |",
             f"| Retracted | {sum(1 for s in standing.values() if s and s[0] == 'own')} "
             f"(and {sum(1 for s in standing.values() if s and s[0] == 'derived')} derived from retracted work) |",
             f"| Authors | {len({a['owner'] for a in analyses})} |",
             f"| Dataset versions read | {len(read)} ({len(traced) - len(read)} more they derive from) |",
             f"| Models | {len({(a['model']['name'], a['model']['version']) for a in analyses if a.get('model')})} |",
             f"| Grants | {len(grants)} |", ""]
    lines += _service_units(analyses)
    if grants:
        lines += ["## Grants", "", "| Funder | Award | Analyses |", "|---|---|---|"]
        lines += [f"| {_text(funder)} | {_text(award)} | {count} |" for (funder, award), count in sorted(grants.items())]
        lines.append("")
    lines += ["## Citations", "", "### Analyses", ""]
    for number, analysis in enumerate(sorted(analyses, key=lambda a: a["published"] or ""), 1):
        found = standing[analysis["id"]]
        note = "" if found is None else (f" **Retracted** {str(found[1]['at'])[:10]}: {_text(found[1]['explanation'])}"
                                         if found[0] == "own" else " **Derived from retracted work.**")
        lines.append(f"{number}. {cite(analysis, emphasis='*')}{note}")
    lines += ["", "### Data", ""]
    for number, pin in enumerate(traced, 1):
        entry = origins.version(pin)
        cited = entry["citation"] if entry and entry.get("citation") else f"{pin} (sha256 {_sha256(analyses, pin)})"
        lines.append(f"{number}. {_text(cited)}" + ("" if pin in read else " (an origin of a version read)"))
    return "\n".join(lines) + "\n"


def cite(analysis: dict, *, emphasis: str = "") -> str:
    """How to cite a published analysis (a capsule's summary): author (ORCID), year, title, capsule, site."""
    orcid = f" ({analysis['orcid']})" if analysis.get("orcid") else ""
    return (f"{_text(analysis['owner'])}{orcid} ({(analysis['published'] or '????')[:4]}). "
            f"{emphasis}{_text(analysis['title'])}{emphasis}. jupyter-vlass analysis capsule, sha256:{analysis['id']}, "
            f"run on {_text(analysis['site'])}.")


def _sha256(analyses: list[dict], pin: str) -> str:
    return next((p.get("sha256") or "unknown" for a in analyses for p in a["inputs"] + a["opened"]
                 if f"{p['id']}@{p['version']}" == pin), "unknown")


def _service_units(analyses: list[dict]) -> list[str]:
    """The SUs charged per site, as each capsule recorded them (runs of older capsules: not recorded)."""
    runs, slurm, su, unknown = Counter(), Counter(), defaultdict(float), Counter()
    for analysis in analyses:
        site = analysis["site"]
        runs[site] += 1
        slurm[site] += bool(analysis.get("slurm_job_id"))
        if analysis.get("su") is None:
            unknown[site] += 1
        else:
            su[site] += analysis["su"]
    lines = ["## Service units per site", "", "| Site | Runs | Slurm jobs | SU charged | Runs without a recorded charge |",
             "|---|---|---|---|---|"]
    lines += [f"| {_text(site)} | {runs[site]} | {slurm[site]} | {su[site]:.2f} | {unknown[site]} |" for site in sorted(runs)]
    lines += [f"| **All sites** | {sum(runs.values())} | {sum(slurm.values())} | {sum(su.values()):.2f} | "
              f"{sum(unknown.values())} |", ""]
    return lines
