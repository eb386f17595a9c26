#!/usr/bin/env bash
# Debian/Ubuntu packages the tests and the demo need; installs only what is missing.
set -euo pipefail
need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
# The notebook-server jobs' environment is made from the system Python (.ci/job-env.sh).
/usr/bin/python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3 python3-venv)
[ -x /usr/lib/postgresql/15/bin/initdb ] || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
# Headless Chromium for the JupyterLab tests (driven by Python playwright; never `playwright install`).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# Slurm with accounting, for the spawner tests and the demo hub; sshd for the jobs' SSH route to a login node.
for pkg_cmd in slurmctld:slurmctld slurmd:slurmd slurm-client:sbatch munge:munged sudo:sudo slurmdbd:slurmdbd \
               mariadb-server:mariadbd charliecloud-runtime:ch-run openssh-server:sshd; do
  command -v "${pkg_cmd#*:}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pkg_cmd#*:}" ] || need+=("${pkg_cmd%%:*}")
done
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Q3C for the PostgreSQL registry's sky index (migration 0007), matching the installed server's major version.
pg_major="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
if [ -n "$pg_major" ] && [ ! -f "/usr/share/postgresql/$pg_major/extension/q3c.control" ]; then
  echo "installing postgresql-$pg_major-q3c"
  [ ${#need[@]} -gt 0 ] || $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "postgresql-$pg_major-q3c" >/dev/null
fi
# configurable-http-proxy (JupyterHub's proxy) from npm.
if ! command -v configurable-http-proxy >/dev/null 2>&1; then
  echo "installing configurable-http-proxy from npm"
  ${SUDO:-} npm install -g --silent configurable-http-proxy@5.3.0 >/dev/null 2>&1
fi
