# coding=utf-8
"""TensorFlow checkpoints: found, verified, read, and restored into a graph.

`resolve_checkpoint` (a prefix or a directory with a `checkpoint` state file)
and `find_checkpoint` (also a release directory holding one `*.index`) both
end in `verify_checkpoint`, which refuses a truncated copy before TensorFlow
fails somewhere in a session. `read_checkpoint` and `checkpoint_shapes` feed
the converters; `init_from_checkpoint` warm-starts a model_fn's graph and
reports what was restored, what is new and what was left over.
"""

import collections
import os
import re

import numpy as np
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert.checkpoints import inventory
from lert import errors
from lert import fileio
import modeling


def find_checkpoint(path):
  """A checkpoint prefix from a prefix or a directory.

  A directory without a `checkpoint` state file (as in HFL's and Google's
  release zips) is accepted when it holds exactly one `*.index` file.  The
  checkpoint is verified (verify_checkpoint).
  """
  if not path:
    raise errors.UserError("no checkpoint given")
  if tf.gfile.IsDirectory(path) and tf.train.latest_checkpoint(path) is None:
    indexes = fileio.glob(os.path.join(path, "*.index"))  # gs:// too
    if len(indexes) != 1:
      raise errors.UserError("%s: directory holds %s; name the checkpoint prefix" % (
          path, "no checkpoint" if not indexes else
          "%d checkpoints (%s)" % (len(indexes), ", ".join(
              os.path.basename(i) for i in indexes))))
    prefix = indexes[0][:-len(".index")]
    verify_checkpoint(prefix)
    return prefix
  return resolve_checkpoint(path)


def checkpoint_shapes(prefix):
  """OrderedDict name -> shape (list) of a checkpoint's variables."""
  return collections.OrderedDict(
      (name, list(shape)) for name, shape in tf.train.list_variables(prefix))


def _first_shape_difference(checkpoint, expected_shapes):
  """(name, shape in `checkpoint`, expected shape, how many differ), or None."""
  stored = checkpoint_shapes(checkpoint)
  differing = [(name, stored[name], list(shape)) for name, shape in expected_shapes.items()
               if name in stored and stored[name] != list(shape)]
  return differing[0] + (len(differing),) if differing else None


def check_model_fits(bert_config, config_file, output_dir, init_checkpoint,
                     with_heads):
  """Refuses, before any graph runs, a checkpoint the model cannot restore.

  A run resumes from `output_dir`'s latest checkpoint, else warm-starts from
  `init_checkpoint` (a resolved prefix or None): a variable the model has
  (its encoder, and with `with_heads` the pretraining heads) with another
  shape there is one UserError naming the checkpoint, the variable and both
  shapes, instead of TensorFlow's restore error deep in a session.
  """
  resume = tf.train.latest_checkpoint(output_dir)
  checkpoint = resume or init_checkpoint
  if not checkpoint:
    return
  difference = _first_shape_difference(
      checkpoint, inventory.model_variable_shapes(bert_config, with_heads=with_heads))
  if difference is None:
    return
  name, theirs, ours, count = difference
  # The form of checkpoint_report's message, which names every variable.
  differs = "shape differs for %s (model %s, checkpoint %s)%s" % (
      name, ours, theirs, " and %d more variables" % (count - 1) if count > 1 else "")
  if resume:
    raise errors.UserError(
        "--output_dir %s holds a checkpoint of another model (%s) than %s: %s; use "
        "another --output_dir, or the config that checkpoint was trained with" % (
            output_dir, resume, config_file, differs))
  raise errors.UserError("--init_checkpoint %s does not fit the model of %s: %s" % (
      init_checkpoint, config_file, differs))


def read_checkpoint(prefix):
  """OrderedDict name -> numpy array of every variable in a checkpoint."""
  reader = tf.train.load_checkpoint(prefix)
  names = sorted(reader.get_variable_to_shape_map())
  return collections.OrderedDict((name, reader.get_tensor(name)) for name in names)


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


CheckpointReport = collections.namedtuple(
    "CheckpointReport", ["restored", "new", "left_over"])


def checkpoint_report(tvars, init_checkpoint):
  """Which graph variables `init_checkpoint` restores, which are new, what is left.

  Raises errors.UserError naming every variable whose shape differs between the graph
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
  """Logs a CheckpointReport, at most `max_names` names per list."""
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
