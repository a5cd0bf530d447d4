"""Which checkpoint fine-tuning keeps as best: the highest dev metric so far, across resumes."""

import os

import numpy as np
import tensorflow.compat.v1 as tf

from conftest import read_results
from lert.finetune import driver


def save_checkpoints(directory, values):
  """model.ckpt-<step> for each step: value, a variable `w` holding the value."""
  paths = {}
  with tf.Graph().as_default():
    w = tf.get_variable("w", initializer=0.0)
    step = tf.train.get_or_create_global_step()
    saver = tf.train.Saver(max_to_keep=None)
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      for number, value in values.items():
        session.run([w.assign(value), step.assign(number)])
        paths[number] = saver.save(session, os.path.join(directory, "model.ckpt"),
                                   global_step=number)
  return paths


def predictions(directory, step):
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, "predictions.tsv"), "w") as handle:
    handle.write("from step %d\n" % step)
  return directory


def test_the_best_metric_is_kept_not_the_last(tmp_path):
  out = str(tmp_path)
  paths = save_checkpoints(out, {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0})
  keeper = driver.BestCheckpointKeeper(out, "accuracy")
  dev = str(tmp_path / "dev")
  assert keeper.update({"accuracy": 50.0}, paths[1], predictions(dev, 1))
  assert keeper.update({"accuracy": 70.0}, paths[2], predictions(dev, 2))
  assert not keeper.update({"accuracy": 60.0}, paths[3], predictions(dev, 3))
  assert not keeper.update({"accuracy": 70.0}, paths[3], predictions(dev, 3))  # a tie keeps
  best = os.path.join(out, "best")
  assert keeper.best_checkpoint == os.path.join(best, "model.ckpt-2")
  assert tf.train.latest_checkpoint(best) == keeper.best_checkpoint
  assert tf.train.load_variable(keeper.best_checkpoint, "w") == 2.0
  with open(os.path.join(best, "predictions.tsv")) as handle:
    assert handle.read() == "from step 2\n"  # the best checkpoint's predictions
  results = read_results(os.path.join(out, "best_eval_results.txt"))
  assert float(results["accuracy"]) == 70.0
  assert results["checkpoint"] == keeper.best_checkpoint
  # A resumed run knows the best so far: a worse score keeps it, a better one replaces it.
  resumed = driver.BestCheckpointKeeper(out, "accuracy")
  assert resumed.best_value == 70.0 and resumed.best_checkpoint == keeper.best_checkpoint
  assert not resumed.update({"accuracy": 65.0}, paths[3], predictions(dev, 3))
  assert resumed.update({"accuracy": 80.0}, paths[4], predictions(dev, 4))
  assert sorted(n for n in os.listdir(best) if n.startswith("model.ckpt-")) == [
      "model.ckpt-4.data-00000-of-00001", "model.ckpt-4.index", "model.ckpt-4.meta"]
  np.testing.assert_equal(tf.train.load_variable(resumed.best_checkpoint, "w"), 4.0)
