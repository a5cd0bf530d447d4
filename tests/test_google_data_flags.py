# coding=utf-8
"""google-research/bert's data command line: --output_file and its other flags."""

import glob
import os
import random
import subprocess
import sys

import pytest
import tensorflow.compat.v1 as tf

import create_pretraining_data as cpd
from lert import errors
from lert.generator import output_merge
from lert.pretrain import pretraining_data
from lert.records import record_schema
from lert.records import record_codec
import test_create_pretraining_data as generator_tests
from conftest import REPO_ROOT

VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")
# Google's README command, flag for flag (its optional flags at their defaults).
GOOGLE_FLAGS = [
    "--input_file=a.txt,b.txt", "--output_file=x.tfrecord,y.tfrecord",
    "--vocab_file=%s" % VOCAB_FILE, "--do_lower_case=True",
    "--max_seq_length=128", "--max_predictions_per_seq=20",
    "--masked_lm_prob=0.15", "--random_seed=12345", "--dupe_factor=5",
    "--short_seq_prob=0.1", "--do_whole_word_mask=True",
]


def write_inputs(directory):
  generator_tests.write_sentence_per_line(
      os.path.join(directory, "a.txt"), generator_tests.make_documents(30, seed=1))
  generator_tests.write_sentence_per_line(
      os.path.join(directory, "b.txt"), generator_tests.make_documents(20, seed=2))


def run_script(flags, cwd):
  return subprocess.run([sys.executable, SCRIPT] + flags, cwd=cwd,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def records_of(path):
  with open(path, "rb") as handle:
    return list(record_codec.read_tfrecords(handle, path))


def test_googles_command_line_makes_data_run_pretraining_accepts(tmp_path):
  write_inputs(str(tmp_path))
  done = run_script(GOOGLE_FLAGS, str(tmp_path))
  assert done.returncode == 0, done.stderr.decode("utf-8")[-2000:]
  outputs = [str(tmp_path / "x.tfrecord"), str(tmp_path / "y.tfrecord")]
  verified = pretraining_data.verify_dataset(outputs)
  assert verified.labelled_tasks == ["pos", "ner"]  # jieba: no parser
  assert sorted(verified.sidecars) == [path + ".json" for path in outputs]
  sidecar = verified.sidecar
  pretraining_data.check_sidecar(sidecar, 128, 20)
  assert sidecar["data_set"]["files"] == ["x.tfrecord", "y.tfrecord"]
  assert sidecar["dupe_factor"] == 5 and sidecar["random_seed"] == 12345
  # Google's fill: all instances shuffled together, instance i into file i % 2.
  x, y = records_of(outputs[0]), records_of(outputs[1])
  assert len(x) + len(y) == verified.num_records == sidecar["data_set"]["num_instances"]
  assert len(x) - len(y) in (0, 1)
  dealt = [None] * (len(x) + len(y))
  dealt[0::2], dealt[1::2] = x, y
  shards = sorted(glob.glob(str(tmp_path / ".x.tfrecord.lert-work" / "*.tfrecord")))
  assert len(shards) >= 2
  built = [record for shard in shards for record in records_of(shard)]
  random.Random(output_merge.merge_seed(12345)).shuffle(built)
  assert dealt == built
  example = tf.train.Example.FromString(x[0])
  assert sorted(example.features.feature) == sorted(record_schema.PRETRAINING.names)
  # One file of the two is a partial data set: refused, naming the other.
  with pytest.raises(errors.UserError, match=r"y\.tfrecord is not among"):
    pretraining_data.verify_dataset(outputs[:1])


def test_a_rerun_with_output_file_resumes_and_writes_the_same_bytes(tmp_path):
  write_inputs(str(tmp_path))
  options = cpd.Options(input_file=str(tmp_path / "a.txt"), vocab_file=VOCAB_FILE,
                        output_file=str(tmp_path / "out" / "one.tfrecord"),
                        max_seq_length=64, max_predictions_per_seq=10,
                        dupe_factor=2, shard_size_mb=0.002)
  first = cpd.run(options)
  data = open(options.output_files()[0], "rb").read()
  sidecar = open(options.output_files()[0] + ".json", "rb").read()
  again = cpd.run(options)
  assert again == first
  assert open(options.output_files()[0], "rb").read() == data
  assert open(options.output_files()[0] + ".json", "rb").read() == sidecar


def test_do_whole_word_mask_false_is_one_error_line(tmp_path):
  write_inputs(str(tmp_path))
  done = run_script(GOOGLE_FLAGS + ["--do_whole_word_mask=False"], str(tmp_path))
  assert done.returncode == 2
  lines = done.stderr.decode("utf-8").strip().splitlines()
  assert lines[-1].startswith("error: --do_whole_word_mask=False is not supported")
  assert not os.path.exists(str(tmp_path / "x.tfrecord"))


@pytest.mark.parametrize("overrides,message", [
    (dict(output_dir="out", output_file="x.tfrecord"), "not both"),
    (dict(output_file="x.tfrecord,y.tfrecord,x.tfrecord"), "names a file twice"),
])
def test_output_flags_that_cannot_work_are_refused(tmp_path, overrides, message):
  write_inputs(str(tmp_path))
  options = cpd.Options(input_file=str(tmp_path / "a.txt"), vocab_file=VOCAB_FILE,
                        **overrides)
  with pytest.raises(errors.UserError, match=message):
    cpd.run(options)
