#!/usr/bin/env bash
# Runs the test suite in each environment: scripts/run_tests.sh [tf1|tf2|tf-latest|all] [pytest args]
# A missing environment is skipped with a warning, or fails the run when CI=true.
set -u
cd "$(dirname "$0")/.."
want=${1:-all}; shift || true
status=0
for env in tf1 tf2 tf-latest; do
  [ "$want" = all ] || [ "$want" = "$env" ] || continue
  py=.venv-$env/bin/python
  if [ ! -x "$py" ]; then
    if [ "${CI:-}" = true ]; then
      echo "test: .venv-$env is missing; run 'make setup' (CI=true: failing)." >&2
      status=1
    else
      echo "test: .venv-$env is missing; skipping it (run 'make setup')." >&2
    fi
    continue
  fi
  echo "=== tests in .venv-$env ($($py -c 'import sys, tensorflow as tf; print("Python", sys.version.split()[0], "TensorFlow", tf.__version__)' 2>/dev/null)) ==="
  "$py" -m pytest -q -rs tests "$@" || status=1
done
exit $status
