"""Review from a terminal: ``jupyter-vlass review show|gate|vote|override|controversial`` and ``audit
log|verify|marks|recheck``.

Under a hub (the server's environment) these go to the hub service, as the user; elsewhere to the
database of ``--db`` (default ``$JUPYTER_VLASS_DB``). Votes and overrides there are the local user's.
"""

from __future__ import annotations

import getpass
import os

from ..exceptions import InvalidArgument
from .output import emit

BEAM_DEG = 2.5 / 3600  # VLASS's 2.5" beam: detections closer than this are the same source


def _review(args):
    from ..hub_client import service_from_environment
    from ..review.review import review
    from ..store import make_engine, session_factory

    if service_from_environment():
        return review()
    return review(session_factory(make_engine(args.db)))


def _user() -> str:
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()


def cmd_review(args) -> int:
    board = _review(args)
    if args.action == "show":
        doc = board.latest(args.dataset, args.version)
        lines = [f"consensus #{doc['id']} of {doc['dataset_id']}@{doc['version']} by {doc['created_by']}: "
                 f"{len(doc['detections'])} detections, {doc['flagged_for_review']} flagged for review"]
        lines += [f"  {d['detection']:>4}  {d['ra']:10.5f} {d['dec']:+10.5f}  {d['agreement']:8}  "
                  f"{d['score']:.2f} ± {d['score_err']:.2f}  {d['votes']['confirmed']} confirmed, "
                  f"{d['votes']['false_positive']} false positive" for d in doc["detections"]]
        emit(args, doc, "\n".join(lines))
    elif args.action == "gate":
        decision = board.gate(args.dataset, args.version)
        verdict = "passes" if decision.passed else "overridden" if decision.override else "refused"
        emit(args, decision.to_json(), f"{verdict}: {decision.explain()}")
        return 0 if decision.allowed else 1
    elif args.action == "vote":
        doc = board.vote(result_id=args.result, detection=args.detection, user=_user(), verdict=args.verdict,
                         comment=args.comment or "")
        emit(args, doc, f"detection {doc['detection']}: {doc['votes']}")
    elif args.action == "override":
        decision = board.override(dataset_id=args.dataset, version=args.version, by=_user(), reason=args.reason)
        emit(args, decision.to_json(), f"overridden by {decision.override['by']}: {decision.override['reason']}")
    else:
        ranked = board.controversial(args.limit)
        emit(args, ranked, "\n".join(f"#{a['id']} {a['dataset_id']}@{a['version']}: disagreement "
                                       f"{a['disagreement']:.2f} over {a['voted']} voted detections" for a in ranked))
    return 0


def _detector(args):
    from ..models.registry import model_class

    cls = model_class(args.model)
    if args.model == "classical":
        return cls(threshold=args.threshold)
    return cls.packaged(args.model_version)


def cmd_audit(args) -> int:
    board = _review(args)
    if args.action == "verify":
        checked = board.audit_verify()
        emit(args, checked, f"the audit trail's {checked['entries']} entries verify; head {checked['head']}")
    elif args.action == "log":
        entries = board.audit_entries(args.subject)
        emit(args, entries, "\n".join(f"{e['seq']:>5} {e['at']} {e['actor']:12} {e['action']:16} {e['subject']}"
                                        for e in entries))
    elif args.action == "marks":
        marks = board.marks(args.subject)
        emit(args, marks, "\n".join(f"{m['mark']} by {m['by']} on {m['at']}: {m['explanation']}"
                                      + (f" (derived from {m['because']})" if m["because"] else "") for m in marks)
               or "no marks")
    else:
        from ..federation.registry import Registry
        from ..review.recheck import recheck
        from ..reproducibility.location import capsule_store

        dataset = None
        if args.dataset:
            dataset_id, sep, version = args.dataset.rpartition("@")
            if not sep or not dataset_id or not version:
                raise InvalidArgument("--dataset: ID@VERSION")
            dataset = (dataset_id, version)
        report = recheck(args.capsule, store=capsule_store(args.store), registry=Registry(args.db, use_hub_token=True),
                         detector=_detector(args), review=board, by=_user(), radius_deg=BEAM_DEG, dataset=dataset)
        said = report["mark"] or "confirmed"
        emit(args, report, f"{said}: {report['explanation']}" +
               (f"\nmarked: {', '.join(report['marked'])}" if report.get("marked") else ""))
    return 0


def add_commands(sub) -> None:
    def command(parent, name, help_, fn):
        p = parent.add_parser(name, help=help_)
        p.add_argument("--json", action="store_true")
        p.set_defaults(fn=fn)
        return p

    review = sub.add_parser("review", help="consensus results, expert votes, the publish gate")
    review = review.add_subparsers(dest="action", required=True)
    p = command(review, "show", "the newest consensus of a dataset, with the experts' votes", cmd_review)
    p.add_argument("dataset")
    p.add_argument("--version")
    p = command(review, "gate", "would a detection analysis of this dataset version publish? (exit 1: no)", cmd_review)
    p.add_argument("dataset")
    p.add_argument("version")
    p = command(review, "vote", "your verdict on one detection (voting again changes it)", cmd_review)
    p.add_argument("result", type=int)
    p.add_argument("detection", type=int)
    p.add_argument("verdict", choices=("confirmed", "false_positive", "unsure"))
    p.add_argument("--comment")
    p = command(review, "override", "let a refused consensus through the gate (admins; recorded)", cmd_review)
    p.add_argument("dataset")
    p.add_argument("version")
    p.add_argument("--reason", required=True)
    p = command(review, "controversial", "analyses the experts disagree on most", cmd_review)
    p.add_argument("--limit", type=int, default=10)

    audit = sub.add_parser("audit", help="the hash-chained audit trail and post-publication checks")
    audit = audit.add_subparsers(dest="action", required=True)
    command(audit, "verify", "check the audit trail's hash chain (exit 2 naming the first changed entry)", cmd_audit)
    command(audit, "log", "the audit trail", cmd_audit).add_argument("--subject")
    command(audit, "marks", "Updated/Retracted marks of a capsule:<id> or dataset@version", cmd_audit).add_argument("subject")
    p = command(audit, "recheck", "re-evaluate a published detection analysis with a newer model or dataset "
                                  "version; mark it (and what derives from it) when contradicted", cmd_audit)
    p.add_argument("capsule", help="the capsule's id in the store")
    p.add_argument("--model", default="cnn", help="a model of the registry (default: cnn)")
    p.add_argument("--model-version", help="the CNN's packaged weights version (default: the newest)")
    p.add_argument("--threshold", type=float, default=5.0, help="the classical detector's threshold")
    p.add_argument("--dataset", metavar="ID@VERSION", help="a newer version of the image (default: the pinned one)")
    p.add_argument("--store", help="the artifact store")
