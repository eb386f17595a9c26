#!/usr/bin/env python3
"""A real one-node Slurm cluster on this machine, for the demo hub and the tests.

munged, MariaDB, slurmdbd (accounting), slurmctld and slurmd from the Debian packages, two
partitions (``cpu``, default, and ``gpu-a100``) and two *fake* A100 GPUs: character devices made
with ``mknod`` so that Slurm's GRES plugin hands out real ``CUDA_VISIBLE_DEVICES`` indices.
The node advertises 8 CPUs and 16 GB (``SlurmdParameters=config_overrides``) so that several
notebook servers fit on a 2-core machine.

    python hub_config/local_slurm.py up       # idempotent; prints the cluster name
    python hub_config/local_slurm.py down
    python hub_config/local_slurm.py status

Needs root. Standard library only, so it runs before any virtual environment exists.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

CLUSTER = "vlass-local"
MARKER = "# written by jupyter-vlass hub_config/local_slurm.py"
ETC = Path("/etc/slurm")
STATE = Path("/var/lib/vlass-slurm")
RUN = Path("/run/vlass-slurm")
LOG = Path("/var/log/vlass-slurm")
GPU_DEVICES = STATE / "dev"
DB_PASSWORD = "vlass-local-slurmdbd"
PARTITIONS = {"cpu": "12:00:00", "gpu-a100": "08:00:00"}
NODE_CPUS, NODE_MEMORY_MB, NODE_GPUS = 8, 16000, 2


class ClusterError(RuntimeError):
    """The local cluster could not be brought up; the message says which daemon and why."""


def _host() -> str:
    return socket.gethostname().split(".")[0]


def slurm_conf(host: str) -> str:
    partitions = "\n".join(
        f"PartitionName={name} Nodes={host} MaxTime={max_time} State=UP"
        + (" Default=YES" if name == "cpu" else "")
        for name, max_time in PARTITIONS.items()
    )
    return f"""{MARKER}
ClusterName={CLUSTER}
SlurmctldHost={host}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={STATE}/state
SlurmdSpoolDir={STATE}/spool
SlurmctldPidFile={RUN}/slurmctld.pid
SlurmdPidFile={RUN}/slurmd.pid
SlurmctldLogFile={LOG}/slurmctld.log
SlurmdLogFile={LOG}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2,sched_min_interval=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
MinJobAge=120
KillWait=5
InactiveLimit=0
NodeName={host} CPUs={NODE_CPUS} Boards=1 SocketsPerBoard=1 CoresPerSocket={NODE_CPUS} ThreadsPerCore=1 RealMemory={NODE_MEMORY_MB} Gres=gpu:a100:{NODE_GPUS} State=UNKNOWN
{partitions}
"""


def gres_conf(host: str) -> str:
    last = NODE_GPUS - 1
    return (
        f"{MARKER}\nAutoDetect=off\n"
        f"NodeName={host} Name=gpu Type=a100 File={GPU_DEVICES}/nvidia[0-{last}]\n"
    )


def slurmdbd_conf() -> str:
    return f"""{MARKER}
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass={DB_PASSWORD}
StorageLoc=slurm_acct_db
LogFile={LOG}/slurmdbd.log
PidFile={RUN}/slurmdbd.pid
"""


def _call(argv: list[str], *, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise ClusterError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def _wait(what: str, probe, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.2)
    raise ClusterError(f"{what} did not come up within {timeout:.0f} s; see {LOG}")


def _pid_alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def _resolvable(host: str) -> None:
    """Slurm needs the node name to resolve; add it to /etc/hosts when it does not."""
    try:
        socket.gethostbyname(host)
    except OSError:
        with open("/etc/hosts", "a") as hosts:
            hosts.write(f"127.0.0.1 {host}  {MARKER}\n")


def write_config() -> None:
    existing = ETC / "slurm.conf"
    if existing.exists() and MARKER not in existing.read_text():
        raise ClusterError(f"{existing} exists and was not written by this script; not touching it")
    host = _host()
    _resolvable(host)
    for folder in (ETC, STATE / "state", STATE / "spool", RUN, LOG, GPU_DEVICES):
        folder.mkdir(parents=True, exist_ok=True)
    (ETC / "slurm.conf").write_text(slurm_conf(host))
    (ETC / "gres.conf").write_text(gres_conf(host))
    dbd = ETC / "slurmdbd.conf"
    dbd.write_text(slurmdbd_conf())
    dbd.chmod(0o600)
    for index in range(NODE_GPUS):
        device = GPU_DEVICES / f"nvidia{index}"
        if not device.is_char_device():
            device.unlink(missing_ok=True)
            _call(["mknod", "-m", "666", str(device), "c", "1", "3"])


def _start_munge() -> None:
    if _call(["pgrep", "-x", "munged"], check=False).returncode == 0:
        return
    Path("/run/munge").mkdir(exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    _call(["runuser", "-u", "munge", "--", "/usr/sbin/munged"])


def _mariadb_up() -> bool:
    return _call(["mariadb-admin", "ping"], check=False, timeout=5).returncode == 0


def _start_mariadb() -> None:
    if not _mariadb_up():
        Path("/run/mysqld").mkdir(exist_ok=True)
        shutil.chown("/run/mysqld", "mysql", "mysql")
        if not Path("/var/lib/mysql/mysql").exists():
            _call(["mariadb-install-db", "--user=mysql", "--datadir=/var/lib/mysql"], timeout=120)
        with open(LOG / "mariadb.log", "ab") as log:
            subprocess.Popen(
                ["/usr/sbin/mariadbd", "--user=mysql", "--datadir=/var/lib/mysql"],
                stdout=log, stderr=log, start_new_session=True,
            )
        _wait("MariaDB", _mariadb_up)
    sql = (
        f"CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';"
        "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
    )
    _call(["mariadb", "-e", sql])


def _daemon(name: str, argv: list[str], probe) -> None:
    if _pid_alive(RUN / f"{name}.pid") and probe():
        return
    _call(argv)
    _wait(name, probe)


def _dbd_ready() -> bool:
    return _call(["sacctmgr", "-n", "list", "cluster"], check=False, timeout=10).returncode == 0


def _ctld_ready() -> bool:
    return _call(["scontrol", "ping"], check=False, timeout=10).stdout.count("UP") > 0


def _node_ready() -> bool:
    out = _call(["sinfo", "-h", "-N", "-o", "%T"], check=False, timeout=10).stdout.split()
    return bool(out) and all(state.rstrip("*") in ("idle", "mixed", "allocated") for state in out)


def up() -> str:
    write_config()
    _start_munge()
    _start_mariadb()
    _daemon("slurmdbd", ["/usr/sbin/slurmdbd"], _dbd_ready)
    if CLUSTER not in _call(["sacctmgr", "-n", "-P", "list", "cluster", "format=cluster"]).stdout:
        _call(["sacctmgr", "-i", "add", "cluster", CLUSTER])
    _daemon("slurmctld", ["/usr/sbin/slurmctld"], _ctld_ready)
    _daemon("slurmd", ["/usr/sbin/slurmd"], _node_ready)
    return CLUSTER


def restart_controller() -> None:
    """Stop slurmctld and start it again (state is kept in StateSaveLocation)."""
    _stop("slurmctld")
    _daemon("slurmctld", ["/usr/sbin/slurmctld"], _ctld_ready)


def _stop(name: str) -> None:
    _stop_pid(RUN / f"{name}.pid")


def _stop_pid(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 15)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.1)
    os.kill(pid, 9)


def running() -> bool:
    """Whether any part of the cluster (munged, MariaDB, the Slurm daemons) is up already."""
    daemons = any(_pid_alive(RUN / f"{name}.pid") for name in ("slurmd", "slurmctld", "slurmdbd"))
    return daemons or _call(["pgrep", "-x", "munged"], check=False).returncode == 0 or _mariadb_up()


def down() -> None:
    """Stop every daemon ``up`` starts; jobs still running on the node are cancelled first, and the daemons
    stop only once Slurm has finished them (a job stopped while completing is restored as running)."""
    if _ctld_ready():
        _call(["scancel", "--full", "--state=RUNNING"], check=False)
        _call(["scancel", "--state=PENDING"], check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _call(["squeue", "--noheader", "--states=RUNNING,COMPLETING"],
                                                     check=False).stdout.strip():
            time.sleep(0.5)
    for name in ("slurmd", "slurmctld", "slurmdbd"):
        _stop(name)
    _call(["mariadb-admin", "shutdown"], check=False)
    pidfile = Path("/run/munge/munged.pid")
    if pidfile.exists():
        _stop_pid(pidfile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status"])
    action = parser.parse_args(argv).action
    if os.geteuid() != 0:
        print("local_slurm.py needs root (it starts munged and the Slurm daemons)", file=sys.stderr)
        return 2
    try:
        if action == "up":
            print(up())
        elif action == "down":
            down()
        else:
            print("up" if _ctld_ready() and _node_ready() else "down")
    except ClusterError as error:
        print(f"local_slurm: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
