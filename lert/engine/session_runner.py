"""The estimator's train/evaluate/predict loops on `MonitoredSession`, for TF 2.16+.

TensorFlow 2.16 and newer ship no `tf.estimator`, but the graph-mode pieces an
estimator is made of are still in `tf.compat.v1.train`: monitored sessions,
scaffolds, savers and session hooks. This module drives the project's
TPUEstimator-style `model_fn`s with them, providing exactly what the scripts
use:

- `train`: to `max_steps` (a finished run is not trained again), resuming from
  the newest checkpoint in `model_dir`, a checkpoint every
  `save_checkpoints_steps` and at the end, `keep_checkpoint_max` kept, the
  spec's `host_call` run every step as TPUEstimator does off TPUs, graph
  summaries every `save_summary_steps`, loss and `examples/sec: N` logged every
  `log_step_count_steps` (the summaries include `loss`), user and spec hooks.
- `evaluate`: the spec's `eval_metrics` (metric_fn, tensors) plus the mean loss,
  over `steps` batches or the whole input, from the newest or a given
  checkpoint; results carry `global_step` and go to TensorBoard under
  `model_dir/eval[_name]`.
- `predict`: dicts per example (or per batch), from the newest or a given
  checkpoint.
- warm start through the spec's `scaffold_fn` (which calls
  `tf.train.init_from_checkpoint`), XLA and mixed precision through the
  session config, gradient accumulation inside the train op: all as with
  the estimator.

Checkpoints are the estimator's: the same variable names, `checkpoint` index
file and `model.ckpt-N` prefixes, so runs move freely between TF 1.15, 2.15
and 2.16+. The API mirrors the parts of `tf.estimator.tpu.TPUEstimator` the
scripts call, so no script knows which driver runs it.
"""

import collections
import os
import time

import tensorflow.compat.v1 as tf
# Graph-mode writers of tf.compat.v2.summary (what host_calls write with) must be
# initialised in the session and flushed at the end; TPUEstimator does the same
# through this module, which TF 1.15 to 2.21 all have.
from tensorflow.python.ops import summary_ops_v2


class ModeKeys(object):
  """The estimator's mode names (the same strings, so either can be compared)."""
  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


_SPEC_FIELDS = ("mode", "predictions", "loss", "train_op", "eval_metrics", "host_call",
                "scaffold_fn", "training_hooks", "evaluation_hooks", "prediction_hooks")


class EstimatorSpec(collections.namedtuple("EstimatorSpec", _SPEC_FIELDS)):
  """What a model_fn returns: the fields of TPUEstimatorSpec that the scripts use."""

  def __new__(cls, mode, predictions=None, loss=None, train_op=None, eval_metrics=None,
              host_call=None, scaffold_fn=None, training_hooks=None,
              evaluation_hooks=None, prediction_hooks=None):
    return super(EstimatorSpec, cls).__new__(
        cls, mode, predictions, loss, train_op, eval_metrics, host_call, scaffold_fn,
        training_hooks, evaluation_hooks, prediction_hooks)


class _RateHook(tf.train.SessionRunHook):
  """Logs `global_step/sec` and `examples/sec` as TPUEstimator does off TPUs."""

  def __init__(self, batch_size, every_n_steps, output_dir):
    self._batch_size = batch_size
    self._every_n_steps = max(1, every_n_steps)
    self._output_dir = output_dir

  def begin(self):
    self._global_step = tf.train.get_global_step()
    self._writer = tf.summary.FileWriterCache.get(self._output_dir)
    self._last = None

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    step, now = run_values.results, time.time()
    if self._last is None:
      self._last = (step, now)
      return
    last_step, last_time = self._last
    if step - last_step < self._every_n_steps:
      return
    steps_per_sec = (step - last_step) / max(now - last_time, 1e-9)
    tf.logging.info("global_step/sec: %g", steps_per_sec)
    tf.logging.info("examples/sec: %g", steps_per_sec * self._batch_size)
    summary = tf.Summary(value=[
        tf.Summary.Value(tag="global_step/sec", simple_value=steps_per_sec),
        tf.Summary.Value(tag="examples/sec",
                         simple_value=steps_per_sec * self._batch_size)])
    self._writer.add_summary(summary, step)
    self._last = (step, now)


class _SummaryWritersHook(tf.train.SessionRunHook):
  """Initialises the graph's v2 summary writers and flushes them at the end."""

  def begin(self):
    self._init_ops = summary_ops_v2.summary_writer_initializer_op()
    self._flush_ops = [summary_ops_v2.legacy_raw_flush(writer=op.inputs[0])
                       for op in self._init_ops]

  def after_create_session(self, session, coord):
    session.run(self._init_ops)

  def end(self, session):
    session.run(self._flush_ops)


class _StopAfterHook(tf.train.SessionRunHook):
  """Stops an evaluation after `steps` batches (None: at the end of the input)."""

  def __init__(self, steps):
    self._steps = steps
    self._count = 0

  def after_run(self, run_context, run_values):
    self._count += 1
    if self._steps is not None and self._count >= self._steps:
      run_context.request_stop()


class Estimator(object):
  """Train, evaluate and predict with a TPUEstimator-style model_fn, estimator-free.

  Args:
    model_fn: `model_fn(features, labels, mode, params)` returning an
      `EstimatorSpec` (or any object with its fields).
    model_dir: checkpoints and summaries.
    params: dict handed to model_fn and input_fn; `batch_size` is set per mode.
    train_batch_size, eval_batch_size, predict_batch_size: as TPUEstimator's.
    save_checkpoints_steps, keep_checkpoint_max, save_summary_steps,
    log_step_count_steps: as RunConfig's.
    session_config: a ConfigProto (threads, XLA, CPU mixed precision).
  """

  def __init__(self, model_fn, model_dir, params=None, train_batch_size=32,
               eval_batch_size=8, predict_batch_size=8, save_checkpoints_steps=1000,
               keep_checkpoint_max=5, save_summary_steps=100, log_step_count_steps=100,
               session_config=None):
    self._model_fn = model_fn
    self.model_dir = model_dir
    self.params = dict(params or {})
    self._batch_sizes = {ModeKeys.TRAIN: train_batch_size, ModeKeys.EVAL: eval_batch_size,
                         ModeKeys.PREDICT: predict_batch_size}
    self._save_checkpoints_steps = save_checkpoints_steps
    self._keep_checkpoint_max = keep_checkpoint_max
    self._save_summary_steps = save_summary_steps
    self._log_step_count_steps = log_step_count_steps
    self._session_config = session_config

  def latest_checkpoint(self):
    return tf.train.latest_checkpoint(self.model_dir)

  # --- graph building ---------------------------------------------------------------

  def _build(self, input_fn, mode):
    """Global step, input and model_fn in the current graph; returns the spec."""
    tf.train.get_or_create_global_step()
    params = dict(self.params, batch_size=self._batch_sizes[mode])
    inputs = input_fn(params=params)
    if isinstance(inputs, tf.data.Dataset):
      inputs = tf.data.make_one_shot_iterator(inputs).get_next()
    features, labels = inputs if isinstance(inputs, tuple) else (inputs, None)
    return self._model_fn(features, labels, mode, params)

  def _scaffold(self, spec):
    scaffold = spec.scaffold_fn() if spec.scaffold_fn else None
    if not tf.get_collection(tf.GraphKeys.SAVERS):
      # The estimator's saver: sharded, relative paths, keep_checkpoint_max kept.
      tf.add_to_collection(tf.GraphKeys.SAVERS, tf.train.Saver(
          sharded=True, max_to_keep=self._keep_checkpoint_max, save_relative_paths=True))
    return scaffold or tf.train.Scaffold()

  def _checkpoint(self, checkpoint_path, purpose):
    path = checkpoint_path or self.latest_checkpoint()
    if path is None:
      tf.logging.warning("Could not find trained model in model_dir: %s, running "
                         "initialization to %s.", self.model_dir, purpose)
    return path

  # --- train ------------------------------------------------------------------------

  def train(self, input_fn, max_steps=None, steps=None, hooks=None):
    """Trains until the global step reaches `max_steps` (or for `steps` more)."""
    done = _checkpoint_step(self.latest_checkpoint())
    if max_steps is not None and done >= max_steps:
      tf.logging.info("Skipping training since max_steps has already saved.")
      return self
    with tf.Graph().as_default():
      spec = self._build(input_fn, ModeKeys.TRAIN)
      global_step = tf.train.get_global_step()
      scaffold = self._scaffold(spec)
      last_step = max_steps if max_steps is not None else done + steps
      all_hooks = list(hooks or []) + list(spec.training_hooks or [])
      all_hooks += [
          tf.train.StopAtStepHook(last_step=last_step),
          tf.train.NanTensorHook(spec.loss),
          tf.train.LoggingTensorHook({"loss": spec.loss, "step": global_step},
                                     every_n_iter=self._log_step_count_steps),
          _RateHook(self._batch_sizes[ModeKeys.TRAIN], self._log_step_count_steps,
                    self.model_dir),
          tf.train.CheckpointSaverHook(self.model_dir, scaffold=scaffold,
                                       save_steps=self._save_checkpoints_steps)]
      tf.summary.scalar("loss", spec.loss)  # as the estimator writes it
      if tf.get_collection(tf.GraphKeys.SUMMARIES):
        all_hooks.append(tf.train.SummarySaverHook(
            save_steps=self._save_summary_steps, output_dir=self.model_dir,
            scaffold=scaffold))
      fetches = [spec.train_op, spec.loss]
      if spec.host_call is not None:
        host_fn, host_tensors = spec.host_call
        fetches.append(host_fn(*host_tensors))
        all_hooks.append(_SummaryWritersHook())
      creator = tf.train.ChiefSessionCreator(scaffold=scaffold, checkpoint_dir=self.model_dir,
                                             config=self._session_config)
      loss = None
      with tf.train.MonitoredSession(session_creator=creator, hooks=all_hooks) as session:
        while not session.should_stop():
          loss = session.run(fetches)[1]
      tf.logging.info("Loss for final step: %s.", loss)
    return self

  # --- evaluate ---------------------------------------------------------------------

  def evaluate(self, input_fn, steps=None, checkpoint_path=None, name=None, hooks=None):
    """Metric values (and `loss`, `global_step`) of a checkpoint on `input_fn`."""
    path = self._checkpoint(checkpoint_path, "evaluate")
    with tf.Graph().as_default():
      spec = self._build(input_fn, ModeKeys.EVAL)
      metrics = {}
      if spec.eval_metrics is not None:
        metric_fn, tensors = spec.eval_metrics
        metrics = dict(metric_fn(**tensors) if isinstance(tensors, dict)
                       else metric_fn(*tensors))
      metrics.setdefault("loss", tf.metrics.mean(spec.loss))
      values = {key: value for key, (value, _) in metrics.items()}
      values["global_step"] = tf.train.get_global_step()
      updates = tf.group(*[update for _, update in metrics.values()])
      final = tf.train.FinalOpsHook(values)
      all_hooks = list(hooks or []) + list(spec.evaluation_hooks or [])
      all_hooks += [_StopAfterHook(steps), final]
      creator = tf.train.ChiefSessionCreator(
          scaffold=self._scaffold(spec), checkpoint_filename_with_path=path,
          config=self._session_config)
      with tf.train.MonitoredSession(session_creator=creator, hooks=all_hooks) as session:
        while not session.should_stop():
          session.run(updates)
    results = final.final_ops_values
    self._write_eval_summaries(results, name)
    return results

  def _write_eval_summaries(self, results, name):
    eval_dir = os.path.join(self.model_dir, "eval" if not name else "eval_" + name)
    summary = tf.Summary(value=[
        tf.Summary.Value(tag=key, simple_value=float(value))
        for key, value in sorted(results.items()) if key != "global_step"])
    # A graph of its own: scripts on TF 2 run with eager execution on, and the v1
    # writer needs graph mode.
    with tf.Graph().as_default():
      writer = tf.summary.FileWriter(eval_dir)
      writer.add_summary(summary, int(results["global_step"]))
      writer.close()

  # --- predict ----------------------------------------------------------------------

  def predict(self, input_fn, checkpoint_path=None, yield_single_examples=True,
              hooks=None):
    """Yields the spec's predictions, one dict per example (or per batch)."""
    path = self._checkpoint(checkpoint_path, "predict")
    with tf.Graph().as_default():
      spec = self._build(input_fn, ModeKeys.PREDICT)
      all_hooks = list(hooks or []) + list(spec.prediction_hooks or [])
      creator = tf.train.ChiefSessionCreator(
          scaffold=self._scaffold(spec), checkpoint_filename_with_path=path,
          config=self._session_config)
      with tf.train.MonitoredSession(session_creator=creator, hooks=all_hooks) as session:
        while not session.should_stop():
          batch = session.run(spec.predictions)
          if not yield_single_examples:
            yield batch
            continue
          for index in range(len(next(iter(batch.values())))):
            yield {key: value[index] for key, value in batch.items()}


def _checkpoint_step(path):
  """The global step stored in checkpoint `path` (0 for None)."""
  if path is None:
    return 0
  return int(tf.train.load_variable(path, tf.GraphKeys.GLOBAL_STEP))
