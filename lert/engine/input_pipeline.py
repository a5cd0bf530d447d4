# coding=utf-8
"""TFRecords in and out of the estimator: writing them, checking them, reading them.

`write_examples` writes records {field: values} as tf.train.Example protos, each
field typed as their lert.records.record_schema RecordType declares it, framed by
record_codec.tfrecord_chunks (the generator's framing). `tfrecord_input_fn_builder`
checks the first record of every file against the parsing spec
(`validate_tfrecords`: the error names the file and the feature) and returns a
TPUEstimator-compatible input_fn.
"""

import tensorflow.compat.v1 as tf

from lert import errors
from lert import fileio
from lert.records import record_codec
from lert.records import record_schema

def make_example(record, record_type):
  """tf.train.Example of `record` {field name: values}, typed as `record_type` declares.

  `record_type` is the record_schema.RecordType the records are of; a field
  it does not declare is a ValueError (a record may lack fields: the reader's
  check names them).
  """
  dtypes = dict((field.name, field.dtype) for field in record_type.fields)
  features = {}
  for name, values in record.items():
    dtype = dtypes.get(name)
    if dtype is None:
      raise ValueError("feature %s: the %s record type does not declare it" %
                       (name, record_type.name))
    if dtype == record_schema.FLOAT32:
      features[name] = tf.train.Feature(float_list=tf.train.FloatList(value=list(values)))
    else:
      features[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))
  return tf.train.Example(features=tf.train.Features(feature=features))


def write_examples(path, records, record_type):
  """Writes `records` of `record_type` (see make_example) to the TFRecord file `path`.

  Returns how many. The file appears whole or not at all
  (fileio.write_atomically).
  """
  count = [0]

  def serialized():
    for record in records:
      count[0] += 1
      yield make_example(record, record_type).SerializeToString()

  fileio.write_atomically(path, record_codec.tfrecord_chunks(serialized()))
  return count[0]


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
  """An input_fn over the TFRecord files `input_files` (a list; fileio.expand_patterns
  makes one of a flag's globs) of tf.train.Example (TPUEstimator-compatible).

  Training reads files in parallel, shuffles and repeats; evaluation and
  prediction read files in order, once.  Under a tf.distribute multi-worker
  strategy each worker reads its own shard of the files (or of the records when
  there are fewer files than workers).
  """
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


