#!/usr/bin/env bash
# GPU throughput in one command (a few minutes): the base config at seq 128 and 512,
# fp32 / mixed precision (float16 with loss scaling) x XLA off / on, every head, with
# model-FLOPs utilisation against the peaks given (defaults: H100/H200 SXM dense).
#
#   bash bench/gpu.sh                      # .venv-tf2 (TF 2.15 with a GPU build)
#   PYTHON=python PEAK_FP32=19.5 PEAK_AMP=312 bash bench/gpu.sh   # e.g. an A100
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv-tf2/bin/python}
"$python" -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') \
  else 'bench/gpu.sh: TensorFlow sees no GPU (pip install tensorflow==2.15.1, not tensorflow-cpu)')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
for shape in "128 20 64" "512 75 16"; do
  set -- $shape
  for amp in off on; do
    peak=${PEAK_FP32:-67}; [ "$amp" = on ] && peak=${PEAK_AMP:-989}
    "$python" bench/bench_pretraining.py --config configs/lert_config_base.json \
      --seq_length "$1" --max_predictions "$2" --batch_size "$3" --steps 20 \
      --warmup_steps 5 --xla both --heads all --amp "$amp" --peak_tflops "$peak"
  done
done
