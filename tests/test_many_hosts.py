# coding=utf-8
"""Several hosts on disjoint shards (--num_hosts, --host_index), then
--stage=finalize: the same bytes as one host."""

import glob
import os
import subprocess
import sys

import pytest

import create_pretraining_data as cpd
from lert import errors
from lert.generator import progress
from lert.pretrain import pretraining_data
from lert.records import record_schema
import test_create_pretraining_data as generator_tests
from conftest import REPO_ROOT

VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")
SETTINGS = dict(vocab_file=VOCAB_FILE, max_seq_length=64, max_predictions_per_seq=10,
                dupe_factor=2, random_seed=7, shard_size_mb=0.002)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  directory = tmp_path_factory.mktemp("corpus")
  return generator_tests.write_sentence_per_line(
      directory / "corpus.txt", generator_tests.make_documents(60, seed=3))


@pytest.fixture(scope="module")
def one_host(corpus, tmp_path_factory):
  output_dir = str(tmp_path_factory.mktemp("one") / "out")
  cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir, **SETTINGS))
  return output_dir


def data_files(directory):
  """{relative path: bytes} of the shards, the cache and the sidecar (the
  progress files hold timings, so they differ)."""
  found = {}
  for pattern in ("*.tfrecord", record_schema.DIRECTORY_SIDECAR,
                  os.path.join(".annotations", "*.jsonl"),
                  os.path.join(".annotations", "manifest.json")):
    for path in glob.glob(os.path.join(directory, pattern)):
      with open(path, "rb") as handle:
        found[os.path.relpath(path, directory)] = handle.read()
  return found


def flags_of(corpus, output_dir, **extra):
  values = dict(SETTINGS, input_file=corpus, output_dir=output_dir, **extra)
  return ["--%s=%s" % item for item in sorted(values.items())]


def test_two_hosts_as_two_processes_make_the_bytes_of_one(corpus, one_host, tmp_path):
  output_dir = str(tmp_path / "out")
  hosts = [subprocess.Popen(
      [sys.executable, SCRIPT] + flags_of(corpus, output_dir, num_hosts=2,
                                          host_index=index),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for index in (0, 1)]
  for host in hosts:
    _, stderr = host.communicate()
    assert host.returncode == 0, stderr.decode("utf-8")[-2000:]
    assert b"run --stage=finalize once" in stderr
  # No host alone wrote the sidecar.
  assert not os.path.exists(os.path.join(output_dir, record_schema.DIRECTORY_SIDECAR))
  done = subprocess.run([sys.executable, SCRIPT, "--stage=finalize"] +
                        flags_of(corpus, output_dir), stderr=subprocess.PIPE)
  assert done.returncode == 0, done.stderr.decode("utf-8")[-2000:]
  expected = data_files(one_host)
  assert len([name for name in expected if name.endswith(".tfrecord")]) >= 4
  assert data_files(output_dir) == expected
  pretraining_data.verify_dataset(glob.glob(os.path.join(output_dir, "*.tfrecord")))


def test_annotate_on_two_hosts_build_on_three(corpus, one_host, tmp_path):
  output_dir, cache_dir = str(tmp_path / "out"), str(tmp_path / "out" / ".annotations")
  for index in range(2):
    assert cpd.run(cpd.Options(stage="annotate", input_file=corpus, cache_dir=cache_dir,
                               num_hosts=2, host_index=index, **SETTINGS)) is None
  for index in range(3):
    assert cpd.run(cpd.Options(stage="build", cache_dir=cache_dir, output_dir=output_dir,
                               num_hosts=3, host_index=index, **SETTINGS)) is None
  cpd.run(cpd.Options(stage="finalize", cache_dir=cache_dir, output_dir=output_dir,
                      **SETTINGS))
  assert data_files(output_dir) == data_files(one_host)


def test_hosts_filling_googles_output_files_match_one_host(corpus, tmp_path):
  def outputs(name):
    return ",".join(str(tmp_path / name / f) for f in ("x.tfrecord", "y.tfrecord"))
  cpd.run(cpd.Options(input_file=corpus, output_file=outputs("one"), **SETTINGS))
  for index in range(2):
    cpd.run(cpd.Options(input_file=corpus, output_file=outputs("two"), num_hosts=2,
                        host_index=index, **SETTINGS))
  assert not os.path.exists(str(tmp_path / "two" / "x.tfrecord"))
  cpd.run(cpd.Options(stage="finalize", output_file=outputs("two"), **SETTINGS))
  for name in ("x.tfrecord", "x.tfrecord.json", "y.tfrecord", "y.tfrecord.json"):
    one = open(str(tmp_path / "one" / name), "rb").read()
    two = open(str(tmp_path / "two" / name), "rb").read()
    if name.endswith(".json"):  # it names its work directory
      two = two.replace(b"/two/", b"/one/")
    assert one == two, name


def test_finalize_names_a_shard_no_host_built(corpus, tmp_path):
  output_dir = str(tmp_path / "out")
  cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir, num_hosts=3,
                      host_index=0, **SETTINGS))
  with pytest.raises(errors.UserError, match=r"--stage=finalize: \d+ of the \d+ shards "
                     r"are not built .*pretraining-00001-of-\d{5}\.tfrecord"):
    cpd.run(cpd.Options(stage="finalize", output_dir=output_dir, **SETTINGS))


def test_finalize_before_any_build_says_so(corpus, tmp_path):
  cache_dir = str(tmp_path / "cache")
  cpd.run(cpd.Options(stage="annotate", input_file=corpus, cache_dir=cache_dir,
                      **SETTINGS))
  with pytest.raises(errors.UserError, match="nothing was built in"):
    cpd.run(cpd.Options(stage="finalize", cache_dir=cache_dir,
                        output_dir=str(tmp_path / "out"), **SETTINGS))


def test_a_host_removes_only_its_own_temporaries(corpus, tmp_path):
  cache_dir = str(tmp_path / "cache")
  os.makedirs(os.path.join(cache_dir, progress.PROGRESS_DIR))
  left = ["annotations-00000-of-00009.jsonl.tmp-12-ab", "manifest.json.tmp-12-ab",
          os.path.join(progress.PROGRESS_DIR,
                       "annotations-00002-of-00009.json.tmp-12-ab")]
  own = ["annotations-00001-of-00009.jsonl.tmp-12-ab",
         os.path.join(progress.PROGRESS_DIR,
                      "annotations-00003-of-00009.json.tmp-12-ab")]
  for name in left + own:
    open(os.path.join(cache_dir, name), "wb").close()
  cpd.run(cpd.Options(stage="annotate", input_file=corpus, cache_dir=cache_dir,
                      num_hosts=2, host_index=1, **SETTINGS))
  assert [os.path.exists(os.path.join(cache_dir, name)) for name in left + own] == [
      True, True, True, False, False]


@pytest.mark.parametrize("overrides,message", [
    (dict(num_hosts=0), "--num_hosts must be >= 1"),
    (dict(num_hosts=2, host_index=2), r"--host_index must be in \[0, --num_hosts=2\)"),
    (dict(stage="finalize", num_hosts=2), "finalize runs once, on one host"),
])
def test_host_flags_that_cannot_work_are_refused(corpus, tmp_path, overrides, message):
  with pytest.raises(errors.UserError, match=message):
    cpd.run(cpd.Options(input_file=corpus, output_dir=str(tmp_path / "out"),
                        **dict(SETTINGS, **overrides)))
