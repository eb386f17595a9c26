"""Words a person can act on, for Slurm's pending reasons and queue estimates."""

from __future__ import annotations

from astropy.time import Time

REASONS = {
    "Priority": "other jobs in this partition have higher priority",
    "Resources": "waiting for the GPUs, CPUs or memory it asked for to free up",
    "QOSMaxGRESPerUser": "you are at your quality-of-service limit on GPUs",
    "QOSMaxGRES": "the quality of service is at its GPU limit",
    "AssocGrpGRES": "your project is at its GPU limit",
    "AssocMaxJobsLimit": "your project is at its running-jobs limit",
    "ReqNodeNotAvail": "a node it needs is down or reserved",
    "PartitionTimeLimit": "its walltime is above the partition's limit",
    "JobHeldAdmin": "an administrator is holding it",
    "JobHeldUser": "it is held",
    "BeginTime": "it is not allowed to start yet",
    "None": "the scheduler has not looked at it yet",
}


def reason_text(reason: str) -> str:
    return f"{reason}: {REASONS[reason]}" if reason in REASONS else reason


def when(start: Time | None, now: Time | None = None) -> str:
    if start is None:
        return "no estimate yet"
    now = now or Time.now()
    minutes = (start - now).to_value("min")
    if minutes <= 1:
        return "now"
    clock = start.strftime("%H:%M UTC")
    return f"{clock} (in {minutes:.0f} min)" if minutes < 120 else f"{clock} (in {minutes / 60:.1f} h)"
