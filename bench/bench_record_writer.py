# coding=utf-8
"""Time and memory of the generator's TFRecord writer against the libraries'.

Usage:
  python bench/bench_record_writer.py [--instances 3000] [--rounds 5]
      [--max_seq_length 512] [--max_predictions_per_seq 75]

Every measurement is a fresh process, as a generator worker is: it imports
what its writer needs, builds the same masked instances (fixed seed), then
serializes and frames them into a TFRecord file. The writers:

  ours        lert/records/record_codec.py: the generator's Example encoder,
              crc32c framing
  protobuf    the `protobuf` package's Example (declared here, no TensorFlow),
              framed by record_codec (crc32c)
  tensorflow  tf.train.Example and tf.io.TFRecordWriter

The writers run in turn, `--rounds` times (the machine may be shared: compare
the ratios within one run). Printed per writer: the median start-up (imports),
write time (serialize + frame + write), the peak RSS of the process, and
whether its file is byte-identical to ours. A writer whose package is missing
is reported as such.
"""

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRITERS = ("ours", "protobuf", "tensorflow")


def _instances(count, max_seq_length, max_predictions):
  """The same masked instances in every process (synthetic words, fixed seed)."""
  import random
  from lert.generator import data_stats
  from lert.generator import instance_builder
  from lert.generator import options
  import tokenization
  tokenizer = tokenization.FullTokenizer(os.path.join(REPO_ROOT, "vocab.txt"))
  builder = instance_builder.InstanceBuilder(options.Options(
      max_seq_length=max_seq_length, max_predictions_per_seq=max_predictions),
                                             tokenizer.vocab)
  stats = data_stats.BuildStatistics(4, ())
  rng = random.Random(5)
  instances = []
  while len(instances) < count:
    segments = []
    for _ in range(40):
      ids, starts = [], []
      for _ in range(rng.randint(3, 40)):
        starts.append(len(ids))
        ids.extend(rng.randrange(100, 21128)
                   for _ in range(rng.choice([1, 1, 2, 2, 2, 3, 4])))
      labels = [rng.randrange(13) for _ in ids]
      segments.append(instance_builder.Segment(ids, labels, labels, labels, starts))
    instances.extend(builder.create_instances(segments, rng, stats))
  return instances[:count]


def _protobuf_example_class():
  """tf.train.Example declared with the protobuf package (same field numbers)."""
  from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
  field = descriptor_pb2.FieldDescriptorProto
  proto = descriptor_pb2.FileDescriptorProto(name="bench_example.proto",
                                             package="bench", syntax="proto3")

  def add_fields(message, fields):
    for name, number, kind, type_name, repeated in fields:
      added = message.field.add(
          name=name, number=number, type=kind,
          label=field.LABEL_REPEATED if repeated else field.LABEL_OPTIONAL)
      if type_name:
        added.type_name = ".bench." + type_name
  add_fields(proto.message_type.add(name="FloatList"),
             [("value", 1, field.TYPE_FLOAT, None, True)])
  add_fields(proto.message_type.add(name="Int64List"),
             [("value", 1, field.TYPE_INT64, None, True)])
  add_fields(proto.message_type.add(name="Feature"),
             [("float_list", 2, field.TYPE_MESSAGE, "FloatList", False),
              ("int64_list", 3, field.TYPE_MESSAGE, "Int64List", False)])
  features = proto.message_type.add(name="Features")
  entry = features.nested_type.add(name="FeatureEntry")
  entry.options.map_entry = True
  add_fields(entry, [("key", 1, field.TYPE_STRING, None, False),
                     ("value", 2, field.TYPE_MESSAGE, "Feature", False)])
  add_fields(features, [("feature", 1, field.TYPE_MESSAGE,
                         "Features.FeatureEntry", True)])
  add_fields(proto.message_type.add(name="Example"),
             [("features", 1, field.TYPE_MESSAGE, "Features", False)])
  pool = descriptor_pool.DescriptorPool()
  pool.Add(proto)
  descriptor = pool.FindMessageTypeByName("bench.Example")
  if hasattr(message_factory, "GetMessageClass"):
    return message_factory.GetMessageClass(descriptor)
  return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def _feature_lists(instance, seq, preds):
  def padded(values, n):
    return list(values) + [0] * (n - len(values))
  ints = {
      "input_ids": padded(instance.input_ids, seq),
      "input_mask": padded([1] * len(instance.input_ids), seq),
      "segment_ids": [0] * seq,
      "masked_lm_positions": padded(instance.positions, preds),
      "masked_lm_ids": padded(instance.original_ids, preds),
  }
  for task in ("pos", "ner", "dep"):
    ints[task + "_labels"] = padded(getattr(instance, task), preds)
  count = len(instance.positions)
  return ints, [1.0] * count + [0.0] * (preds - count)


def child(writer, count, seq, preds, path):
  """One measurement in this (fresh) process; prints a JSON line."""
  import resource
  import time
  sys.path.insert(0, REPO_ROOT)
  started = time.time()
  if writer == "ours":
    from lert.records import record_schema
    from lert.records import record_codec
  elif writer == "protobuf":
    from lert.records import record_codec
    example_class = _protobuf_example_class()
  else:
    import tensorflow.compat.v1 as tf
  startup = time.time() - started
  started = time.time()
  instances = _instances(count, seq, preds)
  build = time.time() - started
  started = time.time()
  if writer == "ours":
    encoder = record_codec.ExampleEncoder(
        record_schema.PRETRAINING, 21128,
        memoized=("input_mask", "segment_ids", "masked_lm_weights"),
        max_seq_length=seq, max_predictions_per_seq=preds)
    records = [encoder.encode(instance.features()) for instance in instances]
    with open(path, "wb") as handle:
      for chunk in record_codec.tfrecord_chunks(records):
        handle.write(chunk)
  elif writer == "protobuf":
    records = []
    for instance in instances:
      ints, weights = _feature_lists(instance, seq, preds)
      example = example_class()
      for name, values in ints.items():
        example.features.feature[name].int64_list.value.extend(values)
      example.features.feature["masked_lm_weights"].float_list.value.extend(weights)
      records.append(example.SerializeToString(deterministic=True))
    with open(path, "wb") as handle:
      for chunk in record_codec.tfrecord_chunks(records):
        handle.write(chunk)
  else:
    with tf.io.TFRecordWriter(path) as handle:
      for instance in instances:
        ints, weights = _feature_lists(instance, seq, preds)
        feature = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=v))
                   for name, v in ints.items()}
        feature["masked_lm_weights"] = tf.train.Feature(
            float_list=tf.train.FloatList(value=weights))
        example = tf.train.Example(features=tf.train.Features(feature=feature))
        handle.write(example.SerializeToString(deterministic=True))
  write = time.time() - started
  digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
  print(json.dumps({"startup": startup, "build": build, "write": write,
                    "digest": digest,
                    "peak_mb": resource.getrusage(
                        resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--instances", type=int, default=3000)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--max_seq_length", type=int, default=512)
  parser.add_argument("--max_predictions_per_seq", type=int, default=75)
  parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--path", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.child:
    child(args.child, args.instances, args.max_seq_length,
          args.max_predictions_per_seq, args.path)
    return
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join(
      [REPO_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                     if p]))
  results = {writer: [] for writer in WRITERS}
  missing = {}
  work = tempfile.mkdtemp(prefix="bench_writer_")
  for _ in range(args.rounds):
    for writer in WRITERS:
      if writer in missing:
        continue
      path = os.path.join(work, writer + ".tfrecord")
      run = subprocess.run(
          [sys.executable, os.path.abspath(__file__), "--child", writer,
           "--path", path, "--instances", str(args.instances),
           "--max_seq_length", str(args.max_seq_length),
           "--max_predictions_per_seq", str(args.max_predictions_per_seq)],
          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
      if run.returncode:
        missing[writer] = run.stderr.decode("utf-8", "replace").strip().splitlines()[-1]
        continue
      results[writer].append(json.loads(run.stdout.decode("utf-8").splitlines()[-1]))
      os.remove(path)
  os.rmdir(work)
  print("Python %s; %d instances at %d/%d, %d rounds (medians; ratio to ours)" % (
      sys.version.split()[0], args.instances, args.max_seq_length,
      args.max_predictions_per_seq, args.rounds))
  print("")
  print("| writer | start-up s | building the instances s | write s | "
        "write instances/s | peak RSS MB | same bytes as ours |")
  print("|---|---|---|---|---|---|---|")
  keys = ("startup", "build", "write", "peak_mb")
  ours = {key: statistics.median(r[key] for r in results["ours"]) for key in keys}
  for writer in WRITERS:
    if writer in missing:
      print("| %s | not run: %s | | | | | |" % (writer, missing[writer]))
      continue
    median = {key: statistics.median(r[key] for r in results[writer])
              for key in keys}
    same = all(r["digest"] == results["ours"][0]["digest"] for r in results[writer])
    print("| %s | %.2f (x%.1f) | %.2f | %.2f (x%.2f) | %.0f | %.0f (x%.2f) | %s |" % (
        writer, median["startup"], median["startup"] / ours["startup"],
        median["build"], median["write"], median["write"] / ours["write"],
        args.instances / median["write"], median["peak_mb"],
        median["peak_mb"] / ours["peak_mb"], "yes" if same else "no"))


if __name__ == "__main__":
  main()
