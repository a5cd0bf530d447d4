# coding=utf-8
"""Nothing lost, nothing garbled: the integrity checks between the stages.

The annotation cache is checked by the build stage, the TFRecords by
pretraining_data.verify_dataset, against what was recorded when each shard was
written; every refusal names the shard and says how to make it again.
"""

import glob
import os
import shutil
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
  sys.path.insert(0, TESTS_DIR)

import create_pretraining_data as cpd  # noqa: E402
from lert import errors  # noqa: E402
from lert.pretrain import pretraining_data  # noqa: E402
import test_create_pretraining_data as generator_tests  # noqa: E402

SHARDS = 10


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
  """A jieba data set of 10 shards (one input file each), made once."""
  base = tmp_path_factory.mktemp("dataset")
  files = []
  for index in range(SHARDS):
    files.append(generator_tests.write_sentence_per_line(
        base / ("part%d.txt" % index),
        generator_tests.make_documents(3, seed=index)))
  options = generator_tests.make_options(base, input_file=",".join(files),
                                         shard_size_mb=1.0, dupe_factor=1)
  cpd.run(options)
  return options


def copy_of(dataset, tmp_path):
  """The data set's output directory (with its cache) copied, and its options."""
  shutil.copytree(dataset.output_dir, str(tmp_path / "out"))
  values = {name: getattr(dataset, name) for name in cpd.Options.DEFAULTS}
  values["output_dir"] = str(tmp_path / "out")
  return cpd.Options(**values)


def shard_path(options, index):
  return os.path.join(options.output_dir,
                      "pretraining-%05d-of-%05d.tfrecord" % (index, SHARDS))


def tfrecords(directory):
  return sorted(glob.glob(os.path.join(str(directory), "*.tfrecord")))


# --- The TFRecords: pretraining_data.verify_dataset ----------------------------------------


def test_the_whole_data_set_passes(dataset):
  files = tfrecords(dataset.output_dir)
  assert len(files) == SHARDS
  verified = pretraining_data.verify_dataset(files)
  sidecar = verified.sidecar
  assert verified.labelled_tasks == ["pos", "ner"]
  assert verified.num_records == sidecar["num_instances"] > 0
  assert pretraining_data.verify_dataset(files, read_contents=False) == verified


def test_two_of_ten_shards_without_a_sidecar_are_refused(dataset, tmp_path):
  for index in (0, 4):
    shutil.copy(shard_path(dataset, index), str(tmp_path))
  with pytest.raises(errors.UserError,
                     match=r"10-shard data set, but 8 of them .*"
                           r"pretraining-00001-of-00010\.tfrecord"):
    pretraining_data.verify_dataset(tfrecords(tmp_path), labelled_tasks=["pos", "ner"])


def test_without_a_sidecar_the_caller_must_say_what_the_data_labels(dataset, tmp_path):
  for path in tfrecords(dataset.output_dir):
    shutil.copy(path, str(tmp_path))
  files = tfrecords(tmp_path)
  with pytest.raises(errors.UserError,
                     match="nothing says which linguistic tasks the data labels"):
    pretraining_data.verify_dataset(files)
  verified = pretraining_data.verify_dataset(files, labelled_tasks=[])
  assert verified.labelled_tasks == [] and verified.sidecars == []
  assert verified.num_records == pretraining_data.verify_dataset(
      tfrecords(dataset.output_dir)).num_records


def test_a_shard_deleted_beside_a_sidecar_is_refused_and_can_be_remade(dataset, tmp_path):
  options = copy_of(dataset, tmp_path)
  original = open(shard_path(options, 3), "rb").read()
  os.remove(shard_path(options, 3))
  with pytest.raises(errors.UserError,
                     match=r"pretraining-00003-of-00010\.tfrecord is not among the "
                           r"input files.*run create_pretraining_data\.py again"):
    pretraining_data.verify_dataset(tfrecords(options.output_dir))
  # The advice works: the same run again rebuilds that shard, byte for byte.
  cpd.run(options)
  assert open(shard_path(options, 3), "rb").read() == original
  pretraining_data.verify_dataset(tfrecords(options.output_dir))


def test_a_truncated_tfrecord_is_named(dataset, tmp_path):
  options = copy_of(dataset, tmp_path)
  path = shard_path(options, 5)
  data = open(path, "rb").read()
  open(path, "wb").write(data[:-10])
  with pytest.raises(errors.UserError,
                     match=r"pretraining-00005-of-00010\.tfrecord has %d bytes, but "
                           r".*lert_data\.json records %d" % (len(data) - 10, len(data))):
    pretraining_data.verify_dataset(tfrecords(options.output_dir), read_contents=False)
  # Without a sidecar the framing says it.
  os.remove(os.path.join(options.output_dir, "lert_data.json"))
  with pytest.raises(errors.UserError,
                     match=r"pretraining-00005-of-00010\.tfrecord: not a whole "
                           r"TFRecord file: cut inside a record"):
    pretraining_data.verify_dataset(tfrecords(options.output_dir),
                                    labelled_tasks=["pos", "ner"])


def split_records(data):
  """The framed records of TFRecord bytes (length, CRC, data, CRC each)."""
  records, offset = [], 0
  while offset < len(data):
    end = offset + 16 + int.from_bytes(data[offset:offset + 8], "little")
    records.append(data[offset:end])
    offset = end
  return records


def test_a_changed_shard_is_named(dataset, tmp_path):
  options = copy_of(dataset, tmp_path)
  path = shard_path(options, 7)
  records = split_records(open(path, "rb").read())
  assert len(records) >= 2 and records[0] != records[1]
  # Two whole records swapped: every CRC holds, the size too; only the hash differs.
  open(path, "wb").write(b"".join([records[1], records[0]] + records[2:]))
  with pytest.raises(errors.UserError,
                     match=r"pretraining-00007-of-00010\.tfrecord differs from the "
                           r"shard .* records.*changed since it was made"):
    pretraining_data.verify_dataset(tfrecords(options.output_dir))
  # A flipped byte breaks a CRC: named as well.
  data = bytearray(b"".join(records))
  data[len(data) // 2] ^= 0xFF
  open(path, "wb").write(bytes(data))
  with pytest.raises(errors.UserError,
                     match=r"pretraining-00007-of-00010\.tfrecord: not a whole "
                           r"TFRecord file: a record (header )?fails its CRC"):
    pretraining_data.verify_dataset(tfrecords(options.output_dir))


# --- The annotation cache: checked by the build stage -------------------------------------


def staged(dataset, tmp_path):
  """Options of a build from a copy of the data set's annotation cache."""
  cache = str(tmp_path / "cache")
  shutil.copytree(dataset.resolved_cache_dir(), cache)
  values = {name: getattr(dataset, name) for name in cpd.Options.DEFAULTS}
  values.update(stage="build", cache_dir=cache, input_file="",
                output_dir=str(tmp_path / "built"))
  return cpd.Options(**values)


def cache_shard(options, index):
  return os.path.join(options.cache_dir,
                      "annotations-%05d-of-%05d.jsonl" % (index, SHARDS))


def test_a_cache_shard_cut_at_a_line_boundary_is_refused(dataset, tmp_path):
  options = staged(dataset, tmp_path)
  path = cache_shard(options, 2)
  lines = open(path, "rb").readlines()
  assert len(lines) == 3
  open(path, "wb").write(b"".join(lines[:2]))
  with pytest.raises(errors.UserError, match=r"annotation cache shard .*annotations-"
                     r"00002-of-00010\.jsonl has \d+ bytes, but \d+ were written"):
    cpd.run(options)


def test_an_emptied_cache_shard_is_refused(dataset, tmp_path):
  options = staged(dataset, tmp_path)
  open(cache_shard(options, 6), "wb").close()
  with pytest.raises(errors.UserError, match=r"annotations-00006-of-00010\.jsonl has "
                                             r"0 bytes"):
    cpd.run(options)


def test_the_advice_of_a_cache_error_works(dataset, tmp_path):
  options = staged(dataset, tmp_path)
  path = cache_shard(options, 4)
  data = open(path, "rb").read()
  open(path, "wb").write(data.replace(b'"line"', b'"LINE"', 1))  # same size
  with pytest.raises(errors.UserError, match=r"annotations-00004-of-00010\.jsonl.*"
                                             r"delete .* --stage=annotate") as error:
    cpd.run(options)
  # What it says: delete the shard, annotate again, build again.
  assert "delete %s " % path in str(error.value)
  os.remove(path)
  values = {name: getattr(options, name) for name in cpd.Options.DEFAULTS}
  values.update(stage="annotate", input_file=dataset.input_file)
  cpd.run(cpd.Options(**values))
  assert open(path, "rb").read() == data
  cpd.run(options)
  assert generator_tests.file_bytes(options.output_dir) == generator_tests.file_bytes(
      dataset.output_dir)
