# coding=utf-8
"""Lists a checkpoint's variables grouped as encoder / MLM / linguistic heads / other.

  python inspect_checkpoint.py --checkpoint chinese_lert_base/lert_model.ckpt
  python inspect_checkpoint.py --config configs/lert_config_small.json --summary

With `--config` no checkpoint is needed: the model graph is built (nothing is
initialised) and its variables are counted.

Groups (checkpoint_names.variable_group):
  encoder           bert/...: embeddings, Transformer layers and pooler
  MLM               cls/predictions/transform/... and cls/predictions/output_bias
                    (the MLM output weights are the tied word embeddings)
  linguistic heads  cls/predictions/output_{pos,ner,dep}_layer/...
  other             optimizer slots, global step, Google's NSP head, unknown names

"Transformer only" in the README's table (~15M / ~102M / ~325M for
small / base / large) is the encoder group: every `bert/` variable, word
embeddings and pooler included, pretraining heads excluded.  Exactly:
small 15,083,776, base 102,267,648, large 325,522,432.

Also the TF side of the converters: finding, reading and listing checkpoints,
and the variable shapes a config implies.
"""

import collections
import glob
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert import errors
from lert.engine import estimator_utils
from lert import linguistics
import modeling
from lert import settings
# Display order and titles of the groups; NSP, training state and unknown
# names are shown together as "other".
GROUP_TITLES = collections.OrderedDict([
    (checkpoint_names.ENCODER, "encoder"),
    (checkpoint_names.MLM, "MLM"),
    (checkpoint_names.HEADS, "linguistic heads"),
    ("other", "other"),
])


def find_checkpoint(path):
  """A checkpoint prefix from a prefix or a directory.

  A directory without a `checkpoint` state file (as in HFL's and Google's
  release zips) is accepted when it holds exactly one `*.index` file.  The
  checkpoint is verified (estimator_utils.verify_checkpoint).
  """
  if not path:
    raise errors.UserError("no checkpoint given")
  if tf.gfile.IsDirectory(path) and tf.train.latest_checkpoint(path) is None:
    indexes = sorted(glob.glob(os.path.join(path, "*.index")))
    if len(indexes) != 1:
      raise errors.UserError("%s: directory holds %s; name the checkpoint prefix" % (
          path, "no checkpoint" if not indexes else
          "%d checkpoints (%s)" % (len(indexes), ", ".join(
              os.path.basename(i) for i in indexes))))
    prefix = indexes[0][:-len(".index")]
    estimator_utils.verify_checkpoint(prefix)
    return prefix
  return estimator_utils.resolve_checkpoint(path)


def checkpoint_shapes(prefix):
  """OrderedDict name -> shape (list) of a checkpoint's variables."""
  return collections.OrderedDict(
      (name, list(shape)) for name, shape in tf.train.list_variables(prefix))


def read_checkpoint(prefix):
  """OrderedDict name -> numpy array of every variable in a checkpoint."""
  reader = tf.train.load_checkpoint(prefix)
  names = sorted(reader.get_variable_to_shape_map())
  return collections.OrderedDict((name, reader.get_tensor(name)) for name in names)


def model_variable_shapes(bert_config, with_heads=True):
  """OrderedDict name -> shape of the LERT model a config describes.

  Builds BertModel and (with `with_heads`) the pretraining heads in a fresh
  graph, so the names and shapes are modeling.py's own.
  """
  with tf.Graph().as_default():
    input_ids = tf.placeholder(tf.int32, [1, 2])
    model = modeling.BertModel(bert_config, is_training=False, input_ids=input_ids)
    if with_heads:
      modeling.lert_pretraining_heads(
          bert_config, model.get_sequence_output(), model.get_embedding_table(),
          tf.zeros([1, 1], tf.int32), tasks=linguistics.TASKS)
    return collections.OrderedDict(
        (var.op.name, var.shape.as_list()) for var in tf.global_variables())


def parameter_count(shape):
  return int(np.prod(shape)) if len(shape) else 1


def display_group(name):
  """The GROUP_TITLES key under which a variable is shown."""
  group = checkpoint_names.variable_group(name)
  return group if group in GROUP_TITLES else "other"


def group_variables(shapes):
  """OrderedDict group -> [(name, shape, note)] for {name: shape}, in GROUP_TITLES order.

  `note` says why a variable is in "other" (training state, NSP, unknown).
  """
  groups = collections.OrderedDict((key, []) for key in GROUP_TITLES)
  for name in sorted(shapes):
    group = checkpoint_names.variable_group(name)
    note = "" if group in GROUP_TITLES else group
    groups[display_group(name)].append((name, list(shapes[name]), note))
  return groups


def group_counts(shapes):
  """OrderedDict group -> number of parameters."""
  return collections.OrderedDict(
      (group, sum(parameter_count(shape) for _, shape, _ in entries))
      for group, entries in group_variables(shapes).items())


def _millions(count):
  return "%.1fM" % (count / 1e6)


def format_inventory(shapes, list_variables=True, title=None):
  """Human-readable listing: per group its variables (optional) and counts."""
  lines = []
  if title:
    lines.append(title)
  groups = group_variables(shapes)
  for group, entries in groups.items():
    count = sum(parameter_count(shape) for _, shape, _ in entries)
    lines.append("%s: %d variables, %s parameters (%s)" % (
        GROUP_TITLES[group], len(entries), format(count, ","), _millions(count)))
    if list_variables:
      for name, shape, note in entries:
        lines.append("  %-64s %-16s %12s%s" % (
            name, shape, format(parameter_count(shape), ","),
            "  [%s]" % note if note else ""))
  counts = group_counts(shapes)
  encoder = counts[checkpoint_names.ENCODER]
  embeddings = parameter_count(shapes.get("bert/embeddings/word_embeddings", []))
  if not encoder:
    embeddings = 0
  lines.append("transformer only (encoder group, as in the README): %s (%s)" % (
      format(encoder, ","), _millions(encoder)))
  lines.append("  of which word embeddings: %s; without them: %s (%s)" % (
      format(embeddings, ","), format(encoder - embeddings, ","),
      _millions(encoder - embeddings)))
  model = encoder + counts[checkpoint_names.MLM] + counts[checkpoint_names.HEADS]
  lines.append("model with pretraining heads: %s (%s)" % (
      format(model, ","), _millions(model)))
  return "\n".join(lines)


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.split("\n")[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--checkpoint",
                      help="checkpoint prefix, or a directory holding one")
  source.add_argument("--config",
                      help="model config JSON: count the model it describes")
  parser.add_argument("--summary", action="store_true",
                      help="only the per-group counts, not every variable")
  args = parser.parse_args(argv)
  if args.checkpoint:
    prefix = find_checkpoint(args.checkpoint)
    shapes = checkpoint_shapes(prefix)
    title = "checkpoint %s" % prefix
  else:
    shapes = model_variable_shapes(modeling.BertConfig.from_json_file(args.config))
    title = "model of %s (no checkpoint)" % args.config
  print(format_inventory(shapes, list_variables=not args.summary, title=title))
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
