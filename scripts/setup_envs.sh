#!/usr/bin/env bash
# Builds the three virtual environments the project supports:
#   .venv-tf1        Python 3.7  + TensorFlow 1.15.5 (faithful target)
#   .venv-tf2        Python 3.11 + TensorFlow 2.15.1 (+ torch, transformers, LTP)
#   .venv-tf-latest  Python 3.12 + the newest TensorFlow (no tf.estimator)
# Usage: scripts/setup_envs.sh [tf1|tf2|tf-latest|all]
#        scripts/setup_envs.sh --print-requirements tf1|tf2|tf-latest
# GPU=1 installs TensorFlow's GPU build instead of the CPU one: tensorflow[and-cuda] (CUDA
# and cuDNN from pip) for TF 2, tensorflow-gpu for TF 1.15 (CUDA 10.0 and cuDNN 7 from the
# system). The environment is rebuilt when GPU changes.
# An environment whose interpreter is missing is reported with the exact fix; the
# other one is still built.  Exit status is non-zero if any requested env failed.
set -u
cd "$(dirname "$0")/.."
want=${1:-all}
status=0

find_python() {  # $1 = version prefix, e.g. 3.7
  local v=$1 p
  if command -v pyenv >/dev/null 2>&1; then
    p=$(pyenv prefix "$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -n1)" 2>/dev/null)
    if [ -n "$p" ] && [ -x "$p/bin/python$v" ]; then echo "$p/bin/python$v"; return 0; fi
  fi
  if command -v "python$v" >/dev/null 2>&1; then command -v "python$v"; return 0; fi
  return 1
}

requirements() {  # $1 = requirements file: its lines and those it includes with -r, as installed
  local req=$1
  { cat "$req"; sed -n 's/^-r //p' "$req" | while read -r inc; do cat "$(dirname "$req")/$inc"; done; } |
    grep -v '^-r ' |
    if [ "${GPU:-0}" = 1 ]; then
      sed -e 's/^tensorflow-cpu==/tensorflow[and-cuda]==/' -e 's/^tensorflow==1\./tensorflow-gpu==1./'
    else
      cat
    fi
}

build() {  # $1 = name (tf1|tf2|tf-latest), $2 = python version, $3 = requirements file
  local name=$1 pyver=$2 req=$3 venv=.venv-$1 py
  if ! py=$(find_python "$pyver"); then
    echo "setup: Python $pyver not found, so $venv cannot be built." >&2
    echo "setup:   install it with 'pyenv install $pyver' (or your OS package python$pyver) and rerun 'make setup'." >&2
    return 1
  fi
  # The marker holds the requirements as installed (the files included with -r, GPU's).
  local wanted
  wanted=$(requirements "$req")
  if [ -f "$venv/.built" ] && [ "$wanted" = "$(cat "$venv/.built")" ]; then
    echo "setup: $venv is up to date ($("$venv/bin/python" -V 2>&1))."
    return 0
  fi
  echo "setup: building $venv with $py ..."
  rm -rf "$venv"
  "$py" -m venv "$venv" || return 1
  "$venv/bin/python" -m pip install -q --upgrade "pip<24.1" wheel || return 1
  "$venv/bin/python" -m pip install -q -r <(printf '%s\n' "$wanted") || return 1
  printf '%s' "$wanted" > "$venv/.built"
  echo "setup: $venv ready: $("$venv/bin/python" -c 'import sys, tensorflow as tf; print("Python", sys.version.split()[0], "TensorFlow", tf.__version__)' 2>/dev/null)"
}

# name, Python version, requirements file of each environment.
ENVS="tf1:3.7:requirements/tf1.txt tf2:3.11:requirements/tf2.txt tf-latest:3.12:requirements/tf-latest.txt"

if [ "$want" = --print-requirements ]; then
  for spec in $ENVS; do
    IFS=: read -r name pyver req <<<"$spec"
    [ "$name" = "${2:-}" ] && { requirements "$req"; exit 0; }
  done
  echo "usage: $0 --print-requirements tf1|tf2|tf-latest" >&2; exit 2
elif [ "$want" = all ]; then
  # The builds are independent and mostly waiting on downloads: run them side by side.
  mkdir -p .cache
  pids=""
  for spec in $ENVS; do
    IFS=: read -r name pyver req <<<"$spec"
    build "$name" "$pyver" "$req" > ".cache/setup-$name.log" 2>&1 &
    pids="$pids $!"
  done
  for pid in $pids; do wait "$pid" || status=1; done
  for spec in $ENVS; do grep -E '^setup:' ".cache/setup-${spec%%:*}.log"; done
  [ $status = 0 ] || echo "setup: see .cache/setup-*.log for details" >&2
else
  found=0
  for spec in $ENVS; do
    IFS=: read -r name pyver req <<<"$spec"
    [ "$name" = "$want" ] || continue
    found=1
    build "$name" "$pyver" "$req" || status=1
  done
  [ $found = 1 ] || { echo "usage: $0 [tf1|tf2|tf-latest|all]" >&2; exit 2; }
fi
exit $status
