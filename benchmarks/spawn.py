"""Spawn benchmark: jupyter-vlass's Slurm spawner against stock batchspawner.SlurmSpawner, same cluster, same run.

* Latency: REST spawn request -> the user's server answering ``/user/<name>/api`` through the proxy
  (``--rounds`` spawns per spawner, alternating, each stopped before the next, each after a random 0-1 s
  pause: slurmctld starts a submitted job on its next 1 s scheduling pass, so spawns at a fixed rhythm
  would see the same part of that second every time). Both ask gpu-a100
  with one A100, 2 GB; both run in the same job environment on the local Slurm of
  ``hub_config/local_slurm.py``.
* Spawn storm (``--storm N``): N users ask for GPU servers at once through the hub's REST API (this
  spawner only). Each must end up running or told its queue state (a progress event "pending in
  <partition> (<reason>)"); counted: running, queued and told, failed spawns; then all are stopped and the
  server jobs still in Slurm's queue after 60 s are counted as zombies.
* Scheduler load: ``--pending`` servers left pending (a root job holds both GPUs), then slurmctld's
  own RPC counters (``sdiag``) over ``--window`` seconds: job-info calls (what ``squeue`` sends) per
  minute, for each spawner.

Needs root, the local Slurm and configurable-http-proxy (``make test`` installs them).

    python benchmarks/spawn.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.hub import Hub, _local_slurm  # noqa: E402  (the same hub the tests start)

STOCK = "batchspawner.SlurmSpawner"
OURS = "vlass-profiles"
OURS_OPTIONS = {"profile": "tacc-a100", "gpus": "1", "memory": "2G", "walltime": "4h"}
RPC = re.compile(r"^\s*(REQUEST_\w+)\s+\(\s*\d+\)\s+count:(\d+)", re.M)


def ensure_users(names: list[str]) -> None:
    for name in names:
        if subprocess.run(["id", name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)


def start_hub(spawner: str, users: list[str], root: Path) -> Hub:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{spawner.split('.')[-1]}-", dir=root))
    os.chmod(workdir, 0o755)
    profiles = workdir / "profiles.yaml"
    profiles.write_text((Path(__file__).resolve().parents[1] / "hub_config" / "profiles.yaml").read_text())
    hub = Hub(workdir, profiles, start_timeout=None)  # each spawner's own default
    env = {"VLASS_SPAWNER": spawner, "VLASS_DEMO_USERS": ",".join(users), "VLASS_QUEUE_TIMEOUT": "900"}
    hub.start(**env)
    for name in users:
        hub.user(name, allocation=10_000 if spawner == OURS else None)
    return hub


def spawn_latency(hub: Hub, name: str, options: dict) -> float:
    token = hub.token_for(name)
    started = time.perf_counter()
    response = hub.spawn(name, options)
    if response.status_code not in (201, 202):
        raise RuntimeError(f"spawn failed: {response.status_code} {response.text}")
    while True:
        answer = requests.get(f"{hub.url}/user/{name}/api", headers={"Authorization": f"token {token}"},
                              allow_redirects=False, timeout=30)
        if answer.status_code == 200:
            return time.perf_counter() - started
        if time.perf_counter() - started > 180:
            raise RuntimeError(f"{name}'s server did not answer within 180 s")
        time.sleep(0.05)


def rpc_counts() -> dict[str, int]:
    return {name: int(count) for name, count in RPC.findall(subprocess.run(["sdiag"], capture_output=True,
                                                                          text=True).stdout)}


def scheduler_load(hub: Hub, users: list[str], options: dict, window: float) -> dict:
    blocker = subprocess.run(["sbatch", "--parsable", "-p", "gpu-a100", "--gres=gpu:a100:2", "-o", "/dev/null",
                              "--wrap", "sleep 3600"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        with ThreadPoolExecutor(max_workers=len(users)) as pool:  # the hub answers 202 after slow_spawn_timeout
            responses = list(pool.map(lambda name: hub.spawn(name, options), users))
        for name, response in zip(users, responses):
            if response.status_code != 202:
                raise RuntimeError(f"expected a pending spawn for {name}: {response.status_code} {response.text}")
        time.sleep(15)  # past the submissions and the first estimates
        pending = sum(1 for name in users if (hub.server(name) or {}).get("pending") == "spawn")
        before = rpc_counts()
        time.sleep(window)
        after = rpc_counts()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}
        per_minute = {k: round(v * 60 / window, 1) for k, v in sorted(delta.items(), key=lambda kv: -kv[1])}
        job_info = delta.get("REQUEST_JOB_INFO", 0) + delta.get("REQUEST_JOB_INFO_SINGLE", 0)
        return {"pending_servers": pending, "window_s": window, "job_info_calls_per_minute": round(
            job_info * 60 / window, 1), "rpc_per_minute": per_minute}
    finally:
        for name in users:
            hub.api("DELETE", f"/users/{name}/server")
        subprocess.run(["scancel", blocker])
        for name in users:
            try:
                hub.wait_stopped(name, timeout=60)
            except AssertionError:
                pass


def _fate(hub: Hub, name: str, response) -> str:
    """running, queued (told its queue state) or failed, for one user of the storm."""
    try:
        return hub.fate(name, response, timeout=300)
    except AssertionError:
        return "failed"


def spawn_storm(users: list[str], root: Path) -> dict:
    hub = start_hub(OURS, users, root)
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(users)) as pool:
            responses = list(pool.map(lambda name: hub.spawn(name, OURS_OPTIONS), users))
        answered = time.monotonic() - started
        with ThreadPoolExecutor(max_workers=16) as pool:
            fates = list(pool.map(lambda pair: _fate(hub, *pair), zip(users, responses)))
        settled = time.monotonic() - started
        for name in users:
            hub.api("DELETE", f"/users/{name}/server")
        for name in users:
            try:
                hub.wait_stopped(name, timeout=120)
            except AssertionError:
                pass
        zombies, waited = [], time.monotonic()
        while time.monotonic() - waited < 60:
            zombies = subprocess.run(["squeue", "-h", "--name=jupyterhub-vlass", "-o", "%i %u %T"],
                                     capture_output=True, text=True).stdout.split("\n")
            zombies = [z for z in zombies if z.strip()]
            if not zombies:
                break
            time.sleep(2)
        return {"users": len(users), "all_answered_s": round(answered, 2), "all_settled_s": round(settled, 2),
                "status_codes": {str(c): sum(1 for r in responses if r.status_code == c)
                                 for c in sorted({r.status_code for r in responses})},
                "running": fates.count("running"), "queued_and_told": fates.count("queued"),
                "failed_spawns": fates.count("failed"), "zombie_jobs": len(zombies), "zombies": zombies[:5]}
    finally:
        hub.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pending", type=int, default=50, help="0 measures latency only")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--storm", type=int, default=0, help="only the spawn storm, with this many users")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("benchmarks/spawn.py needs root (it starts Slurm and runs jobs as other users)", file=sys.stderr)
        return 2
    _local_slurm().up()
    users = [f"vlb-{i:03d}" for i in range(max(args.pending, args.storm, 1))]
    ensure_users(users)
    root = Path(tempfile.mkdtemp(prefix="vlass-spawn-bench-"))
    results: dict = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
                     "rounds": args.rounds}
    if args.storm:
        results["storm"] = spawn_storm(users[:args.storm], root)
        print(json.dumps(results, indent=2) if args.json else results["storm"])
        return 0 if results["storm"]["failed_spawns"] == results["storm"]["zombie_jobs"] == 0 else 1
    hubs = {OURS: start_hub(OURS, users, root), STOCK: start_hub(STOCK, users, root)}
    options = {OURS: OURS_OPTIONS, STOCK: {}}
    try:
        latencies: dict[str, list[float]] = {OURS: [], STOCK: []}
        for _ in range(args.rounds):
            for kind, hub in hubs.items():
                time.sleep(random.uniform(0.0, 1.0))  # sample every phase of slurmctld's 1 s scheduling tick
                latencies[kind].append(spawn_latency(hub, users[0], options[kind]))
                hub.stop_server(users[0])
        for kind, values in latencies.items():
            results[f"latency_{kind}"] = {"p50_s": round(statistics.median(values), 3),
                                          "min_s": round(min(values), 3), "max_s": round(max(values), 3),
                                          "all_s": [round(v, 3) for v in values]}
        results["latency_ratio_p50"] = round(statistics.median(latencies[OURS]) / statistics.median(latencies[STOCK]), 3)
        if args.pending:
            for kind, hub in hubs.items():
                results[f"scheduler_{kind}"] = scheduler_load(hub, users, options[kind], args.window)
    finally:
        for hub in hubs.values():
            hub.stop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
