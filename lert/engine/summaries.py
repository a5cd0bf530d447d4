# coding=utf-8
"""What a run reports: TensorBoard scalars, examples/sec, and results files.

`scalar_host_call` writes a model_fn's training scalars (losses, LIP weights,
learning rate) through TPUEstimator's host call; `ExamplesPerSecondHook`
measures throughput; `write_results` writes BERT's `key = value` results files
and `read_results` reads them; `read_scalar_summaries` reads the event files
back (tests, the demo report).
"""

import collections
import os
import time

import tensorflow as _tf_root
import tensorflow.compat.v1 as tf

from lert import fileio

# tf.compat.v2 is reachable from the root module in TF 1.15 and TF 2.x alike.
_summary_v2 = _tf_root.compat.v2.summary


def scalar_host_call(output_dir, scalars, global_step, every_n_steps=1):
  """A TPUEstimator host_call that writes `scalars` {name: scalar tensor} to TensorBoard.

  Works on TPU (values cross the outfeed) and on CPU/GPU, where TPUEstimator
  runs it on the host every step. The values are written at steps that are
  multiples of `every_n_steps` (--save_summary_steps): writing every step costs
  a small model a measurable share of its step time.
  """
  names = sorted(scalars)

  def host_call_fn(step, *values):
    step = step[0]
    with _summary_v2.create_file_writer(output_dir).as_default():
      with _summary_v2.record_if(tf.equal(step % max(1, every_n_steps), 0)):
        for name, value in zip(names, values):
          _summary_v2.scalar(name, tf.reduce_mean(value), step=step)
        return tf.summary.all_v2_summary_ops()

  tensors = [tf.reshape(tf.cast(global_step, tf.int64), [1])]
  tensors += [tf.reshape(tf.cast(scalars[n], tf.float32), [1]) for n in names]
  return host_call_fn, tensors


class ExamplesPerSecondHook(tf.train.SessionRunHook):
  """Measures examples/s every `every_n_steps`: `history`, TensorBoard, the log.

  With `log`, the rate is logged as `examples/sec: N`, the line TPUEstimator
  writes (and result parsers read); TPUEstimator and session_runner log it
  themselves, so the scripts pass log=False and estimators.make_estimator adds
  a logging hook only to the engine that lacks one (tf.estimator under a
  strategy).
  """

  def __init__(self, batch_size, every_n_steps=100, output_dir=None, log=True):
    self._batch_size = batch_size
    self._every_n_steps = max(1, every_n_steps)
    self._output_dir = output_dir
    self._log = log
    self._writer = None
    self.history = []  # (global_step, examples per second)

  def begin(self):
    self._global_step = tf.train.get_global_step()
    if self._output_dir:
      self._writer = tf.summary.FileWriterCache.get(self._output_dir)
    self._last_time = None
    self._last_step = None

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    step = run_values.results
    now = time.time()
    if self._last_time is None:
      self._last_time, self._last_step = now, step
      return
    if step - self._last_step < self._every_n_steps:
      return
    rate = (step - self._last_step) * self._batch_size / max(now - self._last_time, 1e-9)
    self.history.append((step, rate))
    if self._log:
      tf.logging.info("examples/sec: %g", rate)
    if self._writer is not None:
      summary = tf.Summary(value=[tf.Summary.Value(tag="examples_per_sec",
                                                   simple_value=rate)])
      self._writer.add_summary(summary, step)
    self._last_time, self._last_step = now, step


def read_scalar_summaries(directory):
  """{tag: {step: value}} of the scalar summaries in the event files directly in
  `directory` (tf.summary v1 `simple_value` and v2 tensor scalars alike)."""
  scalars = {}
  for path in sorted(tf.gfile.Glob(os.path.join(directory, "events.out.tfevents*"))):
    for event in tf.train.summary_iterator(path):
      for value in event.summary.value:
        if value.HasField("simple_value"):
          number = value.simple_value
        elif value.HasField("tensor"):
          number = float(tf.make_ndarray(value.tensor))
        else:
          continue
        scalars.setdefault(value.tag, {})[event.step] = number
  return scalars


def write_results(path, results, header=None):
  """Writes `key = value` lines (sorted), as BERT's eval_results.txt."""
  with fileio.atomic_text(path) as writer:
    if header:
      writer.write(header.rstrip("\n") + "\n")
    for key in sorted(results):
      value = results[key]
      if hasattr(value, "item"):
        value = value.item()
      writer.write("%s = %s\n" % (key, value))


def read_results(path):
  """A results file of write_results (local or remote) -> {key: value string}.

  Lines without ` = ` (a header) are skipped.
  """
  results = collections.OrderedDict()
  with fileio.open_file(path) as reader:
    for line in reader.read().decode("utf-8").splitlines():
      key, sep, value = line.strip().partition(" = ")
      if sep:
        results[key] = value
  return results
