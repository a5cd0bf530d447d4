# coding=utf-8
"""Every TFRecord type this project writes, declared once (no TensorFlow).

A record type is a list of fields: name, length and dtype (`int64` or
`float32`). A length is a number or the name of a setting (`max_seq_length`,
`max_predictions_per_seq`) given when the type is used. From the one
declaration come the TensorFlow parsing spec (`tf_spec`), the `feature_spec`
entry of the pretraining sidecar (`sidecar_entry`) and the generator's record
encoder (record_codec.ExampleEncoder takes the RecordType: field order, lengths
and dtypes are the declaration's), so that the pretraining data's writer and
reader cannot drift apart. Fine-tuning records are checked against their
declaration's field names (`make_record`), and their writer
(engine.input_pipeline.make_example) takes each field's dtype from the
declaration too.

Sharded files are named `<stem>-SSSSS-of-NNNNN<suffix>` (`shard_name`,
`parse_shard_name`): the generator's TFRecord shards
`pretraining-SSSSS-of-NNNNN.tfrecord` (`pretraining_shard_name`), which
pretraining_data recognises without a sidecar, and its annotation cache shards.
The pretraining data's sidecars are `<file>.json` (SIDECAR_SUFFIX) or, for every
file of its directory, `lert_data.json` (DIRECTORY_SIDECAR).
"""

import collections
import re

from lert import linguistics

# The settings a length may name, and the two dtypes of tf.train.Example lists.
SEQ, PREDICTIONS = "max_seq_length", "max_predictions_per_seq"
INT64, FLOAT32 = "int64", "float32"

Field = collections.namedtuple("Field", ["name", "length", "dtype"])


class RecordType(object):
  """A named, ordered list of fixed-length fields."""

  def __init__(self, name, fields):
    self.name = name
    self.fields = tuple(Field(*field) for field in fields)
    self.names = tuple(field.name for field in self.fields)

  def shapes(self, **lengths):
    """name -> (length, dtype) in field order, with the settings' lengths."""
    shapes = collections.OrderedDict()
    for field in self.fields:
      length = field.length
      if not isinstance(length, int):
        if length not in lengths:
          raise TypeError("record %s needs %s=" % (self.name, length))
        length = lengths[length]
      shapes[field.name] = (length, field.dtype)
    return shapes

  def sidecar_entry(self, **lengths):
    """{name: {"shape": [length], "dtype": dtype}}, as the sidecar records it."""
    return {name: {"shape": [length], "dtype": dtype}
            for name, (length, dtype) in self.shapes(**lengths).items()}

  def tf_spec(self, **lengths):
    """name -> tf.io.FixedLenFeature, for tf.io.parse_single_example."""
    import tensorflow.compat.v1 as tf
    dtypes = {INT64: tf.int64, FLOAT32: tf.float32}
    return collections.OrderedDict(
        (name, tf.FixedLenFeature([length], dtypes[dtype]))
        for name, (length, dtype) in self.shapes(**lengths).items())

  def make_record(self, **values):
    """The record {name: list} in field order; every field must be given."""
    if set(values) != set(self.names):
      raise TypeError("record %s: fields %s given, %s declared" % (
          self.name, ", ".join(sorted(values)), ", ".join(self.names)))
    return collections.OrderedDict((name, values[name]) for name in self.names)


_TOKENS = [("input_ids", SEQ, INT64), ("input_mask", SEQ, INT64),
           ("segment_ids", SEQ, INT64)]

# One pretraining instance: the masked sequence, what is to be predicted at the
# masked positions (0 in padding slots, weight 0), and the linguistic labels
# aligned with masked_lm_positions (ids into linguistics.LABELS; 0 where the
# annotator does not label a task). No next_sentence_labels: LERT has no NSP.
PRETRAINING = RecordType("pretraining", _TOKENS + [
    ("masked_lm_positions", PREDICTIONS, INT64),
    ("masked_lm_ids", PREDICTIONS, INT64),
    ("masked_lm_weights", PREDICTIONS, FLOAT32),
] + [("%s_labels" % task, PREDICTIONS, INT64) for task in linguistics.TASKS])

# Fine-tuning: `unique_id` ties a model output back to its feature.
CLASSIFICATION = RecordType("classification", [("unique_id", 1, INT64)] + _TOKENS + [
    ("label_ids", 1, INT64), ("is_real_example", 1, INT64)])
SPAN = RecordType("span", [("unique_id", 1, INT64)] + _TOKENS)
SPAN_TRAINING = RecordType("span_training", [("unique_id", 1, INT64)] + _TOKENS + [
    ("start_positions", 1, INT64), ("end_positions", 1, INT64)])
TAGGING = RecordType("tagging", [("unique_id", 1, INT64)] + _TOKENS + [
    ("label_ids", SEQ, INT64), ("label_mask", SEQ, INT64)])


# --- Shard file names ---------------------------------------------------------------

PRETRAINING_SHARD_STEM = "pretraining"
TFRECORD_SUFFIX = ".tfrecord"
_SHARD_NAME = re.compile(r"^(.*?)-(\d{5})-of-(\d{5})(\..*)?$")

# The pretraining data's sidecars: one per file, or one for its directory.
SIDECAR_SUFFIX = ".json"
DIRECTORY_SIDECAR = "lert_data.json"

ShardName = collections.namedtuple("ShardName", ["stem", "index", "count", "suffix"])


def shard_name(stem, index, count, suffix=""):
  """The file name of shard `index` (0-based) of `count`."""
  return "%s-%05d-of-%05d%s" % (stem, index, count, suffix)


def pretraining_shard_name(index, count):
  """The file name of the generator's TFRecord shard `index` of `count`."""
  return shard_name(PRETRAINING_SHARD_STEM, index, count, TFRECORD_SUFFIX)


def parse_shard_name(name):
  """The ShardName of a file name made by shard_name (suffix "" if none), or None."""
  match = _SHARD_NAME.match(name)
  if match is None:
    return None
  return ShardName(match.group(1), int(match.group(2)), int(match.group(3)),
                   match.group(4) or "")
