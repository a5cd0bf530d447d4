# coding=utf-8
"""What a model is made of: its variables by group, and their parameter counts.

`model_variable_shapes` builds the model a config describes (nothing is
initialised) and lists its variables with their shapes; `group_variables`,
`group_counts` and `format_inventory` sort any {name: shape} (a checkpoint's,
via tf_checkpoints.checkpoint_shapes, or a config's) into the groups of
checkpoint_names.variable_group, as inspect_checkpoint.py prints them.
"""

import collections

import numpy as np
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert import linguistics
import modeling

# Display order and titles of the groups; NSP, training state and unknown
# names are shown together as "other".
GROUP_TITLES = collections.OrderedDict([
    (checkpoint_names.ENCODER, "encoder"),
    (checkpoint_names.MLM, "MLM"),
    (checkpoint_names.HEADS, "linguistic heads"),
    ("other", "other"),
])


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
