# coding=utf-8
"""Paths through the scripts that no other test takes, run as a user runs them.

Each test starts the real script in a subprocess on tiny fixtures it writes
(a 2-layer, hidden-32 model over the real vocabulary): the DRCD task, resuming
pretraining over `--init_checkpoint`, resuming fine-tuning, `--use_xla`.
"""

import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from conftest import REPO_ROOT, TINY_BERT_CONFIG, TINY_CORPUS_TEXT, read_results


def write(path, text):
  with io.open(str(path), "w", encoding="utf-8") as handle:
    handle.write(text)
  return str(path)


def run_script(script, *flags):
  """Runs a script of the repository; returns its output (stdout and stderr)."""
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, script)] + list(flags), cwd=REPO_ROOT,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES=""))
  assert result.returncode == 0, "%s failed:\n%s" % (script, result.stdout[-5000:])
  return result.stdout


def config_file(tmp_path):
  return write(tmp_path / "bert_config.json", json.dumps(TINY_BERT_CONFIG))


def pretraining_data(tmp_path):
  corpus = write(tmp_path / "corpus.txt", "\n".join([TINY_CORPUS_TEXT] * 10) + "\n")
  run_script("create_pretraining_data.py", "--input_file=" + corpus,
             "--input_format=doc_per_line", "--output_dir=" + str(tmp_path / "data"),
             "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=1")
  return str(tmp_path / "data" / "*.tfrecord")


def pretrain(tmp_path, output_dir, steps, *extra):
  return run_script(
      "run_pretraining.py", "--input_file=" + pretraining_data_cache(tmp_path),
      "--output_dir=" + str(output_dir), "--bert_config_file=" + config_file(tmp_path),
      "--do_train", "--train_batch_size=4", "--max_seq_length=64",
      "--max_predictions_per_seq=10", "--num_train_steps=%d" % steps,
      "--num_warmup_steps=0", "--save_checkpoints_steps=100", *extra)


def pretraining_data_cache(tmp_path):
  if not (tmp_path / "data" / "lert_data.json").exists():
    pretraining_data(tmp_path)
  return str(tmp_path / "data" / "*.tfrecord")


def checkpoint_values(directory):
  path = tf.train.latest_checkpoint(str(directory))
  reader = tf.train.load_checkpoint(path)
  # The model's weights (not the optimizer's moments, which move even at learning rate 0).
  return path, {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
                if name.startswith(("bert/", "cls/")) and
                not name.endswith(("/adam_m", "/adam_v"))}


def test_pretraining_resume_takes_precedence_over_init_checkpoint(tmp_path):
  """A run into an output_dir with a checkpoint resumes it; --init_checkpoint is ignored."""
  first, other = tmp_path / "first", tmp_path / "other"
  pretrain(tmp_path, first, 2)
  pretrain(tmp_path, other, 1, "--learning_rate=1e-3")
  _, before = checkpoint_values(first)
  _, elsewhere = checkpoint_values(other)
  assert any(not np.array_equal(before[n], elsewhere[n]) for n in before)
  # Learning rate 0: a resumed run leaves the weights as they were at step 2.
  log = pretrain(tmp_path, first, 3, "--init_checkpoint=" + tf.train.latest_checkpoint(
      str(other)), "--learning_rate=0.0")
  path, after = checkpoint_values(first)
  assert path.endswith("model.ckpt-3")
  for name in before:
    np.testing.assert_array_equal(after[name], before[name], err_msg=name)
  assert re.search(r"init_checkpoint.*(ignored|not used)", log), log[-3000:]


def sentiment_dir(tmp_path):
  data = tmp_path / "sentiment"
  data.mkdir()
  rows = [(u"1", u"很好，非常满意，推荐"), (u"0", u"太差了，不满意，退货")]
  for split, count in (("train", 24), ("dev", 8), ("test", 8)):
    write(data / (split + ".tsv"), u"label\ttext_a\n" + u"".join(
        u"%s\t%s\n" % rows[i % 2] for i in range(count)))
  return str(data)


def test_finetuning_resumes_where_it_stopped(tmp_path):
  data, config = sentiment_dir(tmp_path), config_file(tmp_path)
  out = tmp_path / "out"
  common = ["--task_name=chnsenticorp", "--data_dir=" + data, "--output_dir=" + str(out),
            "--bert_config_file=" + config, "--do_train", "--max_seq_length=32",
            "--train_batch_size=4", "--save_checkpoints_steps=2"]
  run_script("run_classifier.py", "--num_train_steps=4", *common)
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-4")
  run_script("run_classifier.py", "--num_train_steps=6", *common)
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-6")
  assert read_results(out / "train_results.txt")["updates"] == "2"


def drcd_json(with_answers=True):
  """DRCD's layout: Traditional Chinese, answers with an extra "id"."""
  context = u"哈爾濱工業大學位於冰城哈爾濱。LERT模型於2022年發布，由HFL訓練。"
  qas = []
  for i, (question, answer) in enumerate([(u"哈工大在哪？", u"哈爾濱"),
                                          (u"LERT何時發布？", u"2022年"),
                                          (u"誰訓練了LERT？", u"HFL")]):
    answers = [{"id": "1", "text": answer, "answer_start": context.index(answer)}]
    qas.append({"id": "1-1-%d" % i, "question": question,
                "answers": answers if with_answers else []})
  return json.dumps({"version": "1.3", "data": [{"id": "1", "title": u"哈工大", "paragraphs": [
      {"id": "1-1", "context": context, "qas": qas}]}]}, ensure_ascii=False)


def test_drcd_trains_evaluates_and_predicts(tmp_path):
  data = tmp_path / "drcd"
  data.mkdir()
  write(data / "DRCD_training.json", drcd_json())
  write(data / "DRCD_dev.json", drcd_json())
  write(data / "DRCD_test.json", drcd_json())
  out = tmp_path / "out"
  run_script("run_cmrc2018.py", "--task_name=drcd", "--data_dir=" + str(data),
             "--output_dir=" + str(out), "--bert_config_file=" + config_file(tmp_path),
             "--do_train", "--do_eval", "--do_predict", "--max_seq_length=48",
             "--doc_stride=16", "--max_query_length=12", "--num_train_steps=2",
             "--train_batch_size=4", "--predict_batch_size=4")
  results = read_results(out / "eval_results.txt")
  assert results["TOTAL"] == "3" and results["SKIP"] == "0"
  for split in ("dev", "test"):
    with io.open(str(out / split / "predictions.json"), encoding="utf-8") as handle:
      assert sorted(json.load(handle)) == ["1-1-0", "1-1-1", "1-1-2"]


def test_use_xla_trains(tmp_path):
  out = tmp_path / "xla"
  log = pretrain(tmp_path, out, 2, "--use_xla", "--do_eval", "--eval_batch_size=4",
                 "--max_eval_steps=1")
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-2"), log[-3000:]
  results = read_results(out / "eval_results.txt")
  assert np.isfinite(float(results["loss"]))


def _check_datasets(data_dir, *flags):
  return subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "scripts", "check_datasets.py"),
       "--data_dir", str(data_dir)] + list(flags), stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, universal_newlines=True)


def test_check_datasets_checks_the_files_present_against_the_official_counts(tmp_path):
  folder = tmp_path / "data" / "chnsenticorp"
  folder.mkdir(parents=True)
  for split, count in (("train", 9600), ("dev", 1200), ("test", 1200)):
    write(folder / (split + ".tsv"), u"label\ttext_a\n" + u"1\t很好\n" * count)
  result = _check_datasets(tmp_path / "data")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "chnsenticorp dev          1200 ok" in result.stdout
  assert "Not in --data_dir (skipped): " in result.stdout
  assert "cmrc2018/cmrc2018_dev.json" in result.stdout
  write(folder / "dev.tsv", u"label\ttext_a\n" + u"1\t很好\n" * 1199)
  result = _check_datasets(tmp_path / "data", "--tasks", "chnsenticorp")
  assert result.returncode == 1
  assert "chnsenticorp dev: 1199, official file 1200" in result.stdout
  assert "cmrc2018" not in result.stdout  # --tasks restricts the check
  write(folder / "dev.tsv", u"label\ttext_a\n" + u"7\t很好\n")
  result = _check_datasets(tmp_path / "data", "--tasks", "chnsenticorp")
  assert result.returncode == 2
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and "dev.tsv:2: unknown label '7'" in last
  result = _check_datasets(tmp_path / "data", "--tasks", "nosuch")
  assert result.returncode == 2 and "--tasks: unknown task(s) nosuch" in result.stderr


def test_mirrored_distribution_through_the_script(tmp_path):
  """--distribution=mirrored end to end, two replicas on two logical CPUs."""
  out = tmp_path / "mirrored"
  flags = ["--distribution=mirrored", "--mirrored_devices=/cpu:0,/cpu:1", "--do_eval",
           "--eval_batch_size=4", "--max_eval_steps=1"]
  if not hasattr(tf, "estimator"):  # TF 2.16+: the estimator-free engine refuses it
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "run_pretraining.py"),
         "--input_file=" + pretraining_data_cache(tmp_path), "--output_dir=%s" % out,
         "--bert_config_file=" + config_file(tmp_path), "--do_train",
         "--train_batch_size=4", "--max_seq_length=64", "--max_predictions_per_seq=10",
         "--num_train_steps=2"] + flags, cwd=REPO_ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: --distribution=mirrored needs tf.estimator")
    return
  log = pretrain(tmp_path, out, 2, *flags)
  assert "--distribution=mirrored: 2 replicas (/cpu:0, /cpu:1)" in log, log[-3000:]
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-2")
  assert np.isfinite(float(read_results(out / "eval_results.txt")["loss"]))
  # The flag is checked: other strategies and malformed devices are one error line.
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "run_pretraining.py"), "--do_train",
       "--mirrored_devices=/cpu:0,gpu1"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, universal_newlines=True)
  assert result.returncode == 2 and "--mirrored_devices is for --distribution=mirrored" in (
      result.stderr)
