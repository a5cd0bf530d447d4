# coding=utf-8
"""The three environments share checkpoints and numbers (TF 1.15, TF 2.15, TF 2.16+).

Each built environment pretrains a tiny model from the same data (made once by the
generator) and every other environment restores that checkpoint: evaluation and
prediction give the same numbers, training resumes at the saved step with the same
variable names. A classifier fine-tuned in one environment predicts the same
probabilities everywhere, and the Hugging Face conversion writes the same tensors.

The scripts run as a user runs them (subprocesses of each environment's Python).
The test runs once, from the .venv-tf-latest suite, since it drives all three
environments itself; the other suites skip it, saying so.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO_ROOT

ENVS = ("tf1", "tf2", "tf-latest")
TINY = {"attention_probs_dropout_prob": 0.0, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
        "max_position_embeddings": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
        "type_vocab_size": 2, "vocab_size": 21128}
SEQ, PREDICTIONS = 32, 5
TEXT = [u"哈工大位于冰城哈尔滨。", u"中国代表团今天抵达北京，受到热烈欢迎。",
        u"国务院总理李鹏在北京会见了日本客人。", u"我们要认真学习新年讲话的精神。",
        u"这家酒店的服务很好，房间也很干净。", u"上海的经济发展很快，人民生活水平不断提高。"]


def python_of(env):
  return os.path.join(REPO_ROOT, ".venv-" + env, "bin", "python")


def current_env():
  prefix = os.path.realpath(sys.prefix)
  for env in ENVS:
    if prefix == os.path.realpath(os.path.join(REPO_ROOT, ".venv-" + env)):
      return env
  return None


pytestmark = pytest.mark.skipif(
    current_env() != "tf-latest",
    reason="drives every environment itself; it runs once, from the .venv-tf-latest suite")


def run(env, script, *flags):
  result = subprocess.run([python_of(env), os.path.join(REPO_ROOT, script)] + list(flags),
                          cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  output = result.stdout.decode("utf-8", "replace")
  assert result.returncode == 0, "%s in %s failed:\n%s" % (script, env, output[-4000:])
  return output


def pretrain_flags(data_dir, output_dir, config, **overrides):
  flags = dict(input_file=os.path.join(data_dir, "*.tfrecord"), output_dir=output_dir,
               bert_config_file=config, max_seq_length=SEQ,
               max_predictions_per_seq=PREDICTIONS, train_batch_size=8, eval_batch_size=8,
               learning_rate=1e-3, num_train_steps=3, num_warmup_steps=1,
               save_checkpoints_steps=100, max_eval_steps=2, log_step_count_steps=1)
  flags.update(overrides)
  return ["--%s=%s" % item for item in sorted(flags.items())]


def eval_results(output_dir):
  results = {}
  with open(os.path.join(output_dir, "eval_results.txt")) as handle:
    for line in handle:
      key, _, value = line.strip().partition(" = ")
      try:
        results[key] = float(value)
      except ValueError:
        pass
  return results


def probabilities(path):
  """Every probability the predictions hold (MLM top-1, POS, NER), in file order."""
  values = []
  with open(path, encoding="utf-8") as handle:
    for line in handle:
      for mask in json.loads(line)["masks"]:
        values += [mask["top_k"][0]["prob"], mask["pos_prob"], mask["ner_prob"]]
  return np.array(values)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
  built = [env for env in ENVS if os.path.exists(python_of(env))]
  if len(built) < len(ENVS):
    missing = sorted(set(ENVS) - set(built))
    if os.environ.get("CI") == "true":
      pytest.fail("environment(s) %s not built" % ", ".join(missing))
    pytest.skip("environment(s) %s not built (make setup)" % ", ".join(missing))
  root = str(tmp_path_factory.mktemp("cross_env"))
  corpus = os.path.join(root, "corpus.txt")
  with open(corpus, "w", encoding="utf-8") as handle:
    for repeat in range(6):
      for sentence in TEXT:
        handle.write(sentence + "\n")
      handle.write("\n")
  config = os.path.join(root, "config.json")
  with open(config, "w") as handle:
    json.dump(TINY, handle)
  data_dir = os.path.join(root, "data")
  run("tf-latest", "create_pretraining_data.py", "--input_file=" + corpus,
      "--input_format=sentence_per_line", "--cache_dir=" + os.path.join(root, "cache"),
      "--output_dir=" + data_dir, "--max_seq_length=%d" % SEQ,
      "--max_predictions_per_seq=%d" % PREDICTIONS, "--dupe_factor=2", "--num_workers=1")
  predict_file = os.path.join(root, "predict.txt")
  with open(predict_file, "w", encoding="utf-8") as handle:
    handle.write(u"中国[MASK][MASK]代表团今天抵达北京。\n哈工大位于冰城[MASK][MASK][MASK]。\n")
  return {"root": root, "config": config, "data": data_dir, "predict": predict_file}


def test_pretraining_checkpoints_restore_everywhere(workspace):
  for writer in ENVS:
    model_dir = os.path.join(workspace["root"], "pretrain_" + writer)
    run(writer, "run_pretraining.py", "--do_train", *pretrain_flags(
        workspace["data"], model_dir, workspace["config"]))
    reference = None
    for reader in (writer,) + tuple(env for env in ENVS if env != writer):
      copy = os.path.join(workspace["root"], "from_%s_in_%s" % (writer, reader))
      shutil.copytree(model_dir, copy)
      predictions = os.path.join(copy, "predictions.jsonl")
      run(reader, "run_pretraining.py", "--do_eval", "--do_predict",
          "--predict_input_file=" + workspace["predict"],
          "--predict_output_file=" + predictions,
          *pretrain_flags(workspace["data"], copy, workspace["config"]))
      numbers = (eval_results(copy), probabilities(predictions))
      assert numbers[0]["global_step"] == 3
      if reference is None:
        reference = numbers
        continue
      where = "checkpoint of %s read in %s" % (writer, reader)
      for key in ("loss", "mlm_loss", "pos_loss", "ner_loss", "mlm_accuracy"):
        assert numbers[0][key] == pytest.approx(reference[0][key], rel=1e-4, abs=1e-6), (
            where, key)
      np.testing.assert_allclose(numbers[1], reference[1], rtol=1e-4, atol=1e-6,
                                 err_msg=where)
    # Training resumes in the next environment at the saved step, same variables.
    resumer = ENVS[(ENVS.index(writer) + 1) % len(ENVS)]
    resumed = os.path.join(workspace["root"], "resumed_%s_in_%s" % (writer, resumer))
    shutil.copytree(model_dir, resumed)
    log = run(resumer, "run_pretraining.py", "--do_train", *pretrain_flags(
        workspace["data"], resumed, workspace["config"], num_train_steps=5))
    assert "model.ckpt-3" in log  # restored from the writer's checkpoint
    with open(os.path.join(resumed, "checkpoint")) as handle:
      assert 'model_checkpoint_path: "model.ckpt-5"' in handle.read()


def test_finetuning_and_conversion_agree_everywhere(workspace):
  pretrain_dir = os.path.join(workspace["root"], "pretrain_for_finetuning")
  run("tf1", "run_pretraining.py", "--do_train", *pretrain_flags(
      workspace["data"], pretrain_dir, workspace["config"]))
  sentiment = os.path.join(workspace["root"], "sentiment")
  os.makedirs(sentiment)
  for split in ("train", "dev", "test"):
    with open(os.path.join(sentiment, split + ".tsv"), "w", encoding="utf-8") as handle:
      handle.write("label\ttext_a\n")
      for index, sentence in enumerate(TEXT):
        handle.write("%d\t%s\n" % (index % 2, sentence))
  finetuned = os.path.join(workspace["root"], "finetuned")
  common = ["--task_name=chnsenticorp", "--data_dir=" + sentiment,
            "--bert_config_file=" + workspace["config"], "--max_seq_length=%d" % SEQ,
            "--train_batch_size=4", "--predict_batch_size=4"]
  run("tf1", "run_classifier.py", "--output_dir=" + finetuned, "--do_train",
      "--init_checkpoint=" + pretrain_dir, "--num_train_steps=2", *common)
  checkpoint = os.path.join(finetuned, "model.ckpt-2")
  tables, converted = {}, {}
  for env in ENVS:
    out = os.path.join(workspace["root"], "predict_" + env)
    run(env, "run_classifier.py", "--output_dir=" + out, "--do_predict",
        "--init_checkpoint=" + checkpoint, *common)
    with open(os.path.join(out, "test", "predictions.tsv"), encoding="utf-8") as handle:
      tables[env] = [line.split("\t") for line in handle.read().splitlines()[1:]]
    hf_dir = os.path.join(workspace["root"], "hf_" + env)
    run(env, "convert_lert_to_hf.py", "--checkpoint=" + os.path.join(pretrain_dir,
                                                                      "model.ckpt-3"),
        "--config=" + workspace["config"], "--vocab=" + os.path.join(REPO_ROOT, "vocab.txt"),
        "--output_dir=" + hf_dir)
    with open(os.path.join(hf_dir, "model.safetensors"), "rb") as handle:
      converted[env] = handle.read()
  for env in ENVS[1:]:
    assert [row[:2] for row in tables[env]] == [row[:2] for row in tables["tf1"]], env
    np.testing.assert_allclose([float(row[2]) for row in tables[env]],
                               [float(row[2]) for row in tables["tf1"]], atol=2e-6)
    assert converted[env] == converted["tf1"], env  # the same tensors, byte for byte
