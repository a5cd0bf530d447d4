#!/usr/bin/env bash
# Runs the test suite in each environment: scripts/run_tests.sh [tf1|tf2|tf-latest|all] [pytest args]
# A missing environment is skipped with a warning, or fails the run when CI=true.
# 'all' runs the three suites side by side (much of a suite's time is process start-up,
# imports and graph building, which leave cores idle), each into its own log, and prints
# the logs whole, in order, as the suites finish; TEST_SERIAL=1 runs them one after another.
set -u
cd "$(dirname "$0")/.."
want=${1:-all}; shift || true
status=0
envs=()
for env in tf1 tf2 tf-latest; do
  [ "$want" = all ] || [ "$want" = "$env" ] || continue
  if [ ! -x ".venv-$env/bin/python" ]; then
    if [ "${CI:-}" = true ]; then
      echo "test: .venv-$env is missing; run 'make setup' (CI=true: failing)." >&2
      status=1
    else
      echo "test: .venv-$env is missing; skipping it (run 'make setup')." >&2
    fi
    continue
  fi
  envs+=("$env")
done

run_suite() {  # run_suite ENV [pytest args]: the header line, then pytest's output.
  local env=$1; shift
  local py=.venv-$env/bin/python
  echo "=== tests in .venv-$env ($($py -c 'import sys, tensorflow as tf; print("Python", sys.version.split()[0], "TensorFlow", tf.__version__)' 2>/dev/null)) ==="
  "$py" -m pytest -q -rs tests "$@"
}

if [ "${#envs[@]}" -le 1 ] || [ "${TEST_SERIAL:-}" = 1 ]; then
  for env in ${envs[@]+"${envs[@]}"}; do
    run_suite "$env" "$@" || status=1
  done
  exit $status
fi

logs=$(mktemp -d)
pids=()
trap 'rm -rf "$logs"' EXIT
# Interrupted: stop the suites still running rather than leave them behind.
trap 'kill ${pids[@]+"${pids[@]}"} 2> /dev/null; exit 130' INT TERM
for env in "${envs[@]}"; do
  run_suite "$env" "$@" > "$logs/$env.log" 2>&1 &
  pids+=($!)
done
echo "test: ${envs[*]} running side by side; each suite's log follows when it is done." >&2
for i in "${!envs[@]}"; do
  if wait "${pids[$i]}"; then rc=0; else rc=$?; status=1; fi
  cat "$logs/${envs[$i]}.log"
  echo "=== .venv-${envs[$i]}: exit status $rc ==="
done
exit $status
