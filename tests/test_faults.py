# coding=utf-8
"""Faults a user meets: a full disk while training or converting, and a checkpoint of
another model in the output directory or as --init_checkpoint.

Each is one `error:` line (exit status 2, no traceback) naming the path, the variable
and shapes, or the cause; nothing is left behind under a temporary or final name that
is not whole, and the same command continues once the cause is gone. The full disk is
a small tmpfs the test mounts (root only: CI runs as root).
"""

import contextlib
import json
import os
import subprocess
import sys

import pytest
import tensorflow.compat.v1 as tf

from conftest import REPO_ROOT, TINY_BERT_CONFIG, TINY_CORPUS_TEXT

VOCAB = os.path.join(REPO_ROOT, "vocab.txt")


def run_script(script, *flags):
  """(exit status, output) of a repository script run as a user runs it."""
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, script)] + list(flags), cwd=REPO_ROOT,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""))
  return result.returncode, result.stdout


def assert_one_error(status, output, *fragments):
  assert status == 2, output[-4000:]
  assert "Traceback" not in output, output[-4000:]
  last = output.strip().splitlines()[-1]
  assert last.startswith("error: "), output[-4000:]
  for fragment in fragments:
    assert fragment in last, last
  return last


def write_config(path, **changes):
  with open(str(path), "w") as handle:
    json.dump(dict(TINY_BERT_CONFIG, **changes), handle)
  return str(path)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  """Pretraining records (jieba) and a sentiment folder, made once."""
  work = tmp_path_factory.mktemp("faults")
  corpus = work / "corpus.txt"
  corpus.write_text(u"\n".join([TINY_CORPUS_TEXT] * 10) + u"\n", encoding="utf-8")
  status, output = run_script(
      "create_pretraining_data.py", "--input_file=%s" % corpus,
      "--input_format=doc_per_line", "--output_dir=%s" % (work / "records"),
      "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=1")
  assert status == 0, output[-3000:]
  sentiment = work / "sentiment"
  sentiment.mkdir()
  for split, count in (("train", 16), ("dev", 8)):
    (sentiment / (split + ".tsv")).write_text(
        u"label\ttext_a\n" + u"".join(u"%d\t%s\n" % (i % 2, u"很好" if i % 2 else u"太差")
                                      for i in range(count)), encoding="utf-8")
  return {"records": str(work / "records" / "*.tfrecord"), "sentiment": str(sentiment),
          "config32": write_config(work / "config32.json"),
          "config48": write_config(work / "config48.json", hidden_size=48)}


def pretrain(data, output_dir, config, steps=1, *extra):
  return run_script(
      "run_pretraining.py", "--input_file=" + data["records"],
      "--output_dir=%s" % output_dir, "--bert_config_file=" + config, "--do_train",
      "--train_batch_size=4", "--max_seq_length=64", "--max_predictions_per_seq=10",
      "--num_train_steps=%d" % steps, "--num_warmup_steps=0", *extra)


def finetune(data, output_dir, config, *extra):
  return run_script(
      "run_classifier.py", "--task_name=chnsenticorp", "--data_dir=" + data["sentiment"],
      "--output_dir=%s" % output_dir, "--bert_config_file=" + config, "--do_train",
      "--max_seq_length=16", "--train_batch_size=4", "--num_train_steps=1", *extra)


# --- A checkpoint of another model ------------------------------------------------------


def test_resuming_pretraining_over_another_models_checkpoint(data, tmp_path):
  out = tmp_path / "out"
  status, output = pretrain(data, out, data["config32"])
  assert status == 0, output[-3000:]
  status, output = pretrain(data, out, data["config48"], 2)
  assert_one_error(status, output, "--output_dir %s holds a checkpoint of another model" % out,
                   "model.ckpt-1", "shape differs for bert/embeddings/word_embeddings "
                   "(model [21128, 48], checkpoint [21128, 32])", data["config48"])


def test_finetuning_over_another_models_checkpoint_and_a_wrong_init_checkpoint(data,
                                                                               tmp_path):
  small = tmp_path / "small"
  status, output = finetune(data, small, data["config32"])
  assert status == 0, output[-3000:]
  status, output = finetune(data, small, data["config48"])
  assert_one_error(status, output, "--output_dir %s holds a checkpoint of another model" %
                   small, "(model [21128, 48], checkpoint [21128, 32])")
  status, output = finetune(data, tmp_path / "fresh", data["config48"],
                            "--init_checkpoint=%s" % small)
  assert_one_error(status, output, "--init_checkpoint %s" % small, "does not fit the model of "
                   + data["config48"], "(model [21128, 48], checkpoint [21128, 32])")


# --- A full disk ------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path, size):
  """A tmpfs of `size` at `path` (remount it larger with grow(path, size))."""
  if os.geteuid() != 0:
    pytest.skip("mounting a small file system needs root (CI runs as root)")
  os.makedirs(str(path))
  mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs",
                            str(path)], stderr=subprocess.PIPE, universal_newlines=True)
  if mounted.returncode:
    pytest.skip("this machine does not let root mount a tmpfs: %s" % mounted.stderr)
  try:
    yield path
  finally:
    subprocess.run(["umount", str(path)])


def grow(path, size):
  subprocess.check_call(["mount", "-o", "remount,size=%s" % size, str(path)])


def leftovers(directory):
  """Temporary files or folders anywhere under `directory`."""
  found = []
  for root, dirs, files in os.walk(str(directory)):
    found += [os.path.join(root, name) for name in dirs + files
              if ".tmp" in name or "_temp" in name or "tempstate" in name]
  return found


def test_pretraining_on_a_full_disk_is_one_error_and_continues_after_space_is_freed(
    data, tmp_path):
  # 9 MB: the graph and event files fit, the first checkpoint (~8 MB with Adam's
  # slots) does not.
  with small_disk(tmp_path / "disk", "9m") as disk:
    out = disk / "out"
    status, output = pretrain(data, out, data["config32"], 3)
    assert_one_error(status, output, "out of space writing %s" % (out / "model.ckpt-0"),
                     "No space left on device", "run the same command again")
    assert leftovers(out) == []
    grow(disk, "64m")
    status, output = pretrain(data, out, data["config32"], 3)
    assert status == 0, output[-3000:]
    assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-3")
    assert leftovers(out) == []


def test_conversion_on_a_full_disk_leaves_no_partial_file(data, tmp_path):
  model = tmp_path / "model"
  status, output = pretrain(data, model, data["config32"])
  assert status == 0, output[-3000:]
  with small_disk(tmp_path / "disk", "1m") as disk:
    out = disk / "hf"
    status, output = run_script("convert_lert_to_hf.py", "--checkpoint=%s" % model,
                                "--config=" + data["config32"], "--vocab=" + VOCAB,
                                "--output_dir=%s" % out)
    assert_one_error(status, output, "out of space writing %s" % (out / "model.safetensors"))
    assert os.listdir(str(out)) == []  # neither the weights nor a temporary
    grow(disk, "16m")
    status, output = run_script("convert_lert_to_hf.py", "--checkpoint=%s" % model,
                                "--config=" + data["config32"], "--vocab=" + VOCAB,
                                "--output_dir=%s" % out)
    assert status == 0, output[-3000:]
    assert "model.safetensors" in os.listdir(str(out)) and leftovers(out) == []
