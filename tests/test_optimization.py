"""optimization.py: AdamW/LAMB against NumPy, schedule, clipping, accumulation, AMP."""

import inspect

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import optimization

B1, B2, EPS = 0.9, 0.999, 1e-6
EXCLUDE = ["LayerNorm", "layer_norm", "bias"]


def np_adamw(w, g, m, v, lr, wd, decay):
  """BERT's AdamWeightDecay step (no bias correction)."""
  m = B1 * m + (1 - B1) * g
  v = B2 * v + (1 - B2) * g * g
  update = m / (np.sqrt(v) + EPS)
  if decay:
    update = update + wd * w
  return w - lr * update, m, v


def np_lamb(w, g, m, v, t, lr, wd, decay, adapt):
  """LAMB step as documented in LAMBOptimizer (t counts from 1)."""
  m = B1 * m + (1 - B1) * g
  v = B2 * v + (1 - B2) * g * g
  update = (m / (1 - B1 ** t)) / (np.sqrt(v / (1 - B2 ** t)) + EPS)
  if decay:
    update = update + wd * w
  ratio = 1.0
  if adapt:
    w_norm, u_norm = np.linalg.norm(w), np.linalg.norm(update)
    if w_norm > 0 and u_norm > 0:
      ratio = w_norm / u_norm
  return w - lr * ratio * update, m, v


# PARAMS: name -> initial value; GRADS: name -> (gradient 1, gradient 2). The
# zero kernel exercises LAMB's trust ratio of 1.0 for a zero weight norm.
RNG = np.random.RandomState(0)
PARAMS = {
    "bert/layer_0/dense/kernel": RNG.randn(3, 2),
    "bert/layer_0/dense/bias": RNG.randn(2),
    "bert/layer_0/LayerNorm/gamma": 1.0 + 0.1 * RNG.randn(2),
    "bert/layer_0/zeros/kernel": np.zeros((2, 2)),
}
GRADS = {name: (RNG.randn(*value.shape), RNG.randn(*value.shape))
         for name, value in PARAMS.items()}


def make_vars(use_resource=False):
  return [tf.get_variable(name, initializer=tf.constant(value, tf.float32),
                          use_resource=use_resource)
          for name, value in PARAMS.items()]


def run_two_steps(optimizer, variables, sparse=False):
  """Applies GRADS[.][0] then GRADS[.][1]; returns params after each step."""
  ops = []
  for k in range(2):
    pairs = []
    for var in variables:
      g = tf.constant(GRADS[var.op.name][k], tf.float32)
      if sparse and len(var.shape) == 2:
        # Rows given twice in halves: duplicate indices must be summed.
        rows = var.shape.as_list()[0]
        idx = tf.constant(list(range(rows)) * 2, tf.int64)
        g = tf.IndexedSlices(tf.concat([0.5 * g, 0.5 * g], 0), idx,
                             tf.constant(var.shape.as_list(), tf.int64))
      pairs.append((g, var))
    ops.append(optimizer.apply_gradients(pairs))
  results = []
  with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for op in ops:
      sess.run(op)
      results.append(dict(zip([v.op.name for v in variables],
                              sess.run(variables))))
  return results


@pytest.mark.parametrize("use_resource,sparse",
                         [(False, False), (True, False), (False, True),
                          (True, True)])
def test_adamw_two_steps_match_numpy(use_resource, sparse):
  lr, wd = 0.1, 0.05
  with tf.Graph().as_default():
    variables = make_vars(use_resource)
    opt = optimization.AdamWeightDecayOptimizer(
        learning_rate=lr, weight_decay_rate=wd, beta_1=B1, beta_2=B2,
        epsilon=EPS, exclude_from_weight_decay=EXCLUDE)
    got = run_two_steps(opt, variables, sparse=sparse)
    slot_names = {v.op.name for v in tf.global_variables()}
  for name, value in PARAMS.items():
    w, m, v = value.copy(), np.zeros_like(value), np.zeros_like(value)
    decay = not ("bias" in name or "LayerNorm" in name)
    for k in range(2):
      w, m, v = np_adamw(w, GRADS[name][k], m, v, lr, wd, decay)
      np.testing.assert_allclose(got[k][name], w, rtol=1e-5, atol=1e-6)
    assert name + "/adam_m" in slot_names and name + "/adam_v" in slot_names
  # The decay exclusions are real: without them the bias would differ.
  name = "bert/layer_0/dense/bias"
  w_decayed, _, _ = np_adamw(PARAMS[name], GRADS[name][0], 0.0, 0.0, lr, wd,
                             True)
  assert not np.allclose(got[0][name], w_decayed, rtol=1e-5, atol=1e-6)


def test_lamb_two_steps_match_numpy():
  lr, wd = 0.1, 0.05
  with tf.Graph().as_default():
    variables = make_vars()
    opt = optimization.LAMBOptimizer(
        learning_rate=lr, weight_decay_rate=wd, beta_1=B1, beta_2=B2,
        epsilon=EPS, exclude_from_weight_decay=EXCLUDE)
    got = run_two_steps(opt, variables)
    names = {v.op.name for v in tf.global_variables()}
  assert "lamb_step" in names
  for name, value in PARAMS.items():
    w, m, v = value.copy(), np.zeros_like(value), np.zeros_like(value)
    plain = not ("bias" in name or "LayerNorm" in name)
    for k in range(2):
      w, m, v = np_lamb(w, GRADS[name][k], m, v, k + 1, lr, wd, plain, plain)
      np.testing.assert_allclose(got[k][name], w, rtol=1e-5, atol=1e-6)
  # The trust ratio is engaged on the kernel (not 1.0).
  name = "bert/layer_0/dense/kernel"
  w_no_ratio, _, _ = np_lamb(PARAMS[name], GRADS[name][0], 0.0, 0.0, 1, lr, wd,
                             True, False)
  assert not np.allclose(got[0][name], w_no_ratio, rtol=1e-4)


def test_learning_rate_schedule_values():
  with tf.Graph().as_default():
    step = tf.placeholder(tf.int64, [])
    lr = optimization.learning_rate_schedule(0.1, step, num_train_steps=100,
                                             num_warmup_steps=10)
    no_warmup = optimization.learning_rate_schedule(0.1, step, 100, 0)
    with tf.Session() as sess:
      def at(s, t=lr):
        return sess.run(t, {step: s})
      assert at(0) == 0.0
      np.testing.assert_allclose(at(5), 0.05, rtol=1e-6)       # mid warm-up
      np.testing.assert_allclose(at(9), 0.09, rtol=1e-6)
      np.testing.assert_allclose(at(10), 0.09, rtol=1e-6)      # decay from step 0
      np.testing.assert_allclose(at(55), 0.045, rtol=1e-6)     # mid decay
      assert at(100) == 0.0
      assert at(150) == 0.0                                    # no cycling
      np.testing.assert_allclose(at(0, no_warmup), 0.1, rtol=1e-6)
      np.testing.assert_allclose(at(25, no_warmup), 0.075, rtol=1e-6)


def test_create_optimizer_matches_numpy_with_clipping_and_schedule():
  """Two updates: clipping, schedule, decay exclusion, global step."""
  init_lr, wd, total = 0.1, 0.01, 10
  with tf.Graph().as_default():
    variables = make_vars()
    pooler = tf.get_variable("bert/pooler/dense/kernel", [2, 2])
    # d loss / d var = 100 * GRADS[.][0]: a global norm far above 1.0.
    loss = tf.add_n([tf.reduce_sum(var * 100.0 * GRADS[var.op.name][0])
                     for var in variables])
    train_op = optimization.create_optimizer(loss, init_lr, total, 0, False)
    global_step = tf.train.get_global_step()
    names = {v.op.name for v in tf.global_variables()}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      pooler_before = sess.run(pooler)
      got = []
      for _ in range(2):
        sess.run(train_op)
        got.append(dict(zip([v.op.name for v in variables],
                            sess.run(variables))))
      assert sess.run(global_step) == 2
      np.testing.assert_array_equal(sess.run(pooler), pooler_before)
      m_kernel = sess.run(
          tf.global_variables("bert/layer_0/dense/kernel/adam_m")[0])
  # The variable outside the loss gets no slots (BERT skips None gradients).
  assert "bert/pooler/dense/kernel/adam_m" not in names
  norm = np.sqrt(sum(np.sum((100.0 * g[0]) ** 2) for g in GRADS.values()))
  assert norm > 100.0
  state = {n: (PARAMS[n].copy(), 0.0, 0.0) for n in PARAMS}
  for k in range(2):
    lr = init_lr * (1.0 - k / total)
    for name in PARAMS:
      clipped = 100.0 * GRADS[name][0] / norm
      decay = not ("bias" in name or "LayerNorm" in name)
      state[name] = np_adamw(state[name][0], clipped, state[name][1],
                             state[name][2], lr, wd, decay)
      np.testing.assert_allclose(got[k][name], state[name][0], rtol=1e-5,
                                 atol=1e-6)
  # Clipping engaged: after one step m = (1 - b1) * clipped gradient.
  g0 = 100.0 * GRADS["bert/layer_0/dense/kernel"][0]
  expected_m = B1 * (1 - B1) * g0 / norm + (1 - B1) * g0 / norm
  np.testing.assert_allclose(m_kernel, expected_m, rtol=1e-5, atol=1e-7)


def _regression_graph(batch_size, grad_accum_steps, optimizer_name,
                      use_amp=False, use_tpu=False, clip_norm=1.0):
  x = tf.placeholder(tf.float32, [batch_size, 3])
  y = tf.placeholder(tf.float32, [batch_size, 2])
  init = PARAMS["bert/layer_0/dense/kernel"].astype(np.float32)
  kernel = tf.get_variable("bert/dense/kernel", initializer=init)
  bias = tf.get_variable("bert/dense/bias", initializer=tf.zeros([2]))
  gamma = tf.get_variable("bert/LayerNorm/gamma", initializer=tf.ones([2]))
  pred = gamma * (tf.matmul(x, kernel) + bias)
  loss = tf.reduce_mean(tf.square(pred - y))
  train_op = optimization.create_optimizer(
      loss, 0.05, 20, 2, use_tpu, optimizer_name=optimizer_name,
      grad_accum_steps=grad_accum_steps, use_amp=use_amp, clip_norm=clip_norm)
  # The parameters and their moments, which (unlike Adam's step) are not
  # invariant to the scale of the gradient.
  state = [kernel, bias, gamma] + [
      tf.global_variables(v.op.name + suffix)[0]
      for v in (kernel, bias, gamma) for suffix in ("/adam_m", "/adam_v")]
  return x, y, state, train_op


DATA_X = RNG.randn(3, 16, 3).astype(np.float32)        # 3 updates of 16 examples
DATA_Y = (5.0 * RNG.randn(3, 16, 2)).astype(np.float32)


def _train_big_batches(optimizer_name, clip_norm=1.0):
  with tf.Graph().as_default():
    x, y, state, train_op = _regression_graph(16, 1, optimizer_name,
                                              clip_norm=clip_norm)
    grad_norm = tf.global_norm(tf.gradients(
        tf.get_default_graph().get_tensor_by_name("Mean:0"), state[:3]))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      norms = []
      for k in range(3):
        feed = {x: DATA_X[k], y: DATA_Y[k]}
        norms.append(sess.run(grad_norm, feed))
        sess.run(train_op, feed)
      # The data is meant to make clipping matter.
      assert min(norms) > 2.0
      return sess.run(state)


@pytest.mark.parametrize("optimizer_name,clip_norm",
                         [("adamw", 1.0), ("adamw", 0.0), ("lamb", 1.0),
                          ("lamb", 0.0)])
def test_gradient_accumulation_equals_big_batch(optimizer_name, clip_norm):
  expected = _train_big_batches(optimizer_name, clip_norm)
  with tf.Graph().as_default():
    x, y, state, train_op = _regression_graph(4, 4, optimizer_name,
                                              clip_norm=clip_norm)
    variables = state[:3]
    global_step = tf.train.get_global_step()
    names = {v.op.name for v in tf.global_variables()}
    local_names = {v.op.name for v in tf.local_variables()}
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      steps = []
      for k in range(3):
        for j in range(4):
          sess.run(train_op, {x: DATA_X[k, 4 * j:4 * j + 4],
                              y: DATA_Y[k, 4 * j:4 * j + 4]})
          steps.append(sess.run(global_step))
      got = sess.run(state)
      accums = sess.run([tf.global_variables(v.op.name + "/grad_accum")[0]
                         for v in variables])
  assert steps == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3]
  for a, b in zip(got, expected):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  for a in accums:
    assert not np.any(a)                  # zeroed after every update
  for v in variables:
    for suffix in ("/adam_m", "/adam_v", "/grad_accum"):
      assert v.op.name + suffix in names
  # Accumulators are saved with the model, and so is the micro-step counter.
  assert "grad_accum_micro_step" in names
  assert not any("grad_accum" in n for n in local_names)
  assert not any("grad_accum" in v.op.name for v in tf.trainable_variables())


def _mirrored_over_two_cpus():
  """A MirroredStrategy over two logical CPUs, and a session config that has them."""
  config = tf.ConfigProto(device_count={"CPU": 2})
  return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), config


@pytest.mark.parametrize("clip_norm", [1.0, 0.0])
def test_mirrored_replicas_train_like_one_device_on_the_global_batch(clip_norm):
  """Two replicas of 8 examples make the update of one device on all 16.

  Each replica differentiates the mean loss of its half and tf.train.Optimizer
  sums the replicas' gradients: without care that is twice the gradient of the
  global batch, and each half would be clipped on its own.
  """
  expected = _train_big_batches("adamw", clip_norm)
  replicas = 2
  with tf.Graph().as_default():
    strategy, config = _mirrored_over_two_cpus()
    x_all = tf.placeholder(tf.float32, [16, 3])
    y_all = tf.placeholder(tf.float32, [16, 2])
    holder = {}

    def replica_step():
      replica = tf.distribute.get_replica_context().replica_id_in_sync_group
      share = 16 // replicas
      x = tf.gather(tf.reshape(x_all, [replicas, share, 3]), replica)
      y = tf.gather(tf.reshape(y_all, [replicas, share, 2]), replica)
      init = PARAMS["bert/layer_0/dense/kernel"].astype(np.float32)
      kernel = tf.get_variable("bert/dense/kernel", initializer=init)
      bias = tf.get_variable("bert/dense/bias", initializer=tf.zeros([2]))
      gamma = tf.get_variable("bert/LayerNorm/gamma", initializer=tf.ones([2]))
      loss = tf.reduce_mean(tf.square(gamma * (tf.matmul(x, kernel) + bias) - y))
      holder["variables"] = [kernel, bias, gamma]
      return optimization.create_optimizer(loss, 0.05, 20, 2, False, clip_norm=clip_norm)

    with strategy.scope():
      run = getattr(strategy, "run", None) or strategy.experimental_run_v2
      train_op = tf.group(*strategy.experimental_local_results(run(replica_step)))
    variables = holder["variables"]
    state = variables + [tf.global_variables(v.op.name + suffix)[0]
                         for v in variables for suffix in ("/adam_m", "/adam_v")]
    with tf.Session(config=config) as sess:
      sess.run(tf.global_variables_initializer())
      for k in range(3):
        sess.run(train_op, {x_all: DATA_X[k], y_all: DATA_Y[k]})
      got = sess.run(state)
      step = sess.run(tf.train.get_global_step())
  assert step == 3
  for a, b in zip(got, expected):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_no_accumulators_without_accumulation():
  with tf.Graph().as_default():
    _regression_graph(4, 1, "adamw")
    names = [v.op.name for v in tf.global_variables()]
  assert not [n for n in names if "grad_accum" in n]
  assert sorted(n for n in names if n.endswith(("/adam_m", "/adam_v"))) == sorted(
      ["bert/dense/kernel/adam_m", "bert/dense/kernel/adam_v",
       "bert/dense/bias/adam_m", "bert/dense/bias/adam_v",
       "bert/LayerNorm/gamma/adam_m", "bert/LayerNorm/gamma/adam_v"])


def test_bert_compatible_signatures():
  params = list(inspect.signature(optimization.create_optimizer).parameters)
  assert params[:5] == ["loss", "init_lr", "num_train_steps",
                        "num_warmup_steps", "use_tpu"]
  params = list(inspect.signature(
      optimization.AdamWeightDecayOptimizer.__init__).parameters)
  assert params[1:8] == ["learning_rate", "weight_decay_rate", "beta_1",
                         "beta_2", "epsilon", "exclude_from_weight_decay",
                         "name"]
  assert issubclass(optimization.AdamWeightDecayOptimizer, tf.train.Optimizer)
  assert issubclass(optimization.LAMBOptimizer, tf.train.Optimizer)
  with tf.Graph().as_default():
    w = tf.get_variable("w", initializer=tf.ones([2]))
    train_op = optimization.create_optimizer(tf.reduce_sum(w * w), 1e-4, 100,
                                             10, False)
    assert isinstance(train_op, tf.Operation)
  with pytest.raises(ValueError, match="Unknown optimizer 'sgd'; expected one of adamw, lamb"):
    optimization.get_optimizer("sgd", 0.1)


def test_tpu_wraps_in_cross_shard_optimizer():
  # Only the graph can be checked here: CrossReplicaSum needs a TPU to run.
  for accum in (1, 2):
    with tf.Graph().as_default():
      _regression_graph(4, accum, "adamw", use_tpu=True)
      op_types = {op.type for op in tf.get_default_graph().get_operations()}
      assert "CrossReplicaSum" in op_types


def _mixed_precision_rewrite_enabled():
  # Private, but the only place both TF versions expose the flag.
  from tensorflow.python.training.experimental import (  # pylint: disable=g-import-not-at-top
      mixed_precision_global_state as state)
  if hasattr(state, "is_mixed_precision_graph_rewrite_enabled"):
    return state.is_mixed_precision_graph_rewrite_enabled()        # TF 2.x
  return state.mixed_precision_graph_rewrite_is_enabled            # TF 1.15


def _disable_mixed_precision_rewrite():
  mp = getattr(tf, "mixed_precision", None)
  disable = getattr(mp, "disable_mixed_precision_graph_rewrite", None)
  if disable is None:
    disable = tf.train.experimental.disable_mixed_precision_graph_rewrite
  disable()


@pytest.fixture
def amp_cleanup():
  """The rewrite flag is process-wide: switch it off for later tests."""
  yield
  if _mixed_precision_rewrite_enabled():
    _disable_mixed_precision_rewrite()


@pytest.mark.parametrize("accum", [1, 4])
def test_amp_builds_and_trains_like_fp32_on_cpu(amp_cleanup, accum):
  expected = _train_big_batches("adamw")
  with tf.Graph().as_default():
    x, y, state, train_op = _regression_graph(16 // accum, accum, "adamw",
                                              use_amp=True)
    assert _mixed_precision_rewrite_enabled()
    names = {v.op.name for v in tf.global_variables()}
    assert {"loss_scale/scale", "loss_scale/good_steps"} <= names
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      size = 16 // accum
      for k in range(3):
        for j in range(accum):
          sess.run(train_op, {x: DATA_X[k, size * j:size * (j + 1)],
                              y: DATA_Y[k, size * j:size * (j + 1)]})
      got = sess.run(state)
      assert sess.run(tf.train.get_global_step()) == 3
  # On CPU the rewrite is a no-op and scaling by 2^15 is exact in fp32.
  for a, b in zip(got, expected):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_amp_skips_non_finite_updates_and_adjusts_scale(amp_cleanup):
  with tf.Graph().as_default():
    factor = tf.placeholder(tf.float32, [])
    w = tf.get_variable("bert/w", initializer=tf.constant([1.0, -2.0]))
    train_op = optimization.create_optimizer(
        tf.reduce_sum(w * factor), 0.1, 100, 0, False, use_amp=True,
        init_loss_scale=8.0, loss_scale_growth_interval=2)
    global_step = tf.train.get_global_step()
    scale = tf.global_variables("loss_scale/scale")[0]
    good = tf.global_variables("loss_scale/good_steps")[0]
    m = tf.global_variables("bert/w/adam_m")[0]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(train_op, {factor: np.inf})               # skipped
      np.testing.assert_array_equal(sess.run(w), [1.0, -2.0])
      np.testing.assert_array_equal(sess.run(m), [0.0, 0.0])
      assert sess.run([global_step, scale, good]) == [0, 4.0, 0]
      sess.run(train_op, {factor: np.nan})               # skipped
      assert sess.run([global_step, scale, good]) == [0, 2.0, 0]
      sess.run(train_op, {factor: 1.0})                  # applied
      assert sess.run([global_step, scale, good]) == [1, 2.0, 1]
      assert sess.run(w)[0] < 1.0
      sess.run(train_op, {factor: 1.0})                  # 2 good steps: grow
      assert sess.run([global_step, scale, good]) == [2, 4.0, 0]


def test_amp_accumulation_skips_a_window_with_a_bad_micro_batch(amp_cleanup):
  with tf.Graph().as_default():
    factor = tf.placeholder(tf.float32, [])
    w = tf.get_variable("bert/w", initializer=tf.constant([1.0, -2.0]))
    train_op = optimization.create_optimizer(
        tf.reduce_sum(w * factor), 0.1, 100, 0, False, use_amp=True,
        grad_accum_steps=2, init_loss_scale=8.0)
    global_step = tf.train.get_global_step()
    scale = tf.global_variables("loss_scale/scale")[0]
    accum = tf.global_variables("bert/w/grad_accum")[0]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      sess.run(train_op, {factor: np.inf})
      sess.run(train_op, {factor: 1.0})                  # window 1: skipped
      np.testing.assert_array_equal(sess.run(w), [1.0, -2.0])
      np.testing.assert_array_equal(sess.run(accum), [0.0, 0.0])
      assert sess.run([global_step, scale]) == [0, 4.0]
      sess.run(train_op, {factor: 1.0})
      np.testing.assert_allclose(sess.run(accum), [0.5, 0.5])
      sess.run(train_op, {factor: 1.0})                  # window 2: applied
      assert sess.run(global_step) == 1
      assert sess.run(w)[0] < 1.0


def test_invalid_arguments():
  with tf.Graph().as_default():
    w = tf.get_variable("w", initializer=tf.ones([2]))
    with pytest.raises(ValueError, match="grad_accum_steps must be >= 1, got 0"):
      optimization.create_optimizer(tf.reduce_sum(w), 0.1, 10, 1, False,
                                    grad_accum_steps=0)
    with pytest.raises(ValueError, match="num_train_steps must be positive, got 0"):
      optimization.learning_rate_schedule(0.1, tf.constant(0), 0, 0)


def test_estimator_loop_counts_updates_and_resumes(tmp_path):
  """One train_op per engine step; max_steps counts updates; state is saved.

  The engine is the scripts' own: TPUEstimator where tf.estimator exists,
  session_runner where it does not.
  """
  from lert.engine import estimators
  from lert import settings
  def input_fn(params):
    data = (DATA_X.reshape(-1, 3), DATA_Y.reshape(-1, 2))
    return tf.data.Dataset.from_tensor_slices(data).repeat().batch(params["batch_size"])

  def model_fn(features, labels, mode, params):
    kernel = tf.get_variable("bert/dense/kernel", [3, 2])
    loss = tf.reduce_mean(tf.square(tf.matmul(features, kernel) - labels))
    train_op = optimization.create_optimizer(loss, 0.05, 10, 1, False,
                                             grad_accum_steps=4)
    return estimators.ModelSpec(mode, loss=loss, train_op=train_op)

  estimator = estimators.make_estimator(model_fn, str(tmp_path), settings.RuntimeConfig(),
                                        train_batch_size=4)
  estimator.train(input_fn, max_steps=2)
  reader = tf.train.load_checkpoint(estimator.latest_checkpoint())
  assert reader.get_tensor("global_step") == 2
  assert reader.get_tensor("grad_accum_micro_step") == 8
  for suffix in ("adam_m", "adam_v", "grad_accum"):
    assert reader.has_tensor("bert/dense/kernel/" + suffix)
  estimator.train(input_fn, max_steps=3)            # resumes from the checkpoint
  reader = tf.train.load_checkpoint(estimator.latest_checkpoint())
  assert reader.get_tensor("global_step") == 3
  assert reader.get_tensor("grad_accum_micro_step") == 12
