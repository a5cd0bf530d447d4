"""Pretraining throughput (examples/s) of run_pretraining's model_fn through the Estimator.

Synthetic TFRecords of the given shape feed the real training path (input
pipeline, LERT graph with every head, AdamWeightDecay, host-call summaries).
Prints one line per setting; the first `--warmup_steps` steps are not timed.

  .venv-tf1/bin/python bench/bench_pretraining.py --config configs/lert_config_small.json
  .venv-tf2/bin/python bench/bench_pretraining.py --xla both --heads both
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

from lert.engine import input_pipeline  # noqa: E402
from lert import linguistics  # noqa: E402
import modeling  # noqa: E402
from lert.pretrain import pretraining_data  # noqa: E402
from lert.records import record_schema  # noqa: E402
import run_pretraining  # noqa: E402
from lert import settings  # noqa: E402


def synthetic_examples(count, seq_length, predictions, seed=0):
  rng = np.random.RandomState(seed)
  for _ in range(count):
    ids = rng.randint(104, 21128, seq_length).tolist()
    positions = sorted(rng.choice(np.arange(1, seq_length - 1), predictions,
                                  replace=False).tolist())
    example = {"input_ids": ids, "input_mask": [1] * seq_length,
               "segment_ids": [0] * seq_length, "masked_lm_positions": positions,
               "masked_lm_ids": [ids[p] for p in positions],
               "masked_lm_weights": [1.0] * predictions}
    for task in linguistics.TASKS:
      example["%s_labels" % task] = rng.randint(
          0, linguistics.num_labels(task), predictions).tolist()
    yield example


class StepTimer(tf.train.SessionRunHook):
  """Wall time of each session.run after the warm-up steps."""

  def __init__(self, warmup_steps):
    self.warmup_steps = warmup_steps
    self.times = []
    self._count = 0

  def before_run(self, run_context):
    self._start = time.time()

  def after_run(self, run_context, run_values):
    self._count += 1
    if self._count > self.warmup_steps:
      self.times.append(time.time() - self._start)


def run(config, data_file, seq_length, predictions, batch_size, steps, warmup_steps,
        use_xla, use_amp, tasks, work_dir):
  output_dir = tempfile.mkdtemp(dir=work_dir)
  # Summaries at the scripts' default cadence (--save_summary_steps=100).
  runtime = settings.RuntimeConfig(use_xla=use_xla, use_amp=use_amp,
                                   save_checkpoints_steps=10 ** 7,
                                   log_step_count_steps=10 ** 6)
  # The paper's LIP end steps are run_pretraining's defaults.
  pretraining = run_pretraining.PretrainingConfig(
      runtime, learning_rate=1e-4, num_train_steps=10 ** 6, num_warmup_steps=10000,
      output_dir=output_dir, train_batch_size=batch_size)
  estimator = run_pretraining.build_estimator(pretraining, config, None, tasks)
  input_fn = input_pipeline.tfrecord_input_fn_builder(
      [data_file], pretraining_data.feature_spec(seq_length, predictions),
      is_training=True, drop_remainder=True)
  timer = StepTimer(warmup_steps)
  estimator.train(input_fn, max_steps=steps + warmup_steps, hooks=[timer])
  shutil.rmtree(output_dir, ignore_errors=True)
  return batch_size / np.median(timer.times)


def training_flops_per_example(config, seq_length, predictions, tasks):
  """Model FLOPs of one training example: 3x the forward pass's matmul FLOPs
  (backward is twice the forward), counting 2 per multiply-add.

  Forward: per layer the Q/K/V/output projections (4·S·H²) and the FFN (2·S·H·I),
  attention scores and context (2·S²·H); the MLM transform and output layer at the
  masked positions (P·(H² + H·V)) and each linguistic head's (P·H·labels).
  Embedding look-ups, softmax, layer norm and GELU are not counted (the usual
  MFU convention).
  """
  hidden, inter = config.hidden_size, config.intermediate_size
  per_layer = (4 * seq_length * hidden * hidden + 2 * seq_length * hidden * inter +
               2 * seq_length * seq_length * hidden)
  heads = predictions * (hidden * hidden + hidden * config.vocab_size)
  heads += sum(predictions * hidden * linguistics.num_labels(t) for t in tasks)
  forward_macs = config.num_hidden_layers * per_layer + heads
  return 3 * 2 * forward_macs


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="configs/lert_config_small.json")
  parser.add_argument("--seq_length", type=int, default=128)
  parser.add_argument("--max_predictions", type=int, default=20)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--steps", type=int, default=8, help="timed steps")
  parser.add_argument("--warmup_steps", type=int, default=3)
  parser.add_argument("--xla", choices=["off", "on", "both"], default="both")
  parser.add_argument("--heads", choices=["all", "mlm", "both"], default="both",
                      help="all: MLM+POS+NER+DEP; mlm: linguistic heads off")
  parser.add_argument("--amp", choices=["off", "on", "both"], default="off",
                      help="mixed precision (bfloat16 on CPUs, TF 2.9+; float16 on GPUs)")
  parser.add_argument("--peak_tflops", type=float, default=0.0,
                      help="the device's peak TFLOP/s for the precision measured (e.g. "
                      "an H100/H200 SXM: 67 fp32, 989 dense fp16/bf16); prints MFU")
  args = parser.parse_args()
  tf.logging.set_verbosity(tf.logging.ERROR)

  config = modeling.BertConfig.from_json_file(args.config)
  work_dir = tempfile.mkdtemp(prefix="lert-bench-")
  data_file = os.path.join(work_dir, "data.tfrecord")
  input_pipeline.write_examples(data_file, synthetic_examples(
      4 * args.batch_size, args.seq_length, args.max_predictions), record_schema.PRETRAINING)
  xla_settings = {"off": [False], "on": [True], "both": [False, True]}[args.xla]
  head_settings = {"all": [linguistics.TASKS], "mlm": [()],
                   "both": [linguistics.TASKS, ()]}[args.heads]
  print("TensorFlow %s, Python %s, %d CPUs; %s, seq %d, batch %d, %d timed steps" % (
      tf.__version__, sys.version.split()[0], os.cpu_count(), args.config,
      args.seq_length, args.batch_size, args.steps))
  amp_settings = {"off": [False], "on": [True], "both": [False, True]}[args.amp]
  print("%-18s %-5s %-5s %12s %12s %7s" % ("heads", "xla", "amp", "examples/s",
                                           "model TFLOP/s", "MFU"))
  for tasks in head_settings:
    for use_amp in amp_settings:
      for use_xla in xla_settings:
        label = "MLM+POS+NER+DEP" if tasks else "MLM only"
        try:
          examples = run(config, data_file, args.seq_length, args.max_predictions,
                         args.batch_size, args.steps, args.warmup_steps, use_xla,
                         use_amp, tasks, work_dir)
          tflops = examples * training_flops_per_example(
              config, args.seq_length, args.max_predictions, tasks) / 1e12
          rate = "%12.2f %12.2f %7s" % (
              examples, tflops,
              "%.1f%%" % (100 * tflops / args.peak_tflops) if args.peak_tflops else "-")
        except ValueError as e:  # e.g. CPU mixed precision on TF 1.15
          rate = "  n/a (%s)" % e
        print("%-18s %-5s %-5s %s" % (label, "on" if use_xla else "off",
                                      "on" if use_amp else "off", rate), flush=True)
  shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
  main()
