"""session_runner.Estimator: the estimator's loops on MonitoredSession (TF 2.16+ driver).

A linear model trained by plain gradient descent on fixed batches has a loss
sequence NumPy can replay exactly, so every mode is checked against NumPy; where
tf.estimator exists, the same model_fn also runs through TPUEstimator and both
must agree, checkpoints included.
"""

import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from lert.engine import session_runner
FEATURES = 3
BATCH = 4
LEARNING_RATE = 0.1
RNG = np.random.RandomState(7)
X = RNG.normal(size=(8 * BATCH, FEATURES)).astype(np.float32)
Y = (X.dot(np.array([1.5, -2.0, 0.5], np.float32)) + 0.3).astype(np.float32)


def input_fn(params):
  dataset = tf.data.Dataset.from_tensor_slices(({"x": X}, Y))
  return dataset.repeat().batch(params["batch_size"], drop_remainder=True)


def eval_input_fn(params):
  return tf.data.Dataset.from_tensor_slices(({"x": X}, Y)).batch(params["batch_size"])


def predict_input_fn(params):
  return tf.data.Dataset.from_tensor_slices({"x": X}).batch(params["batch_size"])


def make_model_fn(spec_class, warm_start_from=None):
  def model_fn(features, labels, mode, params):
    weights = tf.get_variable("linear/weights", [FEATURES], initializer=tf.zeros_initializer())
    bias = tf.get_variable("linear/bias", [], initializer=tf.zeros_initializer())
    scaffold_fn = None
    if warm_start_from:
      def scaffold_fn():
        tf.train.init_from_checkpoint(warm_start_from, {"linear/": "linear/"})
        return tf.train.Scaffold()
    output = tf.reduce_sum(features["x"] * weights, axis=1) + bias
    if mode == session_runner.ModeKeys.PREDICT:
      return spec_class(mode=mode, predictions={"output": output, "x": features["x"]},
                        scaffold_fn=scaffold_fn)
    loss = tf.reduce_mean(tf.square(output - labels))
    tf.add_to_collection("recorded_loss", loss)
    if mode == session_runner.ModeKeys.EVAL:
      def metric_fn(output, labels):
        return {"mse": tf.metrics.mean_squared_error(labels, output)}
      return spec_class(mode=mode, loss=loss, eval_metrics=(metric_fn, [output, labels]),
                        scaffold_fn=scaffold_fn)
    train_op = tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(
        loss, global_step=tf.train.get_global_step())
    return spec_class(mode=mode, loss=loss, train_op=train_op, scaffold_fn=scaffold_fn)
  return model_fn


def numpy_training(steps, weights=None, bias=0.0):
  weights = np.zeros(FEATURES, np.float64) if weights is None else weights.copy()
  losses = []
  batches = len(X) // BATCH
  for step in range(steps):
    x = X[(step % batches) * BATCH:(step % batches + 1) * BATCH].astype(np.float64)
    y = Y[(step % batches) * BATCH:(step % batches + 1) * BATCH].astype(np.float64)
    error = x.dot(weights) + bias - y
    losses.append(np.mean(error ** 2))
    weights -= LEARNING_RATE * 2 * x.T.dot(error) / BATCH
    bias -= LEARNING_RATE * 2 * error.mean()
  return weights, bias, losses


def runner(model_dir, **kwargs):
  settings = dict(train_batch_size=BATCH, eval_batch_size=BATCH, predict_batch_size=BATCH,
                  save_checkpoints_steps=5, log_step_count_steps=2, save_summary_steps=2)
  settings.update(kwargs)
  return session_runner.Estimator(make_model_fn(session_runner.EstimatorSpec), model_dir,
                                  **settings)


class LossRecorder(tf.train.SessionRunHook):
  """Records the loss of every training step, across train() calls."""

  def __init__(self):
    self.losses = []

  def begin(self):
    self._loss = tf.get_collection("recorded_loss")[0]

  def before_run(self, run_context):
    return tf.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    self.losses.append(float(run_values.results))


def test_train_matches_numpy_and_resumes(tmp_path):
  model_dir = str(tmp_path / "model")
  recorder = LossRecorder()
  estimator = runner(model_dir)
  estimator.train(input_fn, max_steps=7, hooks=[recorder])
  assert tf.train.load_variable(estimator.latest_checkpoint(), "global_step") == 7
  estimator.train(input_fn, max_steps=12, hooks=[recorder])  # resumes at 7
  # Like the estimator, a resumed run calls input_fn again: its input starts over.
  weights, bias, losses = numpy_training(7)
  weights, bias, more_losses = numpy_training(5, weights, bias)
  np.testing.assert_allclose(recorder.losses, losses + more_losses, rtol=1e-5)
  checkpoint = estimator.latest_checkpoint()
  assert os.path.basename(checkpoint) == "model.ckpt-12"
  np.testing.assert_allclose(tf.train.load_variable(checkpoint, "linear/weights"), weights,
                             rtol=1e-5)
  np.testing.assert_allclose(tf.train.load_variable(checkpoint, "linear/bias"), bias,
                             rtol=1e-5)
  # A finished run is not trained again.
  estimator.train(input_fn, max_steps=12, hooks=[recorder])
  assert len(recorder.losses) == 12
  # As the estimator's saver hook: at the start of a run, every 5 steps counted from
  # there, and at the end; TensorBoard events were written.
  state = tf.train.get_checkpoint_state(model_dir)
  steps = sorted(int(p.rsplit("-", 1)[1]) for p in state.all_model_checkpoint_paths)
  assert steps == [0, 5, 7, 12]
  assert any(name.startswith("events.out.tfevents") for name in os.listdir(model_dir))


def test_keep_checkpoint_max(tmp_path):
  estimator = runner(str(tmp_path), save_checkpoints_steps=1, keep_checkpoint_max=2)
  estimator.train(input_fn, max_steps=6)
  state = tf.train.get_checkpoint_state(str(tmp_path))
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == [
      "model.ckpt-5", "model.ckpt-6"]


def test_logs_examples_per_sec_like_tpu_estimator(tmp_path):
  messages = []

  class Capture(object):
    def __call__(self, message, *args):
      messages.append(message % args if args else message)

  original = tf.logging.info
  tf.logging.info = Capture()
  try:
    runner(str(tmp_path)).train(input_fn, max_steps=6)
  finally:
    tf.logging.info = original
  rates = [m for m in messages if m.startswith("examples/sec: ")]
  assert len(rates) >= 2 and all(float(m.split(": ")[1]) > 0 for m in rates)


def test_evaluate_and_predict_match_numpy(tmp_path):
  estimator = runner(str(tmp_path))
  estimator.train(input_fn, max_steps=10)
  weights, bias, _ = numpy_training(10)
  expected = X.astype(np.float64).dot(weights) + bias
  results = estimator.evaluate(eval_input_fn)
  assert results["global_step"] == 10
  np.testing.assert_allclose(results["mse"], np.mean((expected - Y) ** 2), rtol=1e-4)
  np.testing.assert_allclose(results["loss"], np.mean((expected - Y) ** 2), rtol=1e-4)
  assert os.path.isdir(os.path.join(str(tmp_path), "eval"))
  two = estimator.evaluate(eval_input_fn, steps=2, name="dev")
  np.testing.assert_allclose(two["mse"], np.mean((expected[:8] - Y[:8]) ** 2), rtol=1e-4)
  assert os.path.isdir(os.path.join(str(tmp_path), "eval_dev"))
  # An earlier checkpoint, by path.
  early = estimator.evaluate(eval_input_fn, checkpoint_path=os.path.join(
      str(tmp_path), "model.ckpt-5"))
  assert early["global_step"] == 5
  outputs = list(estimator.predict(predict_input_fn))
  assert len(outputs) == len(X)
  np.testing.assert_allclose([o["output"] for o in outputs], expected, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(outputs[3]["x"], X[3])
  batches = list(estimator.predict(predict_input_fn, yield_single_examples=False))
  assert len(batches) == len(X) // BATCH and batches[0]["output"].shape == (BATCH,)


def test_warm_start_through_scaffold(tmp_path):
  source = runner(str(tmp_path / "source"))
  source.train(input_fn, max_steps=4)
  weights, bias, _ = numpy_training(4)
  warm = session_runner.Estimator(
      make_model_fn(session_runner.EstimatorSpec, warm_start_from=source.latest_checkpoint()),
      str(tmp_path / "warm"), train_batch_size=BATCH, eval_batch_size=BATCH,
      save_checkpoints_steps=100)
  recorder = LossRecorder()
  warm.train(input_fn, max_steps=3, hooks=[recorder])
  # The warm run starts from the source's weights at global step 0.
  _, _, expected = numpy_training(3, weights, bias)
  np.testing.assert_allclose(recorder.losses, expected, rtol=1e-5)


@pytest.mark.skipif(not hasattr(tf, "estimator"),
                    reason="this TensorFlow has no tf.estimator to compare with")
def test_same_checkpoint_as_tpu_estimator(tmp_path):
  config = tf.estimator.tpu.RunConfig(model_dir=str(tmp_path / "tpu"),
                                      save_checkpoints_steps=5)
  reference = tf.estimator.tpu.TPUEstimator(
      model_fn=make_model_fn(tf.estimator.tpu.TPUEstimatorSpec), config=config,
      use_tpu=False, train_batch_size=BATCH, eval_batch_size=BATCH,
      predict_batch_size=BATCH)
  reference.train(input_fn, max_steps=9)
  ours = runner(str(tmp_path / "ours"))
  ours.train(input_fn, max_steps=9)
  ref_ckpt, our_ckpt = reference.latest_checkpoint(), ours.latest_checkpoint()
  assert os.path.basename(ref_ckpt) == os.path.basename(our_ckpt)
  def kept(model_dir):
    state = tf.train.get_checkpoint_state(model_dir)
    return [os.path.basename(p) for p in state.all_model_checkpoint_paths]
  assert kept(str(tmp_path / "tpu")) == kept(str(tmp_path / "ours"))
  ref_vars = dict(tf.train.list_variables(ref_ckpt))
  assert ref_vars == dict(tf.train.list_variables(our_ckpt))
  for name in ref_vars:
    np.testing.assert_allclose(tf.train.load_variable(our_ckpt, name),
                               tf.train.load_variable(ref_ckpt, name), rtol=1e-6)
  ref_eval = reference.evaluate(eval_input_fn, steps=None)
  our_eval = ours.evaluate(eval_input_fn)
  for key in ("mse", "loss", "global_step"):
    np.testing.assert_allclose(our_eval[key], ref_eval[key], rtol=1e-6)
  # Each driver resumes the other's checkpoints.
  ours_on_ref = runner(str(tmp_path / "tpu"))
  ours_on_ref.train(input_fn, max_steps=12)
  reference.train(input_fn, max_steps=12)  # finds step 12 and skips
  assert tf.train.load_variable(reference.latest_checkpoint(), "global_step") == 12


def test_engine_refuses_what_it_cannot_run_with_one_named_error(tmp_path):
  """Without tf.estimator, --use_tpu and strategies name the environments that have it."""
  from lert import errors
  from lert.engine import estimators
  from lert import settings
  model_fn = make_model_fn(estimators.ModelSpec)
  for runtime in (settings.RuntimeConfig(use_tpu=True),
                  settings.RuntimeConfig(distribution="mirrored")):
    if "mirrored" in estimators.supported_distributions():
      estimator = estimators.make_estimator(model_fn, str(tmp_path), runtime)
      assert hasattr(estimator, "train")
      continue
    with pytest.raises(errors.UserError, match="TensorFlow 1.15 or 2.15"):
      estimators.make_estimator(model_fn, str(tmp_path), runtime)
  # The plain runtime always has an engine, and it trains the same model_fn.
  estimator = estimators.make_estimator(model_fn, str(tmp_path / "plain"),
                                        settings.RuntimeConfig(), train_batch_size=BATCH)
  estimator.train(input_fn, max_steps=2)
  assert tf.train.load_variable(estimator.latest_checkpoint(), "global_step") == 2
