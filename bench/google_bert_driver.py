"""Runs one of google-research/bert's scripts (PyPI `bert-tensorflow==1.0.4`) unchanged.

Usage: python bench/google_bert_driver.py SCRIPT LOG_EVERY [the script's flags]

SCRIPT is `run_pretraining`, `run_classifier` or `create_pretraining_data`. The
only thing arranged from outside is how often the estimator logs its step rate:
Google's scripts leave RunConfig's `log_step_count_steps` at 100, which on a
2-core CPU is several minutes between two readings, so the driver sets it to
LOG_EVERY before the script builds its RunConfig. Needs TF 1.15 (Google's
modeling.py imports tf.contrib).
"""

import importlib
import sys

import tensorflow.compat.v1 as tf


def main():
  if len(sys.argv) < 3:
    raise SystemExit(__doc__)
  script, log_every = sys.argv[1], int(sys.argv[2])
  sys.argv = [script] + sys.argv[3:]
  make_run_config = tf.estimator.tpu.RunConfig

  def run_config(*args, **kwargs):
    kwargs.setdefault("log_step_count_steps", log_every)
    return make_run_config(*args, **kwargs)

  tf.estimator.tpu.RunConfig = run_config
  module = importlib.import_module("bert." + script)
  tf.app.run(module.main)


if __name__ == "__main__":
  main()
