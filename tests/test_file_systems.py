# coding=utf-8
"""Every path on another file system (gs:// in real use), without a network.

Two file systems: TensorFlow's in-memory `ram://` (TF 2.x; TF 1.15 has none)
and `fake://`, tf.io.gfile's functions replaced for the test by ones over a
local directory (every TF). Both live in this process, so the generator runs
with one worker. The process's working directory is the test's: a remote
path taken for a local one would appear there as a `ram:` or `fake:` folder.
"""

import collections
import glob
import os
import subprocess
import sys
import uuid

import pytest
import tensorflow.compat.v1 as tf

import create_pretraining_data as cpd
from lert.pretrain import pretraining_data
import test_create_pretraining_data as generator_tests
import test_run_finetuning as finetuning_tests
import test_run_pretraining as pretraining_tests
from conftest import REPO_ROOT

VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")
SETTINGS = dict(max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2,
                random_seed=7, shard_size_mb=0.002)

Stat = collections.namedtuple("Stat", ["length", "mtime_nsec", "is_directory"])


class FakeFileSystem(object):
  """tf.io.gfile over `fake://` paths, kept under a local directory."""

  PREFIX = "fake://"

  def __init__(self, root):
    self.root = root

  def local(self, path):
    assert path.startswith(self.PREFIX), path
    return os.path.join(self.root, path[len(self.PREFIX):])

  def remote(self, path):
    return self.PREFIX + os.path.relpath(path, self.root)

  def GFile(self, path, mode="r"):  # noqa: N802 (tf.io.gfile's name)
    return open(self.local(path), mode, **({} if "b" in mode else
                                           {"encoding": "utf-8"}))

  def exists(self, path):
    return os.path.exists(self.local(path))

  def isdir(self, path):
    return os.path.isdir(self.local(path))

  def glob(self, pattern):
    return [self.remote(path) for path in glob.glob(self.local(pattern))]

  def listdir(self, path):
    return os.listdir(self.local(path))

  def makedirs(self, path):
    os.makedirs(self.local(path), exist_ok=True)

  def remove(self, path):
    os.remove(self.local(path))

  def rename(self, source, target, overwrite=False):
    assert overwrite or not self.exists(target)
    os.replace(self.local(source), self.local(target))

  def stat(self, path):
    status = os.stat(self.local(path))
    return Stat(status.st_size, status.st_mtime_ns, os.path.isdir(self.local(path)))

  def install(self, monkeypatch):
    for name in ("GFile", "exists", "isdir", "glob", "listdir", "makedirs",
                 "remove", "rename", "stat"):
      monkeypatch.setattr(tf.io.gfile, name, getattr(self, name))


def has_ram_file_system():
  try:
    tf.io.gfile.exists("ram://probe")
    return True
  except tf.errors.UnimplementedError:
    return False


@pytest.fixture(params=["ram", "fake"])
def remote_root(request, tmp_path, monkeypatch):
  """A fresh remote directory; the test fails if a local folder was made instead."""
  monkeypatch.chdir(str(tmp_path))
  if request.param == "ram":
    if not has_ram_file_system():
      pytest.skip("TF %s has no ram:// file system; fake:// covers it here" %
                  tf.__version__)
    root = "ram://lert-%s" % uuid.uuid4().hex
  else:
    os.makedirs(str(tmp_path / "store"))
    FakeFileSystem(str(tmp_path / "store")).install(monkeypatch)
    root = FakeFileSystem.PREFIX + "run"
  tf.io.gfile.makedirs(root)
  yield root
  assert not glob.glob(str(tmp_path / "*:")), "a remote path was used as a local one"


def copy_to(local_path, remote_path):
  tf.io.gfile.makedirs(os.path.dirname(remote_path))
  with open(local_path, "rb") as source, tf.io.gfile.GFile(remote_path, "wb") as target:
    target.write(source.read())
  return remote_path


def read_remote(path):
  with tf.io.gfile.GFile(path, "rb") as handle:
    return handle.read()


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
  """The corpus and a local run of it, to compare with."""
  directory = tmp_path_factory.mktemp("local")
  corpus = generator_tests.write_sentence_per_line(
      directory / "corpus.txt", generator_tests.make_documents(40, seed=5))
  output_dir = str(directory / "out")
  sidecar = cpd.run(cpd.Options(input_file=corpus, output_dir=output_dir,
                                vocab_file=VOCAB_FILE, **SETTINGS))
  return corpus, output_dir, sidecar


def test_both_stages_read_and_write_only_through_the_file_system(
    remote_root, local_run, capsys):
  corpus, local_dir, local_sidecar = local_run
  copy_to(corpus, remote_root + "/corpus/corpus.txt")
  remote = dict(cache_dir=remote_root + "/cache", vocab_file=copy_to(
      VOCAB_FILE, remote_root + "/vocab.txt"), **SETTINGS)
  output_dir = remote_root + "/out"
  cpd.run(cpd.Options(stage="annotate", input_file=remote_root + "/corpus/*.txt",
                      **remote))
  sidecar = cpd.run(cpd.Options(stage="build", output_dir=output_dir, **remote))
  names = sorted(os.path.basename(path) for path in
                 glob.glob(os.path.join(local_dir, "*.tfrecord")))
  assert len(names) >= 3
  assert [read_remote(output_dir + "/" + name) for name in names] == [
      open(os.path.join(local_dir, name), "rb").read() for name in names]
  assert sidecar["statistics"] == local_sidecar["statistics"]
  assert sidecar["vocab_file"] == remote["vocab_file"]
  verified = pretraining_data.verify_dataset(
      tf.io.gfile.glob(output_dir + "/*.tfrecord"))
  assert verified.num_records == local_sidecar["num_instances"]
  # Resuming reads the progress files and sizes there too.
  capsys.readouterr()
  assert cpd.run(cpd.Options(stage="build", output_dir=output_dir, **remote)) == sidecar
  assert "%d already done, 0 to do" % len(names) in capsys.readouterr().err


def test_googles_output_files_on_the_file_system(remote_root, local_run):
  corpus = copy_to(local_run[0], remote_root + "/corpus.txt")
  outputs = [remote_root + "/a/x.tfrecord", remote_root + "/b/y.tfrecord"]
  cpd.run(cpd.Options(input_file=corpus, output_file=",".join(outputs),
                      vocab_file=VOCAB_FILE, **SETTINGS))
  verified = pretraining_data.verify_dataset(outputs)
  assert verified.num_records == local_run[2]["num_instances"]
  assert sorted(verified.sidecars) == [path + ".json" for path in outputs]


def test_local_runs_never_import_tensorflow(local_run, tmp_path):
  code = ("import sys, create_pretraining_data as cpd; "
          "cpd.run(cpd.Options(input_file=%r, output_dir=%r, vocab_file=%r, "
          "max_seq_length=64, max_predictions_per_seq=10)); "
          "print('tensorflow' in sys.modules)" % (
              local_run[0], str(tmp_path / "out"), VOCAB_FILE))
  done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  assert done.returncode == 0, done.stderr.decode("utf-8")[-2000:]
  assert done.stdout.decode("utf-8").split() == ["False"]


# --- The training scripts' outputs -----------------------------------------------

# Their tests' fixtures: a tiny pretraining data set, a tiny fine-tuning config.
data_dir = pretraining_tests.data_dir
config_file = finetuning_tests.config_file


@pytest.fixture
def ram_root(tmp_path, monkeypatch):
  """A ram:// directory: checkpoints are written by TensorFlow's C++ file
  systems, which a Python fake cannot stand in for."""
  monkeypatch.chdir(str(tmp_path))
  if not has_ram_file_system():
    pytest.skip("TF %s has no ram:// file system, and checkpoints need a real "
                "TensorFlow file system" % tf.__version__)
  yield "ram://lert-%s" % uuid.uuid4().hex
  assert not glob.glob(str(tmp_path / "*:")), "a remote path was used as a local one"


def test_pretraining_trains_evaluates_and_predicts_into_the_file_system(
    ram_root, data_dir, tmp_path):
  output_dir = ram_root + "/pretrain"
  pretraining_tests.run_main(**pretraining_tests.base_flags(
      data_dir, output_dir, num_train_steps=2, save_checkpoints_steps=2,
      do_eval=True, max_eval_steps=1))
  assert tf.train.latest_checkpoint(output_dir).endswith("model.ckpt-2")
  assert b"masked_lm_accuracy" in read_remote(output_dir + "/eval_results.txt")
  # Prediction reads its checkpoint from a local directory: TF's ram:// calls
  # every prefix of a file name a directory, so tf.train.list_variables takes
  # "ram://.../model.ckpt-2" for a directory (gs:// has no such quirk).
  local_dir = str(tmp_path / "local")
  pretraining_tests.run_main(**pretraining_tests.base_flags(
      data_dir, local_dir, num_train_steps=1))
  sentences = tmp_path / "masked.txt"
  sentences.write_text(u"我[MASK]北京。\n", encoding="utf-8")
  predictions = ram_root + "/predictions.jsonl"
  pretraining_tests.run_main(**pretraining_tests.base_flags(
      data_dir, local_dir, do_train=False, do_predict=True,
      predict_input_file=str(sentences), predict_output_file=predictions))
  assert read_remote(predictions).startswith(u'{"text": "我[MASK]北京。"'.encode("utf-8"))


def test_ner_fine_tuning_writes_into_the_file_system(ram_root, config_file, tmp_path):
  data = tmp_path / "msra"
  data.mkdir()
  finetuning_tests.write(data / "train.bio", finetuning_tests.ner_text("\t"))
  finetuning_tests.write(data / "test.bio", finetuning_tests.ner_text("\t"))
  output_dir = ram_root + "/ner"
  # No --do_eval: it reads the step with tf.train.load_variable(prefix), which
  # the ram:// quirk above breaks.
  finetuning_tests.run_main(finetuning_tests.run_ner, **finetuning_tests.common_flags(
      config_file, data, output_dir, task_name="msra_ner", max_seq_length=32,
      doc_stride=10, do_train=True, do_predict=True, num_train_steps=2,
      learning_rate=1e-3, tag_scheme="bio"))
  predicted = read_remote(output_dir + "/test/predictions.txt").decode("utf-8")
  assert predicted.startswith(u"李\t")
  assert tf.train.latest_checkpoint(output_dir).endswith("model.ckpt-2")
  for name in ("train_results.txt", "predict_results.txt", "data_report.json"):
    assert tf.io.gfile.exists(output_dir + "/" + name), name
