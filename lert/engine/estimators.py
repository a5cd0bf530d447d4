# coding=utf-8
"""The engine a run goes through, made from a settings.RuntimeConfig.

`make_estimator` returns a TPUEstimator on TPU, GPU and CPU, a
tf.estimator.Estimator under a tf.distribute strategy (several GPUs or
machines), or a session_runner.Estimator where TensorFlow has no tf.estimator
(2.16+); `session_config` sets XLA, the CPU thread pools and CPU mixed
precision. model_fns build their specs with `ModelSpec`, compare modes with
`ModeKeys` and build the encoder with `bert_from_features`, so none of them
knows which engine runs it.

Nothing here reads flags: every function takes its settings as arguments.
"""

import os

import tensorflow.compat.v1 as tf

from lert import errors
import modeling
from lert.engine import session_runner
from lert import settings
from lert.engine import summaries

# TF 1.15 to 2.15 have tf.estimator (TPUEstimator: TPUs need it); TF 2.16 and newer
# have none, and session_runner drives the same model_fns. model_fns build their
# specs and compare modes with these two names, so none of them knows the engine.
HAS_ESTIMATOR = hasattr(tf, "estimator")
ModeKeys = tf.estimator.ModeKeys if HAS_ESTIMATOR else session_runner.ModeKeys
ModelSpec = tf.estimator.tpu.TPUEstimatorSpec if HAS_ESTIMATOR else session_runner.EstimatorSpec


def supported_distributions():
  """The --distribution values this TensorFlow's engine can run."""
  return settings.DISTRIBUTIONS if HAS_ESTIMATOR else ("none",)


# --- Run configuration -----------------------------------------------------------


# Ops run side by side on machines without a GPU (session_config).
CPU_INTER_OP_THREADS = 2

# oneDNN's bfloat16 rewrite also moves element-wise ops to bfloat16, where
# TensorFlow's CPU kernels have no vector path and grappler's fusion of unary
# chains does not apply: the GELU, layer norms and softmax ran slower than in
# float32 plus the casts.  Only the matmuls (with their bias) gain, so these
# stay float32.  An environment variable the user set wins.
_AMP_CPU_LISTS_REMOVE = {
    "INFERLIST": ("Add", "AddN", "AddV2", "Erf", "Erfc", "Log", "LogSoftmax", "Mean", "Mul",
                  "RealDiv", "Reciprocal", "Rsqrt", "Sigmoid", "Softmax", "Sqrt", "Square",
                  "SquaredDifference", "Sub", "Sum", "Tanh"),
}


def session_config(use_xla=False, inter_op_threads=None, intra_op_threads=0,
                   use_amp=False, cpu_devices=1):
  """ConfigProto for training: XLA, CPU thread pools, CPU mixed precision.

  use_amp on a machine without a GPU turns on oneDNN's bfloat16 auto mixed
  precision (TF 2.9+ on CPUs with AVX512-BF16 or AMX; weights stay float32;
  settings.RuntimeConfig refuses it where TensorFlow lacks it).
  On GPUs mixed precision is float16 and set up by optimization.py instead.

  inter_op_threads=None picks CPU_INTER_OP_THREADS on machines without a GPU:
  two ops at a time, each large one spread over every core by oneDNN.  On the
  whole 2-core machine (bench/bench_vs_google.py, small config, examples/s)
  2 beat 1 (ops one after another leave cores idle between the matmuls) by
  1.39x on TF 1.15, 1.14x on TF 2.15 and 1.71x with --use_amp, and beat 0
  (TensorFlow's pool of a thread per core, oversubscribing oneDNN's) by 1.17x
  on TF 1.15 (tiny config), 1.03x on TF 2.15 and 1.13x with --use_amp.
  0 leaves a pool size to TensorFlow. cpu_devices > 1 splits the CPU into that
  many devices (/cpu:0, /cpu:1, ...) for --mirrored_devices.
  """
  if inter_op_threads is None:
    inter_op_threads = CPU_INTER_OP_THREADS if settings.cpu_only() else 0
  config = tf.ConfigProto(allow_soft_placement=True,
                          inter_op_parallelism_threads=inter_op_threads,
                          intra_op_parallelism_threads=intra_op_threads)
  if cpu_devices > 1:
    config.device_count["CPU"] = cpu_devices
  if use_amp and settings.cpu_only():
    for name, ops in _AMP_CPU_LISTS_REMOVE.items():
      # Read by grappler when a session's graph is optimised: set before it.
      os.environ.setdefault("TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_%s_REMOVE" % name,
                            ",".join(ops))
    rewrite_options = config.graph_options.rewrite_options
    rewrite_options.auto_mixed_precision_onednn_bfloat16 = (
        type(rewrite_options).ON)
  if use_xla:
    config.graph_options.optimizer_options.global_jit_level = (
        tf.OptimizerOptions.ON_1)
    # Auto-clustering only covers GPUs unless the CPU is named explicitly; the
    # flag is read when XLA first initialises, i.e. before the first session.
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "--tf_xla_cpu_global_jit" not in flags:
      os.environ["TF_XLA_FLAGS"] = (flags + " --tf_xla_cpu_global_jit").strip()
  return config


def cpu_device_count(devices):
  """How many CPU devices --mirrored_devices needs (/cpu:N -> N + 1; at least 1)."""
  return max([1] + [int(d.split(":")[1]) + 1 for d in devices if d.startswith("/cpu:")])


def make_distribution(distribution, num_gpus=0, devices=()):
  """A tf.distribute strategy for `distribution` in settings.DISTRIBUTIONS, or None.

  "mirrored": synchronous data parallelism over `devices` (--mirrored_devices),
  else this machine's first `num_gpus` GPUs, all of them (0), or the CPU if
  there are none.  "multi_worker": synchronous all-reduce across the machines
  listed in the TF_CONFIG environment variable.
  """
  if distribution == "none":
    return None
  if distribution == "mirrored":
    if not devices and num_gpus:
      devices = ["/gpu:%d" % i for i in range(num_gpus)]
    return tf.distribute.MirroredStrategy(devices=list(devices) or None)
  return tf.distribute.experimental.MultiWorkerMirroredStrategy()


def make_estimator(model_fn, output_dir, runtime, train_batch_size=32,
                   eval_batch_size=8, predict_batch_size=8, params=None):
  """The engine for `runtime` (a settings.RuntimeConfig) around `model_fn`.

  A TPUEstimator on TPU, GPU or CPU; a tf.estimator.Estimator under a
  tf.distribute strategy; a session_runner.Estimator where TensorFlow has no
  tf.estimator (2.16+).  Batch sizes are global (all replicas together), as
  BERT's flags have always meant.  Under a strategy the input_fn sees the
  per-replica batch size in params["batch_size"].  Thread settings: see
  session_config.
  """
  def common_config(inter_op_threads):
    return dict(model_dir=output_dir,
                save_checkpoints_steps=runtime.save_checkpoints_steps,
                keep_checkpoint_max=runtime.keep_checkpoint_max,
                log_step_count_steps=runtime.log_step_count_steps,
                save_summary_steps=runtime.save_summary_steps,
                session_config=session_config(
                    runtime.use_xla, inter_op_threads, runtime.intra_op_threads,
                    runtime.use_amp, cpu_device_count(runtime.mirrored_devices)))

  if not HAS_ESTIMATOR:
    return _session_runner_estimator(model_fn, output_dir, runtime, train_batch_size,
                                     eval_batch_size, predict_batch_size, params)
  strategy = make_distribution(runtime.distribution, runtime.num_gpus,
                               runtime.mirrored_devices)
  if strategy is not None:
    replicas = strategy.num_replicas_in_sync
    tf.logging.info("--distribution=%s: %d replicas (%s)", runtime.distribution, replicas,
                    ", ".join(runtime.mirrored_devices) or "the devices TensorFlow sees")
    for name, size in (("train_batch_size", train_batch_size),
                       ("eval_batch_size", eval_batch_size)):
      if size % replicas:
        raise errors.UserError("--%s %d is not divisible by the %d replicas" %
                               (name, size, replicas))
    inter_op_threads = runtime.inter_op_threads
    if inter_op_threads is None:
      inter_op_threads = 0  # collective all-reduce ops block a pool thread each
    run_config = tf.estimator.RunConfig(
        train_distribute=strategy, eval_distribute=strategy,
        **common_config(inter_op_threads))
    run_params = dict(params or {})
    run_params["batch_size"] = train_batch_size // replicas
    run_params["num_replicas"] = replicas

    def strategy_model_fn(features, labels, mode, params):
      spec = model_fn(features, labels, mode, params)
      spec = spec.as_estimator_spec() if hasattr(spec, "as_estimator_spec") else spec
      if mode != ModeKeys.TRAIN:
        return spec
      # tf.estimator logs only global_step/sec; log examples/sec as the others do.
      rate = summaries.ExamplesPerSecondHook(train_batch_size, runtime.log_step_count_steps)
      return spec._replace(training_chief_hooks=list(spec.training_chief_hooks) + [rate])

    return tf.estimator.Estimator(model_fn=strategy_model_fn, config=run_config,
                                  params=run_params)

  cluster = None
  if runtime.use_tpu and runtime.tpu_name:
    cluster = tf.distribute.cluster_resolver.TPUClusterResolver(
        runtime.tpu_name, zone=runtime.tpu_zone, project=runtime.gcp_project)
  run_config = tf.estimator.tpu.RunConfig(
      cluster=cluster,
      master=runtime.master,
      tpu_config=tf.estimator.tpu.TPUConfig(
          # Off TPUs there is no device loop, but TPUEstimator still divides
          # log_step_count_steps by it (and rounds up): with 1000 it would log
          # and write a summary after every step whatever --log_step_count_steps says.
          iterations_per_loop=runtime.iterations_per_loop if runtime.use_tpu else 1,
          num_shards=runtime.num_tpu_cores,
          per_host_input_for_training=(
              tf.estimator.tpu.InputPipelineConfig.PER_HOST_V2)),
      **common_config(runtime.inter_op_threads))
  return tf.estimator.tpu.TPUEstimator(
      use_tpu=runtime.use_tpu,
      model_fn=model_fn,
      config=run_config,
      params=dict(params or {}),
      train_batch_size=train_batch_size,
      eval_batch_size=eval_batch_size,
      predict_batch_size=predict_batch_size)


def _session_runner_estimator(model_fn, output_dir, runtime, train_batch_size,
                              eval_batch_size, predict_batch_size, params):
  """The estimator-free engine; refuses what only (TPU)Estimator can do."""
  engines = "TensorFlow 1.15 or 2.15 (.venv-tf1 / .venv-tf2), which have tf.estimator"
  if runtime.use_tpu:
    raise errors.UserError("--use_tpu needs TPUEstimator, which TensorFlow %s does not "
                           "have: run on %s" % (tf.__version__, engines))
  if runtime.distribution not in supported_distributions():
    # tf.distribute strategies in graph mode are driven by the estimator's
    # replicated model_fn calls; a plain MonitoredSession cannot do that.
    raise errors.UserError("--distribution=%s needs tf.estimator, which TensorFlow %s "
                           "does not have: run on %s" % (runtime.distribution,
                                                         tf.__version__, engines))
  return session_runner.Estimator(
      model_fn, output_dir, params=params, train_batch_size=train_batch_size,
      eval_batch_size=eval_batch_size, predict_batch_size=predict_batch_size,
      save_checkpoints_steps=runtime.save_checkpoints_steps,
      keep_checkpoint_max=runtime.keep_checkpoint_max,
      save_summary_steps=runtime.save_summary_steps,
      log_step_count_steps=runtime.log_step_count_steps,
      session_config=session_config(runtime.use_xla, runtime.inter_op_threads,
                                    runtime.intra_op_threads, runtime.use_amp))


def bert_from_features(bert_config, features, is_training, use_one_hot_embeddings):
  """The encoder over the features every script feeds it (input ids, mask, segments)."""
  return modeling.BertModel(
      config=bert_config,
      is_training=is_training,
      input_ids=features["input_ids"],
      input_mask=features["input_mask"],
      token_type_ids=features["segment_ids"],
      use_one_hot_embeddings=use_one_hot_embeddings)


