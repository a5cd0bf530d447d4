# coding=utf-8
"""Every script of the runtime reports a bad flag and a bad file as one `error:` line."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

TINY_CONFIG = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
               "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02,
               "intermediate_size": 64, "max_position_embeddings": 512,
               "num_attention_heads": 2, "num_hidden_layers": 1, "type_vocab_size": 2,
               "vocab_size": 21128}

# script -> (bad flag arguments, bad file arguments, what the bad-file line names);
# {tmp} is the test's directory, {config} a valid model config.
CASES = {
    "run_pretraining.py": (
        ["--no_such_flag=1"],
        ["--do_train", "--bert_config_file={config}", "--output_dir={tmp}/out",
         "--input_file={tmp}/nothing-*.tfrecord"],
        "nothing-*.tfrecord: no such file"),
    "run_classifier.py": (
        ["--learning_rate=fast"],
        ["--task_name=chnsenticorp", "--do_train", "--data_dir={tmp}",
         "--output_dir={tmp}/out", "--bert_config_file={config}"],
        "train.tsv, which does not exist"),
    "run_cmrc2018.py": (
        ["--task_name=cmrc2018", "--doc_stride"],
        ["--task_name=cmrc2018", "--do_eval", "--data_dir={tmp}",
         "--output_dir={tmp}/out", "--bert_config_file={config}"],
        "cmrc2018_dev.json, which does not exist"),
    "run_ner.py": (
        ["--tag_scheme=bilou"],
        ["--task_name=msra_ner", "--do_train", "--data_dir={tmp}",
         "--output_dir={tmp}/out", "--bert_config_file={config}",
         "--init_checkpoint={tmp}/missing.ckpt"],
        "missing.ckpt not found"),
    "inspect_checkpoint.py": (
        ["--checkpoint={tmp}", "--verbose"],
        ["--checkpoint={tmp}/missing.ckpt"],
        "missing.ckpt not found"),
    "convert_lert_to_hf.py": (
        ["--checkpoint={tmp}/x", "--output_dir={tmp}/hf", "--do_lower_case=maybe"],
        ["--checkpoint={tmp}/missing.ckpt", "--output_dir={tmp}/hf"],
        "missing.ckpt not found"),
    "scripts/repeat_seeds.py": (
        ["--task=bq", "--seeds=1,two", "--init_checkpoint=c", "--data_dir=d",
         "--output_dir={tmp}/runs"],
        ["--task=bq", "--init_checkpoint=c", "--data_dir=d", "--output_dir={tmp}/runs",
         "--script={tmp}/missing.sh"],
        "missing.sh"),
}


def run_script(script, args, tmp_path):
  config = tmp_path / "config.json"
  config.write_text(json.dumps(TINY_CONFIG))
  args = [a.format(tmp=tmp_path, config=config) for a in args]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, script)] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=str(tmp_path), timeout=120)
  stderr = result.stderr.decode("utf-8", "replace")
  errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
  assert "Traceback" not in stderr, stderr
  assert len(errors) == 1, stderr
  assert result.returncode == 2, stderr
  return errors[0]


@pytest.mark.parametrize("script", sorted(CASES))
def test_bad_flag_and_bad_file_are_one_error_line(script, tmp_path):
  bad_flag, bad_file, named = CASES[script]
  run_script(script, bad_flag, tmp_path)
  assert named in run_script(script, bad_file, tmp_path)


def test_task_scripts_report_one_error_line(tmp_path):
  script = os.path.join(REPO_ROOT, "scripts", "finetune_bq.sh")
  env = dict(os.environ, PYTHON="echo")
  for args, named in ((["--data_dir=d", "--output_dir=o", "--init_checkpoint"],
                       "--init_checkpoint needs a value"),
                      (["--data_dir=d", "--output_dir=o",
                        "--init_checkpoint=%s" % (tmp_path / "model.ckpt")],
                       "no bert_config.json or lert_config.json in %s" % tmp_path)):
    result = subprocess.run(["bash", script] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    lines = result.stderr.decode("utf-8").splitlines()
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], lines


def test_config_smaller_than_the_vocabulary_is_one_error_line(tmp_path):
  """vocab_size below the vocabulary's size: named before TensorFlow fails deep inside."""
  config = tmp_path / "small_vocab.json"
  config.write_text(json.dumps({"hidden_size": 32, "num_hidden_layers": 1,
                                "num_attention_heads": 4, "intermediate_size": 64,
                                "vocab_size": 1000, "max_position_embeddings": 64}))
  data = tmp_path / "data"
  data.mkdir()
  (data / "train.tsv").write_text(u"label\ttext_a\n1\t很好\n", encoding="utf-8")
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "run_classifier.py"),
       "--task_name=chnsenticorp", "--data_dir=%s" % data, "--output_dir=%s" % (tmp_path / "o"),
       "--bert_config_file=%s" % config, "--do_train", "--max_seq_length=16"],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  lines = result.stderr.decode("utf-8").strip().splitlines()
  errors_ = [line for line in lines if line.startswith("error: ")]
  assert result.returncode == 2 and len(errors_) == 1, lines[-5:]
  assert "vocab_size" in errors_[0] and "small_vocab.json" in errors_[0]
