# Sourced by scripts/demo, scripts/test and scripts/prod-up: a virtual environment in .venv with exactly the locked
# packages. Reinstalls only when a lock changes, so the second run starts at once.
# MLOPS_EXTRAS=prod also installs requirements-prod.lock (the production profile's packages: dagster-postgres,
# dagster-celery, psycopg2, celery with Redis). It pins every package of requirements.lock the same, so it only adds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON=$candidate
      break
    fi
  done
fi
if [ -z "$PYTHON" ]; then
  echo "mlops_assets needs Python 3.11 (python3.11 on PATH, or set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

lock_hash=$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.installed 2>/dev/null)" != "$lock_hash" ]; then
  echo "Installing the locked environment into .venv (about a minute, once)..."
  "$PYTHON" -m venv .venv
  # pip 23 (what Python 3.11 ships) rejects hashed requirements with extras such as gql[requests].
  .venv/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  echo "$lock_hash" > .venv/.installed
  rm -f .venv/.installed-prod
fi
if [ "${MLOPS_EXTRAS:-}" = prod ]; then
  prod_hash=$(sha256sum requirements-prod.lock pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ "$(cat .venv/.installed-prod 2>/dev/null)" != "$prod_hash" ]; then
    echo "Installing the production profile's locked packages into .venv (requirements-prod.lock)..."
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-prod.lock
    echo "$prod_hash" > .venv/.installed-prod
  fi
fi
export DAGSTER_HOME=${DAGSTER_HOME:-$PWD/state}
export MLFLOW_DISABLE_TELEMETRY=true

# The browser tests (tests/demo/ui) drive Debian's Chromium (/usr/bin/chromium), never a browser build of their own.
# scripts/test installs it with apt-get when it is missing and this machine can (root, or password-less sudo);
# elsewhere it says so and the browser tests skip with that reason (CI turns the skip into a failure: .ci/run).
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "Chromium (/usr/bin/chromium) is missing and installing it needs root: the browser tests will skip." \
        "Install it with: sudo apt-get install chromium" >&2
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    echo "Chromium (/usr/bin/chromium) is missing and there is no apt-get here: the browser tests will skip." >&2
    return 0
  fi
  echo "Installing Debian's chromium for the browser tests (tests/demo/ui), once..."
  local log
  log=$(mktemp)
  if $sudo apt-get update -q >"$log" 2>&1 &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >>"$log" 2>&1 &&
    [ -x /usr/bin/chromium ]; then
    rm -f "$log"
  else
    tail -n 20 "$log" >&2
    echo "Could not install chromium (log above): the browser tests will skip." >&2
    rm -f "$log"
  fi
}
