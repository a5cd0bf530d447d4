# coding=utf-8
"""Estimator plumbing shared by run_pretraining.py and the fine-tuning scripts.

One place for: the TPUEstimator and its RunConfig on TPU, GPU and CPU (and
tf.distribute strategies for several GPUs or machines) made from a
settings.RuntimeConfig, XLA, initialising from
a checkpoint with a restored / new / left-over report, TFRecord input
pipelines with input validation that names the bad file and feature, writing
TFRecords, TensorBoard summaries through a host call, and an examples/sec hook.

Nothing here reads flags: every function takes its settings as arguments.
"""

import collections
import os
import re
import time

import numpy as np
import tensorflow as _tf_root
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert import errors
import modeling
from lert.engine import session_runner
from lert import settings
# tf.compat.v2 is reachable from the root module in TF 1.15 and TF 2.x alike.
_summary_v2 = _tf_root.compat.v2.summary

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
                   use_amp=False):
  """ConfigProto for training: XLA, CPU thread pools, CPU mixed precision.

  use_amp on a machine without a GPU turns on oneDNN's bfloat16 auto mixed
  precision (TF 2.9+ on CPUs with AVX512-BF16 or AMX; weights stay float32;
  settings.RuntimeConfig refuses it where TensorFlow lacks it).
  On GPUs mixed precision is float16 and set up by optimization.py instead.

  inter_op_threads=None picks 1 on machines without a GPU: with oneDNN every
  large op already uses all cores (intra-op), and running several such ops at
  once only oversubscribes them (measured on 2 cores: 1.5x faster training).
  0 leaves a pool size to TensorFlow.
  """
  if inter_op_threads is None:
    inter_op_threads = 1 if settings.cpu_only() else 0
  config = tf.ConfigProto(allow_soft_placement=True,
                          inter_op_parallelism_threads=inter_op_threads,
                          intra_op_parallelism_threads=intra_op_threads)
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


def make_distribution(distribution, num_gpus=0):
  """A tf.distribute strategy for `distribution` in settings.DISTRIBUTIONS, or None.

  "mirrored": synchronous data parallelism over this machine's GPUs (or the
  CPU if there are none).  "multi_worker": synchronous all-reduce across the
  machines listed in the TF_CONFIG environment variable.
  """
  if distribution == "none":
    return None
  if distribution == "mirrored":
    devices = (["/gpu:%d" % i for i in range(num_gpus)] if num_gpus else None)
    return tf.distribute.MirroredStrategy(devices=devices)
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
                session_config=session_config(runtime.use_xla, inter_op_threads,
                                              runtime.intra_op_threads,
                                              runtime.use_amp))

  if not HAS_ESTIMATOR:
    return _session_runner_estimator(model_fn, output_dir, runtime, train_batch_size,
                                     eval_batch_size, predict_batch_size, params)
  strategy = make_distribution(runtime.distribution, runtime.num_gpus)
  if strategy is not None:
    replicas = strategy.num_replicas_in_sync
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
      rate = ExamplesPerSecondHook(train_batch_size, runtime.log_step_count_steps)
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
          iterations_per_loop=runtime.iterations_per_loop,
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


# --- Initialising from a checkpoint ----------------------------------------------------

CheckpointReport = collections.namedtuple(
    "CheckpointReport", ["restored", "new", "left_over"])

def checkpoint_report(tvars, init_checkpoint):
  """Which graph variables `init_checkpoint` restores, which are new, what is left.

  Raises ValueError naming every variable whose shape differs between the graph
  and the checkpoint (a different vocabulary or model size).
  """
  mismatches = modeling.checkpoint_mismatches(tvars, init_checkpoint)
  if mismatches:
    raise errors.UserError(
        "%s does not fit this model; shape differs for: %s" % (
            init_checkpoint, "; ".join("%s (model %s, checkpoint %s)" % m
                                       for m in mismatches)))
  assignment_map, _ = modeling.get_assignment_map_from_checkpoint(
      tvars, init_checkpoint)
  graph_names = [re.sub(r":\d+$", "", v.name) for v in tvars]
  stored_names = [name for name, _ in tf.train.list_variables(init_checkpoint)]
  restored = sorted(assignment_map)
  new = sorted(n for n in graph_names if n not in assignment_map)
  left_over = sorted(n for n in stored_names
                     if n not in assignment_map and not checkpoint_names.is_training_state(n))
  return CheckpointReport(restored, new, left_over)


def log_checkpoint_report(report, init_checkpoint, max_names=60):
  def show(names):
    shown = ", ".join(names[:max_names])
    return shown + (" ... (%d more)" % (len(names) - max_names)
                    if len(names) > max_names else "")
  tf.logging.info("Initialising from %s: %d variables restored, %d new, "
                  "%d left over in the checkpoint", init_checkpoint,
                  len(report.restored), len(report.new), len(report.left_over))
  tf.logging.info("  restored: %s", show(report.restored))
  tf.logging.info("  new (freshly initialised): %s", show(report.new) or "none")
  tf.logging.info("  left over (in checkpoint, unused): %s",
                  show(report.left_over) or "none")


def init_from_checkpoint(init_checkpoint, use_tpu, tvars=None):
  """Restores every same-named, same-shaped variable from `init_checkpoint`.

  Call inside a model_fn after the graph is built.  Returns
  (scaffold_fn or None, CheckpointReport or None); the report is also logged.
  """
  if not init_checkpoint:
    return None, None
  tvars = tvars if tvars is not None else tf.trainable_variables()
  report = checkpoint_report(tvars, init_checkpoint)
  log_checkpoint_report(report, init_checkpoint)
  assignment_map = {name: name for name in report.restored}
  if use_tpu:
    def scaffold_fn():
      tf.train.init_from_checkpoint(init_checkpoint, assignment_map)
      return tf.train.Scaffold()
    return scaffold_fn, report
  tf.train.init_from_checkpoint(init_checkpoint, assignment_map)
  return None, report


def resolve_checkpoint(path):
  """A checkpoint prefix from a prefix or a directory (its latest checkpoint).

  The checkpoint is verified (verify_checkpoint).
  """
  if not path:
    return path
  if tf.gfile.IsDirectory(path):
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      raise errors.UserError("%s is a directory with no checkpoint in it" % path)
    path = latest
  elif not tf.gfile.Exists(path + ".index"):
    raise errors.UserError("checkpoint %s not found (no %s.index)" % (path, path))
  verify_checkpoint(path)
  return path


def verify_checkpoint(prefix):
  """Raises errors.UserError naming the file if a checkpoint cannot be read whole.

  Reads the index and compares the bytes its tensors need with the sizes of
  the .data shards, without reading the tensors: a copy or download that was
  cut short is caught before TensorFlow fails somewhere in a session.
  """
  index = prefix + ".index"
  try:
    reader = tf.train.load_checkpoint(prefix)
  except tf.errors.OpError as e:
    raise errors.UserError("%s: not a readable checkpoint index (%s)" %
                           (index, e.message.splitlines()[0]))
  dtypes = reader.get_variable_to_dtype_map()
  needed = 0
  for name, shape in reader.get_variable_to_shape_map().items():
    if dtypes[name] != tf.string:  # strings have no fixed size
      needed += int(np.prod(shape, dtype=np.int64)) * dtypes[name].size
  shards = sorted(tf.gfile.Glob(prefix + ".data-?????-of-?????"))
  expected_shards = int(shards[0][-5:]) if shards else 1
  if len(shards) != expected_shards:
    raise errors.UserError("%s: %d of the %d .data shards the checkpoint needs are "
                           "there (%s)" % (prefix, len(shards), expected_shards,
                                           ", ".join(shards) or "none"))
  present = sum(tf.gfile.Stat(path).length for path in shards)
  if present < needed:
    raise errors.UserError(
        "%s is truncated: %d bytes, but %s lists tensors of %d bytes (was a copy or "
        "download cut short?)" % (" + ".join(shards), present, index, needed))


# --- TFRecords -----------------------------------------------------------------------


def int_feature(values):
  return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def float_feature(values):
  return tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))


def make_example(feature_dict):
  """tf.train.Example from {name: list of ints or floats}; floats by first value."""
  features = collections.OrderedDict()
  for name, values in feature_dict.items():
    values = list(values)
    if values and isinstance(values[0], float):
      features[name] = float_feature(values)
    else:
      features[name] = int_feature(values)
  return tf.train.Example(features=tf.train.Features(feature=features))


def write_examples(path, feature_dicts):
  """Writes dicts {name: list of ints/floats} as a TFRecord of tf.train.Example."""
  count = 0
  with tf.io.TFRecordWriter(path) as writer:
    for feature_dict in feature_dicts:
      writer.write(make_example(feature_dict).SerializeToString())
      count += 1
  return count


def expand_input_files(patterns):
  """Comma-separated globs (or a list of them) -> sorted existing file list."""
  if isinstance(patterns, str):
    patterns = [p for p in patterns.split(",") if p.strip()]
  files = []
  for pattern in patterns:
    matched = tf.gfile.Glob(pattern.strip())
    if not matched:
      raise errors.UserError("input file pattern %s matches no file" % pattern)
    files.extend(sorted(matched))
  return files


def validate_tfrecords(input_files, name_to_features):
  """Checks the first record of every file against `name_to_features`.

  Catches the usual mistakes before the first step, with an error that names
  the file and the feature: data made for another max_seq_length or
  max_predictions_per_seq, a missing feature, a wrong type, a corrupt file.
  """
  for path in input_files:
    try:
      first = next(iter(tf.io.tf_record_iterator(path)), None)
    except tf.errors.OpError as e:
      raise errors.UserError("%s: not a readable TFRecord file (%s)" %
                             (path, e.message.splitlines()[0]))
    if first is None:
      raise errors.UserError("%s: contains no records" % path)
    try:
      example = tf.train.Example.FromString(first)
    except Exception as e:  # protobuf raises its own DecodeError
      raise errors.UserError("%s: first record is not a tf.train.Example (%s)" % (path, e))
    features = example.features.feature
    for name, spec in name_to_features.items():
      if name not in features:
        raise errors.UserError("%s: feature %r is missing (the file has: %s)" % (
            path, name, ", ".join(sorted(features))))
      kind = features[name].WhichOneof("kind")
      want = "float_list" if spec.dtype == tf.float32 else "int64_list"
      if kind != want:
        raise errors.UserError("%s: feature %r is %s, expected %s" %
                               (path, name, kind, want))
      length = len(getattr(features[name], kind).value)
      expected = spec.shape[0] if len(spec.shape) else 1
      if length != expected:
        raise errors.UserError(
            "%s: feature %r has length %d, expected %d (was the data made with "
            "another max_seq_length / max_predictions_per_seq?)" %
            (path, name, length, expected))


def decode_record(record, name_to_features):
  """Parses one record; int64 becomes int32 (TPUs only take int32)."""
  example = tf.parse_single_example(record, name_to_features)
  for name in list(example):
    if example[name].dtype == tf.int64:
      example[name] = tf.cast(example[name], tf.int32)
  return example


def tfrecord_input_fn_builder(input_files, name_to_features, is_training,
                              drop_remainder, shuffle_buffer=100, seed=None,
                              num_cpu_threads=4, validate=True):
  """An input_fn over TFRecords of tf.train.Example (TPUEstimator-compatible).

  Training reads files in parallel, shuffles and repeats; evaluation and
  prediction read files in order, once.  Under a tf.distribute multi-worker
  strategy each worker reads its own shard of the files (or of the records when
  there are fewer files than workers).
  """
  if isinstance(input_files, str):
    input_files = expand_input_files(input_files)
  if not input_files:
    raise errors.UserError("no input files")
  if validate:
    validate_tfrecords(input_files, name_to_features)

  def input_fn(params, input_context=None):
    batch_size = params["batch_size"]
    if is_training:
      files = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
      if input_context is not None and input_context.num_input_pipelines > 1:
        if len(input_files) >= input_context.num_input_pipelines:
          files = files.shard(input_context.num_input_pipelines,
                              input_context.input_pipeline_id)
      files = files.repeat().shuffle(len(input_files), seed=seed)
      dataset = files.interleave(
          tf.data.TFRecordDataset,
          cycle_length=min(num_cpu_threads, len(input_files)),
          num_parallel_calls=min(num_cpu_threads, len(input_files)))
      if (input_context is not None and input_context.num_input_pipelines > 1
          and len(input_files) < input_context.num_input_pipelines):
        dataset = dataset.shard(input_context.num_input_pipelines,
                                input_context.input_pipeline_id)
      dataset = dataset.shuffle(shuffle_buffer, seed=seed)
    else:
      dataset = tf.data.TFRecordDataset(input_files)
    dataset = dataset.map(lambda record: decode_record(record, name_to_features),
                          num_parallel_calls=num_cpu_threads)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return dataset.prefetch(2)

  return input_fn


# --- Summaries and hooks ----------------------------------------------------------------


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
  themselves, so the scripts pass log=False and make_estimator adds a logging
  hook only to the engine that lacks one (tf.estimator under a strategy).
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


# --- Results files ---------------------------------------------------------------------


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
  with tf.gfile.GFile(path, "w") as writer:
    if header:
      writer.write(header.rstrip("\n") + "\n")
    for key in sorted(results):
      value = results[key]
      if hasattr(value, "item"):
        value = value.item()
      writer.write("%s = %s\n" % (key, value))

