"""Optimizers, learning-rate schedule, gradient accumulation and loss scaling.

`create_optimizer` keeps the call signature of Google BERT's function (the first
five arguments are positional there) and builds one `train_op` per
`session.run`, so it fits Estimator and TPUEstimator train loops. The global step
counts parameter UPDATES: with gradient accumulation it moves once every
`grad_accum_steps` runs, and with mixed precision it does not move when an
update is skipped because of non-finite gradients.

Variables this module adds to checkpoints (all non-trainable, all global):
  <var>/adam_m, <var>/adam_v      moments (BERT's names, so BERT/LERT
                                  checkpoints that carry them restore)
  lamb_step                       LAMB's bias-correction step (LAMB only)
  <var>/grad_accum                gradient sums (grad_accum_steps > 1 only)
  grad_accum_micro_step           runs since the start (grad_accum_steps > 1)
  loss_scale/scale, loss_scale/good_steps   dynamic loss scale (use_amp only)
"""

import math
import re

import tensorflow.compat.v1 as tf

from lert.settings import OPTIMIZER_NAMES  # noqa: F401  (--optimizer's values; API)

DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def learning_rate_schedule(init_lr, global_step, num_train_steps,
                           num_warmup_steps):
  """Returns BERT's learning rate: linear warm-up, then linear decay to 0.

  While step < num_warmup_steps: init_lr * step / num_warmup_steps.
  Otherwise: init_lr * (1 - min(step, num_train_steps) / num_train_steps),
  i.e. polynomial decay of power 1 without cycling. As in BERT the decay is a
  function of the global step itself, so it has already decayed by
  num_warmup_steps / num_train_steps when warm-up ends.
  """
  if num_train_steps <= 0:
    raise ValueError("num_train_steps must be positive, got %r" %
                     (num_train_steps,))
  if num_warmup_steps < 0:
    raise ValueError("num_warmup_steps must be >= 0, got %r" %
                     (num_warmup_steps,))
  with tf.name_scope("learning_rate_schedule"):
    step = tf.cast(global_step, tf.float32)
    total = float(num_train_steps)
    decayed = init_lr * (1.0 - tf.minimum(step, total) / total)
    if num_warmup_steps:
      warmup = init_lr * step / float(num_warmup_steps)
      decayed = tf.where_v2(step < float(num_warmup_steps), warmup, decayed)
  return tf.identity(decayed, name="learning_rate")


def _variable_name(var):
  """`var.name` without the output suffix (":0")."""
  match = re.match(r"^(.*):\d+$", var.name)
  return match.group(1) if match else var.name


def _matches_any(name, patterns):
  return any(re.search(p, name) is not None for p in (patterns or ()))


class _DecoupledWeightDecayOptimizer(tf.train.Optimizer):
  """Shared parts of AdamW and LAMB: moments, decoupled decay, exclusions.

  Built on tf.train.Optimizer's hooks (rather than a hand-written
  apply_gradients) so that slot creation is lifted out of tf.cond, the global
  step is incremented as tf.train.Optimizer documents, and wrappers such as
  tf.tpu.CrossShardOptimizer work unchanged.
  """

  def __init__(self, learning_rate, weight_decay_rate, beta_1, beta_2,
               epsilon, exclude_from_weight_decay, name):
    super(_DecoupledWeightDecayOptimizer, self).__init__(False, name)
    self.learning_rate = learning_rate
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = exclude_from_weight_decay
    self._lr_t = None

  def _do_use_weight_decay(self, param_name):
    if not self.weight_decay_rate:
      return False
    return not _matches_any(param_name, self.exclude_from_weight_decay)

  def _create_slots(self, var_list):
    # The third argument is the variable-name suffix: "<var>/adam_m".
    for var in var_list:
      self._zeros_slot(var, "adam_m", "adam_m")
      self._zeros_slot(var, "adam_v", "adam_v")

  def _prepare(self):
    self._lr_t = tf.convert_to_tensor(
        self._call_if_callable(self.learning_rate), name="learning_rate")

  def _direction(self, next_m, next_v):
    """The step direction before weight decay and scaling."""
    raise NotImplementedError

  def _scale_update(self, update, var, param_name):
    """Hook for LAMB's trust ratio; AdamW applies the update as is."""
    del var, param_name
    return update

  def _apply_one(self, grad, var):
    param_name = _variable_name(var)
    dtype = var.dtype.base_dtype
    grad = tf.cast(grad, dtype)
    m = self.get_slot(var, "adam_m")
    v = self.get_slot(var, "adam_v")
    next_m = self.beta_1 * m + (1.0 - self.beta_1) * grad
    next_v = self.beta_2 * v + (1.0 - self.beta_2) * tf.square(grad)
    update = self._direction(next_m, next_v)
    # Decoupled weight decay: added to the update, not to the loss, so it does
    # not interact with the moments (Loshchilov & Hutter).
    if self._do_use_weight_decay(param_name):
      update += self.weight_decay_rate * var
    update = self._scale_update(update, var, param_name)
    next_param = var - tf.cast(self._lr_t, dtype) * update
    return tf.group(var.assign(next_param), m.assign(next_m),
                    v.assign(next_v))

  def _apply_dense(self, grad, var):
    return self._apply_one(grad, var)

  def _resource_apply_dense(self, grad, var):
    return self._apply_one(grad, var)

  # Sparse gradients (embedding lookups) are densified: like BERT, every row
  # gets its moments decayed and its weight decay on every step.
  def _apply_sparse(self, grad, var):
    return self._apply_one(tf.convert_to_tensor(grad), var)

  def _resource_apply_sparse(self, grad, var, indices):
    rows = tf.shape(var, out_type=indices.dtype)[0]
    return self._apply_one(
        tf.unsorted_segment_sum(grad, indices, rows), var)


class AdamWeightDecayOptimizer(_DecoupledWeightDecayOptimizer):
  """BERT's Adam with decoupled weight decay and no bias correction.

  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
  update = m / (sqrt(v) + eps) + weight_decay_rate * w   (decay unless excluded)
  w = w - lr * update

  Unlike BERT's class, `apply_gradients` increments `global_step` when one is
  given, as tf.train.Optimizer documents (`create_optimizer` relies on it).
  """

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               name="AdamWeightDecayOptimizer"):
    super(AdamWeightDecayOptimizer, self).__init__(
        learning_rate, weight_decay_rate, beta_1, beta_2, epsilon,
        exclude_from_weight_decay, name)

  def _direction(self, next_m, next_v):
    return next_m / (tf.sqrt(next_v) + self.epsilon)


class LAMBOptimizer(_DecoupledWeightDecayOptimizer):
  """LAMB (You et al. 2019, arXiv 1904.00962, Algorithm 2) with BERT's decay.

  With t the number of updates so far including this one (`lamb_step` + 1):
    m = b1*m + (1-b1)*g;            v = b2*v + (1-b2)*g^2
    m_hat = m / (1 - b1^t);         v_hat = v / (1 - b2^t)
    r = m_hat / (sqrt(v_hat) + eps) + weight_decay_rate * w  (decay unless excluded)
    ratio = ||w|| / ||r||, or 1.0 when either norm is 0 (phi = identity)
    w = w - lr * ratio * r
  Norms are per variable ("layer"). Variables matching
  `exclude_from_layer_adaptation` (default: the weight-decay exclusions, i.e.
  LayerNorm and biases) use ratio 1.0, the common practice of the reference
  implementations: their norms say little about a useful step size.
  """

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               exclude_from_layer_adaptation=None,
               name="LAMBOptimizer"):
    super(LAMBOptimizer, self).__init__(
        learning_rate, weight_decay_rate, beta_1, beta_2, epsilon,
        exclude_from_weight_decay, name)
    if exclude_from_layer_adaptation is None:
      exclude_from_layer_adaptation = exclude_from_weight_decay
    self.exclude_from_layer_adaptation = exclude_from_layer_adaptation
    self._step_t = None

  def _create_slots(self, var_list):
    super(LAMBOptimizer, self)._create_slots(var_list)
    # An own counter rather than the global step: it stays right when the
    # global step is restored from elsewhere or not passed at all.
    first_var = min(var_list, key=lambda x: x.name)
    # Named after the variable scope like the slots, not after the name scope
    # of the caller (which is "cond/" inside create_optimizer's tf.cond).
    with tf.name_scope(tf.get_variable_scope().original_name_scope):
      self._create_non_slot_variable(
          initial_value=0.0, name="lamb_step", colocate_with=first_var)

  def _get_step(self):
    return self._get_non_slot_variable("lamb_step",
                                       graph=tf.get_default_graph())

  def _prepare(self):
    super(LAMBOptimizer, self)._prepare()
    self._step_t = self._get_step() + 1.0

  def _bias_correction(self, beta):
    # 1 - beta^t as -expm1(t * log(beta)): computing beta^t in float32 first
    # loses ~1e-4 relative accuracy to cancellation in the early steps.
    return -tf.math.expm1(self._step_t * math.log(beta))

  def _direction(self, next_m, next_v):
    m_hat = next_m / self._bias_correction(self.beta_1)
    v_hat = next_v / self._bias_correction(self.beta_2)
    return m_hat / (tf.sqrt(v_hat) + self.epsilon)

  def _scale_update(self, update, var, param_name):
    if _matches_any(param_name, self.exclude_from_layer_adaptation):
      return update
    w_norm = tf.norm(var)
    u_norm = tf.norm(update)
    usable = tf.logical_and(w_norm > 0.0, u_norm > 0.0)
    # The unselected branch of tf.where may divide by 0; it is discarded.
    ratio = tf.where_v2(usable, w_norm / u_norm, tf.ones_like(w_norm))
    return ratio * update

  def _finish(self, update_ops, name_scope):
    with tf.control_dependencies(update_ops):
      bump = self._get_step().assign_add(1.0)
    return tf.group(*(list(update_ops) + [bump]), name=name_scope)


def get_optimizer(optimizer_name,
                  learning_rate,
                  weight_decay_rate=0.01,
                  beta_1=0.9,
                  beta_2=0.999,
                  epsilon=1e-6,
                  exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY):
  """Builds "adamw" (BERT's AdamWeightDecay) or "lamb" by name."""
  key = optimizer_name.lower()
  if key == "adamw":
    cls = AdamWeightDecayOptimizer
  elif key == "lamb":
    cls = LAMBOptimizer
  else:
    raise ValueError("Unknown optimizer %r; expected one of %s" %
                     (optimizer_name, ", ".join(OPTIMIZER_NAMES)))
  return cls(learning_rate,
             weight_decay_rate=weight_decay_rate,
             beta_1=beta_1,
             beta_2=beta_2,
             epsilon=epsilon,
             exclude_from_weight_decay=(list(exclude_from_weight_decay)
                                        if exclude_from_weight_decay else None))


class DynamicLossScale(object):
  """A dynamic loss scale made of plain graph ops (same in TF 1.15 and 2.x).

  The scale and the count of finite steps since the last change are saved
  variables, so a resumed run continues with the scale it had. On each
  `update(finite)`: non-finite -> scale = max(scale / multiplier, min_scale)
  and the count restarts; finite -> the count grows, and after
  `growth_interval` finite steps in a row the scale is multiplied. These are
  the defaults and rules of tf.train.experimental.DynamicLossScale.
  """

  def __init__(self, initial_scale=2.0 ** 15, growth_interval=2000,
               multiplier=2.0, min_scale=1.0, name="loss_scale"):
    self.growth_interval = int(growth_interval)
    self.multiplier = float(multiplier)
    self.min_scale = float(min_scale)
    with tf.variable_scope(name):
      self.scale_variable = tf.get_variable(
          "scale", shape=[], dtype=tf.float32, trainable=False,
          initializer=tf.constant_initializer(float(initial_scale)))
      self.good_steps = tf.get_variable(
          "good_steps", shape=[], dtype=tf.int64, trainable=False,
          initializer=tf.zeros_initializer())
    # One read per step, used both to scale and to unscale: the update below
    # depends on the gradients, so it runs after this read.
    self.scale = self.scale_variable.read_value()

  def scale_loss(self, loss):
    return tf.cast(loss, tf.float32) * self.scale

  def unscale(self, grads):
    inv = 1.0 / self.scale
    return [None if g is None else g * tf.cast(inv, g.dtype) for g in grads]

  def update(self, finite):
    """Returns the op that adjusts the scale given a boolean `finite`."""
    good = self.good_steps + 1
    grow = tf.logical_and(finite, good >= self.growth_interval)
    shrunk = tf.maximum(self.scale / self.multiplier, self.min_scale)
    grown = self.scale * self.multiplier
    kept = tf.where_v2(grow, grown, self.scale)
    new_scale = tf.where_v2(finite, kept, shrunk)
    new_good = tf.where_v2(tf.logical_and(finite, tf.logical_not(grow)),
                           good, tf.zeros_like(good))
    return tf.group(self.scale_variable.assign(new_scale),
                    self.good_steps.assign(new_good))


def all_finite(tensors):
  """A scalar bool: every element of every tensor is finite."""
  checks = [tf.reduce_all(tf.is_finite(t)) for t in tensors]
  return tf.reduce_all(tf.stack(checks))


def _enable_auto_mixed_precision(optimizer):
  """Turns on TF's automatic mixed precision graph rewrite for new Sessions.

  Both TF 1.15 (tf.train.experimental) and 2.x (tf.compat.v1.mixed_precision)
  provide enable_mixed_precision_graph_rewrite. It sets a process-wide flag
  that makes every Session created afterwards (Estimator's included) run the
  grappler fp16 rewrite on Tensor-Core GPUs; elsewhere it changes nothing. The
  loss-scale wrapper it returns is discarded on purpose: loss scaling is done
  by DynamicLossScale here so that it composes with accumulation and clipping.
  A fixed scale of 1 keeps that wrapper from creating variables.
  """
  mp = getattr(tf, "mixed_precision", None)
  enable = getattr(mp, "enable_mixed_precision_graph_rewrite", None)
  if enable is None:
    enable = tf.train.experimental.enable_mixed_precision_graph_rewrite
  enable(optimizer, loss_scale=1)


def _clip(grads, clip_norm):
  if clip_norm:
    grads, _ = tf.clip_by_global_norm(grads, clip_norm)
  return grads


def _mean_over_replicas(replica_context, grads, tvars):
  """Each replica's `grads` replaced by their mean over the replicas.

  Reduced onto the variables' devices, as tf.train.Optimizer reduces (plain
  ReplicaContext.all_reduce cannot differentiate through mirrored variables).
  """
  def reduce(strategy, grads_and_vars):
    return strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.MEAN,
                                             grads_and_vars)
  return list(replica_context.merge_call(reduce, args=(list(zip(grads, tvars)),)))


def create_optimizer(loss,
                     init_lr,
                     num_train_steps,
                     num_warmup_steps,
                     use_tpu,
                     optimizer_name="adamw",
                     grad_accum_steps=1,
                     clip_norm=1.0,
                     weight_decay_rate=0.01,
                     beta_1=0.9,
                     beta_2=0.999,
                     epsilon=1e-6,
                     exclude_from_weight_decay=DEFAULT_EXCLUDE_FROM_WEIGHT_DECAY,
                     use_amp=False,
                     var_list=None,
                     init_loss_scale=2.0 ** 15,
                     loss_scale_growth_interval=2000):
  """Creates the training op (which also increments the global step).

  Args:
    loss: scalar loss of one (micro-)batch.
    init_lr, num_train_steps, num_warmup_steps: see learning_rate_schedule;
      steps are updates (global steps), not micro-batches.
    use_tpu: wrap the optimizer in tf.tpu.CrossShardOptimizer. As in BERT the
      gradients come from tf.gradients, so the shards' gradients are summed.
      Under a tf.distribute strategy (several GPUs, or workers) the replicas'
      gradients are averaged instead: the update is one device's on the global
      batch.
    optimizer_name: "adamw" (BERT's AdamWeightDecay) or "lamb".
    grad_accum_steps: N; every run adds grad / N to `<var>/grad_accum`; every
      N-th run clips and applies the sum, zeroes it and moves the global step.
      With N == 1 no accumulator exists.
    clip_norm: global-norm clip of the (accumulated) gradient; 0/None = off.
    weight_decay_rate, beta_1, beta_2, epsilon, exclude_from_weight_decay:
      optimizer hyper-parameters (regexes searched in variable names).
    use_amp: GPU mixed precision: the grappler fp16 rewrite plus a dynamic
      loss scale. An update whose gradients are not all finite is skipped:
      no variable changes and the global step stays.
    var_list: variables to train (default: tf.trainable_variables()).
    init_loss_scale, loss_scale_growth_interval: see DynamicLossScale.

  Returns:
    The train op.
  """
  grad_accum_steps = int(grad_accum_steps)
  if grad_accum_steps < 1:
    raise ValueError("grad_accum_steps must be >= 1, got %d" % grad_accum_steps)

  global_step = tf.train.get_or_create_global_step()
  learning_rate = learning_rate_schedule(init_lr, global_step, num_train_steps,
                                         num_warmup_steps)
  optimizer = get_optimizer(optimizer_name, learning_rate,
                            weight_decay_rate=weight_decay_rate,
                            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                            exclude_from_weight_decay=exclude_from_weight_decay)
  if use_amp:
    _enable_auto_mixed_precision(optimizer)
  if use_tpu:
    optimizer = tf.tpu.CrossShardOptimizer(optimizer)

  tvars = list(var_list) if var_list is not None else tf.trainable_variables()
  loss_scale = None
  if use_amp:
    loss_scale = DynamicLossScale(init_loss_scale, loss_scale_growth_interval)
    loss = loss_scale.scale_loss(loss)
  grads = tf.gradients(loss, tvars)
  # Variables outside the loss (e.g. the pooler in pretraining) are left
  # alone, as in BERT: no moments, no decay.
  pairs = [(g, v) for g, v in zip(grads, tvars) if g is not None]
  if not pairs:
    raise ValueError("The loss has no gradient for any of the variables.")
  # Dense from here on: accumulation, finiteness checks and the optimizer all
  # need it, and the optimizer would densify embedding gradients anyway.
  # tf.tuple gates them (like GATE_GRAPH): no variable may change before every
  # gradient that reads it has been computed. Global-norm clipping gates too,
  # but clipping can be switched off.
  grads = tf.tuple([tf.convert_to_tensor(g) for g, _ in pairs])
  tvars = [v for _, v in pairs]
  if loss_scale is not None:
    grads = loss_scale.unscale(grads)
  # Under a tf.distribute strategy each replica differentiates the mean loss of
  # its share of the batch, and tf.train.Optimizer sums what the replicas pass
  # it. The mean over replicas is the gradient of the global batch: that is what
  # is checked, clipped and (divided by the replicas, for the sum) applied, so
  # an update is the one a single device makes on the whole batch. It costs a
  # second all-reduce. TPUEstimator's CrossShardOptimizer is not a strategy
  # (one replica here) and keeps BERT's sum over the cores.
  replica_context = tf.distribute.get_replica_context()
  replicas = replica_context.num_replicas_in_sync if replica_context else 1
  if replicas > 1:
    grads = _mean_over_replicas(replica_context, grads, tvars)

  def apply_fn(gradients):
    clipped = _clip(gradients, clip_norm)
    if replicas > 1:
      clipped = [g * (1.0 / replicas) for g in clipped]
    return tf.group(optimizer.apply_gradients(
        list(zip(clipped, tvars)), global_step=global_step))

  extra_ops = []
  if grad_accum_steps == 1:
    if loss_scale is None:
      train_op = apply_fn(grads)
    else:
      finite = all_finite(grads)
      train_op = tf.cond(finite, lambda: apply_fn(grads), tf.no_op)
      extra_ops.append(loss_scale.update(finite))
  else:
    accums = [
        tf.get_variable(_variable_name(v) + "/grad_accum",
                        shape=v.shape, dtype=tf.float32, trainable=False,
                        initializer=tf.zeros_initializer())
        for v in tvars
    ]
    # Saved with the model (not a local variable) so that a checkpoint taken
    # mid-window restores a counter that agrees with the saved accumulators.
    micro_step = tf.get_variable(
        "grad_accum_micro_step", shape=[], dtype=tf.int64, trainable=False,
        initializer=tf.zeros_initializer())
    inv_n = 1.0 / grad_accum_steps
    adds = [a.assign_add(g * inv_n) for a, g in zip(accums, grads)]
    count = micro_step.assign_add(1)
    with tf.control_dependencies(adds):
      sums = [a.read_value() for a in accums]
      boundary = tf.equal(tf.floormod(count, grad_accum_steps), 0)
    if loss_scale is None:
      do_apply = boundary
    else:
      # A non-finite micro-batch makes its sum non-finite (inf/NaN persist
      # until the reset), so checking the sums skips the whole window.
      do_apply = tf.logical_and(boundary, all_finite(sums))
      extra_ops.append(loss_scale.update(all_finite(grads)))
    applied = tf.cond(do_apply, lambda: apply_fn(sums), tf.no_op)
    with tf.control_dependencies([applied]):
      # assign, not multiply: 0 * NaN would keep a poisoned sum.
      reset = tf.cond(
          boundary,
          lambda: tf.group(*[a.assign(tf.zeros(a.shape, a.dtype.base_dtype))
                           for a in accums]),
          tf.no_op)
    train_op = tf.group(applied, reset)
  return tf.group(train_op, *extra_ops, name="train_op")
