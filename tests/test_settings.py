# coding=utf-8
"""settings.py: the runtime flags every script shares, defined and checked once."""

import collections
import os

from absl import flags
import pytest

from lert import errors
from lert.finetune import common
from lert.finetune import driver
import run_classifier  # noqa: F401  (registers the tasks named in --task_name's help)
import run_cmrc2018  # noqa: F401
import run_ner  # noqa: F401
import run_pretraining
from lert import settings
def script_flags():
  """Each script's flags, defined on fresh FlagValues after every import."""
  return collections.OrderedDict([
      ("run_pretraining", run_pretraining.define_flags(flags.FlagValues())),
      ("run_classifier", driver.define_flags(flags.FlagValues(), common.CLASSIFICATION)),
      ("run_cmrc2018", driver.define_flags(flags.FlagValues(), common.SPAN)),
      ("run_ner", driver.define_flags(flags.FlagValues(), common.TAGGING))])


def test_every_script_has_the_same_runtime_flags():
  defined = script_flags()
  for setting in settings.RUNTIME_SETTINGS:
    for name, flag_values in defined.items():
      assert flag_values[setting.name].help.endswith(setting.help), (name, setting.name)
      expected = setting.default
      if name != "run_pretraining" and setting.name == "keep_checkpoint_max":
        expected = 3  # fine-tuning copies the best checkpoint aside
      assert flag_values[setting.name].default == expected, (name, setting.name)


def test_script_defaults_do_not_depend_on_what_else_is_imported():
  defined = script_flags()
  assert [fv["max_seq_length"].default for fv in defined.values()] == [512, 128, 512, 256]
  assert [fv["learning_rate"].default for fv in defined.values()] == [
      1e-4, 2e-5, 3e-5, 3e-5]
  assert [fv["num_train_epochs"].default for fv in list(defined.values())[1:]] == [
      3.0, 2.0, 3.0]
  assert "doc_stride" not in defined["run_classifier"]
  assert defined["run_cmrc2018"]["task_name"].help == "Task to run: cmrc2018, drcd."
  # A second definition is a bug, not a silent override.
  with pytest.raises(flags.DuplicateFlagError):
    driver.define_flags(defined["run_ner"], common.TAGGING)


@pytest.mark.parametrize("values,message", [
    (dict(grad_accum_steps=0), "--grad_accum_steps must be at least 1"),
    (dict(save_checkpoints_steps=0), "--save_checkpoints_steps must be at least 1"),
    (dict(grad_accum_steps=2, distribution="mirrored"),
     "--grad_accum_steps > 1 is not supported with --distribution=mirrored"),
    (dict(use_tpu=True, distribution="mirrored"),
     "--use_tpu and --distribution=mirrored exclude each other"),
])
def test_runtime_config_refuses_what_cannot_run(values, message):
  with pytest.raises(errors.UserError, match=message):
    settings.RuntimeConfig(**values)


def test_multi_worker_needs_tf_config(monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  with pytest.raises(errors.UserError, match="needs the TF_CONFIG"):
    settings.RuntimeConfig(distribution="multi_worker")
  with pytest.raises(ValueError, match="unknown runtime setting"):
    settings.RuntimeConfig(use_gpu=True)


@pytest.mark.parametrize("script", ["run_pretraining", "run_classifier"])
def test_both_scripts_refuse_accumulation_under_a_strategy(script, tmp_path):
  # optimization.py's accumulators cannot be updated per replica: fine-tuning
  # used to accept the flags and crash inside TensorFlow.
  flag_values = script_flags()[script]
  flag_values(["prog", "--grad_accum_steps=2", "--distribution=mirrored",
               "--do_train", "--output_dir=%s" % tmp_path,
               "--bert_config_file=%s" % (tmp_path / "missing.json")])
  module = run_pretraining if script == "run_pretraining" else run_classifier
  with pytest.raises(errors.UserError, match="--grad_accum_steps > 1 is not supported"):
    module.main([], flag_values)


def test_checkpoint_stops_and_training_steps():
  assert driver.checkpoint_stops(25, 10, evaluate=True) == [10, 20, 25]
  assert driver.checkpoint_stops(20, 10, evaluate=True) == [10, 20]
  assert driver.checkpoint_stops(25, 10, evaluate=False) == [25]
  config = driver.FinetuneConfig(common.CLASSIFICATION, train_batch_size=8,
                                 num_train_epochs=2.0)
  train = collections.namedtuple("Train", "num_records")(100)
  assert driver.training_steps(config, train) == (25, 2)
  assert driver.training_steps(config, None) == (0, 0)
  config = driver.FinetuneConfig(common.SPAN, num_train_steps=7)
  assert driver.training_steps(config, train) == (7, 0)
  assert config.max_seq_length == 512 and config.runtime.keep_checkpoint_max == 3


def test_cpu_amp_keeps_element_wise_ops_float32_unless_the_user_chose(monkeypatch):
  """--use_amp on a CPU: oneDNN's bfloat16 rewrite is on, and its infer list
  loses the element-wise ops (they are slower in bfloat16 there); a list the
  user set in the environment is left alone."""
  from lert.engine import estimators  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  fields = tf.ConfigProto().graph_options.rewrite_options.DESCRIPTOR.fields_by_name
  if "auto_mixed_precision_onednn_bfloat16" not in fields:
    pytest.skip("no oneDNN bfloat16 rewrite in this TF (settings refuses CPU --use_amp)")
  variable = "TF_AUTO_MIXED_PRECISION_GRAPH_REWRITE_INFERLIST_REMOVE"
  monkeypatch.setattr(settings, "cpu_only", lambda: True)
  monkeypatch.delenv(variable, raising=False)
  config = estimators.session_config(use_amp=True)
  options = config.graph_options.rewrite_options
  assert options.auto_mixed_precision_onednn_bfloat16 == type(options).ON
  removed = os.environ[variable].split(",")
  assert {"Erf", "Mul", "Softmax", "AddV2"} <= set(removed)
  assert "MatMul" not in removed and "BiasAdd" not in removed
  monkeypatch.setenv(variable, "Erf")
  estimators.session_config(use_amp=True)
  assert os.environ[variable] == "Erf"
  monkeypatch.delenv(variable)
  estimators.session_config(use_amp=False)
  assert variable not in os.environ


def test_log_step_count_steps_is_honoured_off_tpus(tmp_path):
  # TPUEstimator divides it by iterations_per_loop (1000 by default): off TPUs that
  # logged, and wrote a summary, after every step.
  from lert.engine import estimators
  runtime = settings.RuntimeConfig(log_step_count_steps=7)
  def model_fn(features, labels, mode, params):
    raise AssertionError("not called")

  estimator = estimators.make_estimator(model_fn, str(tmp_path), runtime)
  logged_every = getattr(estimator, "_log_every_n_steps", None)  # TPUEstimator
  if logged_every is None:  # the estimator-free engine (TF 2.16+)
    logged_every = estimator._log_step_count_steps
  assert logged_every == 7


def test_cpu_thread_and_graph_defaults_are_the_measured_ones(monkeypatch):
  """The defaults chosen on the whole 2-core machine (bench/bench_vs_google.py,
  docs/measured-figures.md): two inter-op threads and every core inside an op
  without a GPU, TensorFlow's choice with one; q/k/v fused on TF 2.x only; the
  oneDNN switch left to TensorFlow (on by default since TF 2.9)."""
  import modeling  # pylint: disable=g-import-not-at-top
  from lert.engine import estimators  # pylint: disable=g-import-not-at-top
  import tensorflow.compat.v1 as tf  # pylint: disable=g-import-not-at-top
  assert estimators.CPU_INTER_OP_THREADS == 2
  monkeypatch.setattr(settings, "cpu_only", lambda: True)
  config = estimators.session_config()
  assert (config.inter_op_parallelism_threads, config.intra_op_parallelism_threads) == (2, 0)
  assert estimators.session_config(inter_op_threads=0).inter_op_parallelism_threads == 0
  assert estimators.session_config(inter_op_threads=1).inter_op_parallelism_threads == 1
  monkeypatch.setattr(settings, "cpu_only", lambda: False)
  assert estimators.session_config().inter_op_parallelism_threads == 0
  assert settings.RuntimeConfig().inter_op_threads is None
  assert settings.RuntimeConfig().intra_op_threads == 0
  assert modeling._FUSE_QKV == (not tf.__version__.startswith("1."))
  monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
  monkeypatch.setattr(settings, "cpu_only", lambda: True)
  estimators.session_config()
  assert "TF_ENABLE_ONEDNN_OPTS" not in os.environ


def test_estimators_get_the_cpu_default_threads(monkeypatch, tmp_path):
  """The run config every script builds carries the default thread pools."""
  from lert.engine import estimators  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(settings, "cpu_only", lambda: True)
  estimator = estimators.make_estimator(
      lambda features, labels, mode, params: None, str(tmp_path),
      settings.RuntimeConfig(), train_batch_size=8)
  if estimators.HAS_ESTIMATOR:
    config = estimator.config.session_config
  else:  # session_runner.Estimator (TF 2.16+)
    config = estimator._session_config  # pylint: disable=protected-access
  assert config.inter_op_parallelism_threads == estimators.CPU_INTER_OP_THREADS
