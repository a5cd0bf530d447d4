# coding=utf-8
"""How every script handles its settings, and the runtime settings they share.

One way for all scripts: a table of `Setting`s (name, flag kind, default,
help) is the only place a setting is defined; `define_flags` turns a table
into absl flags when a script starts (never at import, so scripts can be
imported together without their flags colliding), `read_flags` reads them
back, and `complete` fills a config object's defaults from the same table.

Scripts with argparse flags use `ArgumentParser`, whose errors are user
errors (one `error:` line through errors.call_main).

`RuntimeConfig` is where and how a run executes: TPU, tf.distribute strategy,
XLA, mixed precision, CPU threads, optimizer, gradient accumulation and the
checkpoint/log cadence.  Every script defines its flags with
`define_runtime_flags`, gets a checked `RuntimeConfig` from
`runtime_from_flags`, and passes it on to estimators.make_estimator; no
script looks at the engine behind it, so another engine (one for TF versions
without tf.estimator) can take the same config.
"""

import argparse
import collections
import os
import re
import sys

from lert import errors

# Values of --distribution.
DISTRIBUTIONS = ("none", "mirrored", "multi_worker")
# Values of --optimizer (optimization.get_optimizer builds them). Declared here, not in
# optimization.py, so that reading settings never imports TensorFlow (the data generator's
# processes must not).
OPTIMIZER_NAMES = ("adamw", "lamb")

Setting = collections.namedtuple("Setting", ["name", "kind", "default", "help"])
Setting.__doc__ = """One setting: `kind` is an absl DEFINE_<kind> or "enum:a,b,c"."""


def define_flags(flag_values, table, defaults=None):
  """Defines an absl flag for every Setting of `table` on `flag_values`.

  `defaults` ({name: value}) replaces the table's defaults of a script.  The
  flags are key flags of the program that runs, so its --help lists them.
  """
  from absl import flags
  defaults = dict(defaults or {})
  check_names(table, defaults, "setting")
  for setting in table:
    default = defaults.get(setting.name, setting.default)
    if setting.kind.startswith("enum:"):
      flags.DEFINE_enum(setting.name, default, setting.kind[len("enum:"):].split(","),
                        setting.help, flag_values=flag_values)
    else:
      getattr(flags, "DEFINE_" + setting.kind)(setting.name, default, setting.help,
                                               flag_values=flag_values)
    flag_values.register_key_flag_for_module(sys.argv[0], flag_values[setting.name])
  return flag_values


class ArgumentParser(argparse.ArgumentParser):
  """argparse.ArgumentParser that raises errors.UserError for a bad command line.

  argparse itself prints its usage and `prog: error: ...` and exits; here the
  message goes the way of every user error (errors.call_main: one line).
  """

  def error(self, message):
    raise errors.UserError("%s (see %s --help)" % (message, self.prog))


def read_flags(flag_values, table):
  """{name: parsed value} of the flags of `table`."""
  return dict((s.name, flag_values[s.name].value) for s in table)


def check_names(table, values, what):
  """Raises ValueError naming the keys of `values` that `table` lacks."""
  unknown = sorted(set(values) - set(s.name for s in table))
  if unknown:
    raise ValueError("unknown %s(s): %s" % (what, ", ".join(unknown)))


def complete(table, values, what):
  """`values` with the table's defaults filled in; unknown names are an error."""
  check_names(table, values, what)
  full = dict((s.name, s.default) for s in table)
  full.update(values)
  return full


# --- Runtime settings -------------------------------------------------------------

RUNTIME_SETTINGS = (
    Setting("use_tpu", "bool", False, "Run on a TPU."),
    Setting("tpu_name", "string", None, "Cloud TPU name or grpc address."),
    Setting("tpu_zone", "string", None, "GCE zone of the Cloud TPU."),
    Setting("gcp_project", "string", None, "GCP project of the Cloud TPU."),
    Setting("master", "string", None, "TensorFlow master URL."),
    Setting("num_tpu_cores", "integer", 8, "TPU cores (8 for a v3-8)."),
    Setting("iterations_per_loop", "integer", 1000, "Steps per TPU loop."),
    Setting("distribution", "enum:" + ",".join(DISTRIBUTIONS), "none",
            "tf.distribute strategy for several GPUs (mirrored) or machines "
            "(multi_worker, cluster from TF_CONFIG)."),
    Setting("num_gpus", "integer", 0, "GPUs for --distribution=mirrored (0: all visible)."),
    Setting("mirrored_devices", "list", [],
            "Devices for --distribution=mirrored instead of --num_gpus, e.g. "
            "/gpu:0,/gpu:2; /cpu:0,/cpu:1 splits the CPU into that many devices "
            "(a replica each)."),
    Setting("use_xla", "bool", False, "XLA auto-clustering (jit)."),
    Setting("use_amp", "bool", False,
            "Mixed precision: float16 with dynamic loss scaling on GPUs; "
            "bfloat16 through oneDNN on CPUs (TF 2.9+)."),
    Setting("inter_op_threads", "integer", None,
            "Ops run side by side (default: 2 without a GPU, else TF's choice)."),
    Setting("intra_op_threads", "integer", 0, "Threads inside one op (0: all cores)."),
    Setting("optimizer", "enum:" + ",".join(OPTIMIZER_NAMES), "adamw",
            "adamw (BERT's AdamWeightDecay) or lamb."),
    Setting("grad_accum_steps", "integer", 1,
            "Micro-batches of train_batch_size accumulated per update (the "
            "global step counts updates)."),
    Setting("save_checkpoints_steps", "integer", 1000, "Checkpoint every N updates."),
    Setting("keep_checkpoint_max", "integer", 5, "Recent checkpoints kept."),
    Setting("log_step_count_steps", "integer", 100,
            "Log loss and examples/s every N steps."),
    Setting("save_summary_steps", "integer", 100,
            "Write TensorBoard summaries (losses, LIP weights, learning rate) every "
            "N steps."),
)


def cpu_only():
  """True when TensorFlow sees no GPU on this machine."""
  import tensorflow.compat.v1 as tf
  return not tf.config.experimental.list_physical_devices("GPU")


def _cpu_bfloat16_available():
  import tensorflow.compat.v1 as tf
  return hasattr(tf.ConfigProto().graph_options.rewrite_options,
                 "auto_mixed_precision_onednn_bfloat16")


class RuntimeConfig(object):
  """Where and how a run executes (RUNTIME_SETTINGS), checked when made.

  Raises errors.UserError (naming the flag) for settings that cannot work
  together or on this machine.
  """

  def __init__(self, **values):
    self.__dict__.update(complete(RUNTIME_SETTINGS, values, "runtime setting"))
    self._check()

  def _check(self):
    if self.distribution not in DISTRIBUTIONS:
      raise errors.UserError("--distribution must be one of %s, got %r" %
                             (", ".join(DISTRIBUTIONS), self.distribution))
    for name in ("grad_accum_steps", "save_checkpoints_steps"):
      if getattr(self, name) < 1:
        raise errors.UserError("--%s must be at least 1" % name)
    if self.grad_accum_steps > 1 and self.distribution != "none":
      # The accumulators are variables that each replica would update on its
      # own; TensorFlow refuses that for mirrored variables (checked in TF 1.15
      # and 2.15), so a strategy needs an all-reduced update every step.
      raise errors.UserError(
          "--grad_accum_steps > 1 is not supported with --distribution=%s; "
          "raise train_batch_size across replicas instead" % self.distribution)
    if self.use_tpu and self.distribution != "none":
      raise errors.UserError("--use_tpu and --distribution=%s exclude each other" %
                             self.distribution)
    if self.mirrored_devices:
      if self.distribution != "mirrored":
        raise errors.UserError("--mirrored_devices is for --distribution=mirrored, "
                               "not --distribution=%s" % self.distribution)
      if self.num_gpus:
        raise errors.UserError("give --mirrored_devices or --num_gpus, not both")
      bad = [d for d in self.mirrored_devices if not re.match(r"^/(gpu|cpu):\d+$", d)]
      if bad or len(set(self.mirrored_devices)) != len(self.mirrored_devices):
        raise errors.UserError("--mirrored_devices must be distinct devices such as "
                               "/gpu:0 or /cpu:1, got %s" % ",".join(self.mirrored_devices))
    if self.distribution == "multi_worker" and "TF_CONFIG" not in os.environ:
      raise errors.UserError(
          "--distribution=multi_worker needs the TF_CONFIG environment variable "
          "(cluster and task of this worker)")
    if self.use_amp and cpu_only() and not _cpu_bfloat16_available():
      import tensorflow.compat.v1 as tf
      raise errors.UserError(
          "--use_amp without a GPU means bfloat16 through oneDNN, which "
          "TensorFlow %s does not have (TF 2.9 or newer does)" % tf.__version__)


def define_runtime_flags(flag_values, **defaults):
  """Defines the runtime flags; `defaults` are a script's own defaults."""
  return define_flags(flag_values, RUNTIME_SETTINGS, defaults)


def runtime_from_flags(flag_values):
  """The checked RuntimeConfig of parsed flags."""
  return RuntimeConfig(**read_flags(flag_values, RUNTIME_SETTINGS))
