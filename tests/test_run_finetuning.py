# coding=utf-8
"""End to end, in-process: run_classifier, run_cmrc2018 and run_ner on tiny
fixtures (a 2-layer, hidden-32 model over the real vocabulary), plus the
fine-tuning layer's checkpoint handling and the seed runner."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf
from absl import flags

from lert import errors
from lert.finetune import common
from lert.finetune import driver
from lert.finetune import tagging
from conftest import TINY_BERT_CONFIG, read_results
import modeling
import run_classifier
import run_cmrc2018
import run_ner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))



def write(path, text, encoding="utf-8"):
  with io.open(str(path), "w", encoding=encoding, newline="") as f:
    f.write(text)
  return str(path)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
  path = tmp_path_factory.mktemp("config") / "bert_config.json"
  return write(path, json.dumps(TINY_BERT_CONFIG))


SCRIPT_FAMILIES = {run_classifier: common.CLASSIFICATION,
                   run_cmrc2018: common.SPAN, run_ner: common.TAGGING}


def run_main(script, **overrides):
  """Runs a script's main() in-process, its flags (fresh ones) set to `overrides`."""
  flag_values = driver.define_flags(flags.FlagValues(), SCRIPT_FAMILIES[script])
  flag_values(["prog"])
  for name, value in overrides.items():
    setattr(flag_values, name, value)
  script.main([], flag_values)


def common_flags(config_file, data_dir, output_dir, **kw):
  values = dict(bert_config_file=config_file, data_dir=str(data_dir),
                output_dir=str(output_dir), train_batch_size=8,
                predict_batch_size=8, log_step_count_steps=5,
                num_train_epochs=1.0, seed=7)
  values.update(kw)
  return values


# --- Classification ---------------------------------------------------------

# One character tells the classes apart, so a tiny model learns it in 40 steps.
POSITIVE = [u"好好好", u"好，好", u"很好", u"好极了"]
NEGATIVE = [u"差差差", u"差，差", u"很差", u"差极了"]


def sentiment_tsv(n):
  lines = [u"label\ttext_a"]
  for i in range(n):
    lines.append(u"1\t" + POSITIVE[i % 4])
    lines.append(u"0\t" + NEGATIVE[i % 4])
  return u"\n".join(lines) + u"\n"


def test_classifier_trains_keeps_best_and_predicts(tmp_path, config_file):
  data = tmp_path / "chnsenticorp"
  data.mkdir()
  write(data / "train.tsv", sentiment_tsv(16))
  write(data / "dev.tsv", sentiment_tsv(4))
  write(data / "test.tsv", sentiment_tsv(2))
  out = tmp_path / "out"
  run_main(run_classifier, **common_flags(
      config_file, data, out, task_name="chnsenticorp", max_seq_length=16,
      do_train=True, do_eval=True, do_predict=True, num_train_steps=40,
      save_checkpoints_steps=20, learning_rate=1e-3))
  # Evaluated at steps 20 and 40; the best one was copied aside.
  best = read_results(out / "best_eval_results.txt")
  assert float(best["accuracy"]) == 100.0
  assert best["checkpoint"].startswith(str(out / "best" / "model.ckpt-"))
  assert tf.train.latest_checkpoint(str(out / "best")) == best["checkpoint"]
  assert (out / "best" / "predictions.tsv").exists()
  last = read_results(out / "eval_results.txt")
  assert last["global_step"] == "40"
  train = read_results(out / "train_results.txt")
  assert train["updates"] == "40" and float(train["examples_per_second"]) > 0
  # Predictions carry the task's own label names.
  with io.open(str(out / "test" / "predictions.tsv"), encoding="utf-8") as f:
    rows = [line.rstrip("\n").split("\t") for line in f]
  assert rows[0] == ["id", "label", "probability"]
  assert [r[1] for r in rows[1:]] == ["1", "0"] * 2
  assert float(read_results(out / "predict_results.txt")["accuracy"]) == 100.0
  report = json.load(io.open(str(out / "data_report.json")))
  assert report["train"]["read"]["examples"] == 32


def test_ocnli_unlabeled_dev_cannot_be_scored_but_missing_split_fails_first(
    tmp_path, config_file):
  data = tmp_path / "ocnli"
  data.mkdir()
  write(data / "dev.json", u'{"sentence1": "a", "sentence2": "b", "id": 0}\n')
  with pytest.raises(errors.UserError, match=r"train split needs .*train\.50k\.json"):
    run_main(run_classifier, **common_flags(
        config_file, data, tmp_path / "o1", task_name="ocnli",
        max_seq_length=16, do_train=True, do_eval=True))
  with pytest.raises(errors.UserError, match="dev split has no labels"):
    run_main(run_classifier, **common_flags(
        config_file, data, tmp_path / "o2", task_name="ocnli",
        max_seq_length=16, do_eval=True))


def test_unknown_task_for_the_script(tmp_path, config_file):
  with pytest.raises(ValueError, match="unknown task 'msra_ner'"):
    run_main(run_classifier, **common_flags(
        config_file, tmp_path, tmp_path / "o", task_name="msra_ner",
        do_eval=True))


def test_init_checkpoint_restores_encoder_and_adds_head(tmp_path, config_file):
  # A "pretrained" checkpoint: the encoder plus a pretraining-only variable.
  init_dir = tmp_path / "pretrained"
  init_dir.mkdir()
  with tf.Graph().as_default():
    ids = tf.zeros([1, 8], tf.int32)
    modeling.BertModel(modeling.BertConfig.from_dict(TINY_BERT_CONFIG), False, ids)
    tf.get_variable("cls/predictions/output_bias", [21128])
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      init_ckpt = tf.train.Saver().save(sess, str(init_dir / "model.ckpt"))
  data = tmp_path / "chnsenticorp"
  data.mkdir()
  write(data / "train.tsv", sentiment_tsv(4))
  out = tmp_path / "out"
  # learning_rate 0: one update must leave every restored weight unchanged.
  run_main(run_classifier, **common_flags(
      config_file, data, out, task_name="chnsenticorp", max_seq_length=16,
      do_train=True, num_train_steps=1, learning_rate=0.0,
      init_checkpoint=init_ckpt))
  trained = tf.train.latest_checkpoint(str(out))
  names = dict(tf.train.list_variables(trained))
  assert "finetune/classifier/kernel" in names
  assert "cls/predictions/output_bias" not in names
  for name in ("bert/embeddings/word_embeddings",
               "bert/encoder/layer_1/output/dense/kernel",
               "bert/pooler/dense/kernel"):
    np.testing.assert_array_equal(tf.train.load_variable(trained, name),
                                  tf.train.load_variable(init_ckpt, name))


# --- Span extraction ---------------------------------------------------------


def squad_json(with_answers=True):
  context = u"哈工大位于冰城哈尔滨。LERT模型于2022年发布，由HFL训练。" * 3
  qas = []
  for i, (question, answer) in enumerate([
      (u"哈工大在哪？", u"哈尔滨"), (u"LERT何时发布？", u"2022年"),
      (u"谁训练了LERT？", u"HFL"), (u"模型叫什么？", u"LERT模型")]):
    qa = {"id": "Q%d" % i, "question": question, "answers": []}
    if with_answers:
      qa["answers"] = [{"text": answer, "answer_start": context.index(answer)}]
    qas.append(qa)
  paragraphs = [{"id": "P0", "context": context, "qas": qas}]
  # An empty context and an answer whose offset does not match its text.
  paragraphs.append({"id": "P1", "context": u"", "qas": [
      {"id": "EMPTY", "question": u"空？", "answers": [] if not with_answers
       else [{"text": u"空", "answer_start": 0}]}]})
  paragraphs.append({"id": "P2", "context": u"北京是首都。", "qas": [
      {"id": "BAD", "question": u"首都？", "answers": [] if not with_answers
       else [{"text": u"北京", "answer_start": 3}]}]})
  return json.dumps({"version": "v1.0", "data": [
      {"id": "D", "title": "t", "paragraphs": paragraphs}]},
                    ensure_ascii=False)


def test_cmrc2018_end_to_end(tmp_path, config_file):
  data = tmp_path / "cmrc"
  data.mkdir()
  write(data / "cmrc2018_train.json", squad_json())
  write(data / "cmrc2018_dev.json", squad_json())
  write(data / "cmrc2018_trial.json", squad_json(with_answers=False))
  out = tmp_path / "out"
  run_main(run_cmrc2018, **common_flags(
      config_file, data, out, task_name="cmrc2018", max_seq_length=48,
      doc_stride=16, max_query_length=12, n_best_size=5, max_answer_length=8,
      do_train=True, do_eval=True, do_predict=True, predict_split="trial",
      num_train_steps=4, learning_rate=1e-3))
  for split in ("dev", "trial"):
    preds = json.load(io.open(str(out / split / "predictions.json"),
                              encoding="utf-8"))
    assert sorted(preds) == ["BAD", "EMPTY", "Q0", "Q1", "Q2", "Q3"]
    assert preds["EMPTY"] == u""
    nbest = json.load(io.open(str(out / split / "nbest_predictions.json"),
                              encoding="utf-8"))
    assert 1 <= len(nbest["Q0"]) <= 5
    assert nbest["Q0"][0]["text"] == preds["Q0"]
    for cand in nbest["Q0"]:
      assert u"？" not in cand["text"]  # never from the question
  result = read_results(out / "eval_results.txt")
  assert result["TOTAL"] == "6" and result["SKIP"] == "0"
  assert 0.0 <= float(result["F1"]) <= 100.0
  assert (out / "best" / "nbest_predictions.json").exists()
  report = json.load(io.open(str(out / "data_report.json")))
  assert report["train"]["read"]["answer_mismatch"] == 2  # BAD, EMPTY
  # BAD's answer is found next to its offset; EMPTY has no context to find it in.
  assert report["train"]["features"]["answer_relocated"] == 1
  assert report["train"]["features"]["skipped_mismatch"] == 0
  assert report["train"]["features"]["empty_context"] == 1  # EMPTY
  assert report["dev"]["features"]["empty_context"] == 1
  # The evaluation command agrees with the in-process score.
  line = subprocess.check_output([
      sys.executable, os.path.join(REPO, "cmrc2018_evaluate.py"),
      str(data / "cmrc2018_dev.json"), str(out / "dev" / "predictions.json")])
  scores = json.loads(line.decode("utf-8"))
  assert abs(float(scores["F1"]) - float(result["F1"])) < 1e-3
  assert abs(float(scores["EM"]) - float(result["EM"])) < 1e-3


# --- Tagging ------------------------------------------------------------------


def ner_text(sep, scheme="bio"):
  long_sentence = (u"我在北京天安门见到了张三丰。" * 6)  # 84 chars: windowed
  sentences = [u"李四去上海。", long_sentence, u"王五在中国银行工作。"]
  entities = {u"北京天安门": "LOC", u"上海": "LOC", u"张三丰": "PER",
              u"李四": "PER", u"王五": "PER", u"中国银行": "ORG"}
  lines = []
  for s in sentences:
    tags = ["O"] * len(s)
    for name, etype in entities.items():
      start = s.find(name)
      while start >= 0:
        n = len(name)
        if scheme == "bioes" and n == 1:
          tags[start] = "S-" + etype
        else:
          tags[start] = "B-" + etype
          for k in range(start + 1, start + n):
            tags[k] = "I-" + etype
          if scheme == "bioes":
            tags[start + n - 1] = "E-" + etype
        start = s.find(name, start + n)
    lines += [u"%s%s%s" % (c, sep, t) for c, t in zip(s, tags)] + [u""]
  return u"\n".join(lines) + u"\n"


def test_msra_ner_end_to_end_with_windows(tmp_path, config_file):
  data = tmp_path / "msra"
  data.mkdir()
  write(data / "train.bio", ner_text("\t"))
  write(data / "test.bio", ner_text("\t"))
  out = tmp_path / "out"
  run_main(run_ner, **common_flags(
      config_file, data, out, task_name="msra_ner", max_seq_length=32,
      doc_stride=10, do_train=True, do_eval=True, do_predict=True,
      num_train_steps=3, learning_rate=1e-3, tag_scheme="bio"))
  result = read_results(out / "eval_results.txt")
  assert result["entities_gold"] == "16"
  report = json.load(io.open(str(out / "data_report.json")))
  assert report["test"]["features"]["windowed_sentences"] == 1
  # Predictions in the input format: every character, in order, once.
  gold, _ = tagging.read_char_tag_file(str(data / "test.bio"),
                                       tagging.bio_labels(tagging.NER_TYPES))
  pred, _ = tagging.read_char_tag_file(str(out / "test" / "predictions.txt"),
                                       tagging.bio_labels(tagging.NER_TYPES))
  assert [p.tokens for p in pred] == [g.tokens for g in gold]
  assert all(p.separator == "\t" for p in pred)
  assert (out / "best_eval_results.txt").exists()


def test_peopledaily_bioes_space_separated(tmp_path, config_file):
  data = tmp_path / "pd"
  data.mkdir()
  write(data / "train.txt", ner_text(" ", "bioes"))
  write(data / "dev.txt", ner_text(" ", "bioes"))
  out = tmp_path / "out"
  run_main(run_ner, **common_flags(
      config_file, data, out, task_name="peopledaily", max_seq_length=64,
      doc_stride=32, do_train=True, do_eval=True, num_train_steps=2,
      learning_rate=1e-3, tag_scheme="bioes"))
  assert read_results(out / "eval_results.txt")["entities_gold"] == "16"
  with io.open(str(out / "dev" / "predictions.txt"), encoding="utf-8") as f:
    first = f.readline()
  assert first.startswith(u"李 ")
  # BIO labels cannot read BIOES files: the error names file and line.
  with pytest.raises(errors.UserError, match=r"train\.txt:\d+: unknown label 'E-PER'"):
    run_main(run_ner, **common_flags(
        config_file, data, tmp_path / "o2", task_name="peopledaily",
        max_seq_length=64, do_train=True, num_train_steps=1,
        tag_scheme="bio"))


# --- Settings and the seed runner ---------------------------------------------


def test_flags_come_from_one_table():
  names = [s[0] for s in driver.SETTINGS]
  assert len(names) == len(set(names))
  for family, only in ((common.CLASSIFICATION, ()),
                       (common.SPAN, ("doc_stride", "max_answer_length")),
                       (common.TAGGING, ("doc_stride", "tag_scheme"))):
    defined = [s[0] for s in driver.settings_for(family)]
    for name in only:
      assert name in defined
  assert "max_answer_length" not in [
      s[0] for s in driver.settings_for(common.CLASSIFICATION)]
  with pytest.raises(ValueError, match="unknown fine-tuning setting"):
    driver.FinetuneConfig(no_such_flag=1)


def test_repeat_seeds_prints_max_avg(tmp_path):
  sys.path.insert(0, os.path.join(REPO, "scripts"))
  try:
    import repeat_seeds
  finally:
    sys.path.pop(0)
  assert repeat_seeds.max_avg([94.9, 94.5, 94.7]) == "94.9 (94.7)"
  # A stand-in task script that writes a CMRC-style result per seed.
  script = write(tmp_path / "fake.sh", u"""
out=""; seed=""
while [ $# -gt 0 ]; do
  case "$1" in --output_dir) out="$2"; shift ;; --seed=*) seed="${1#*=}" ;; esac
  shift
done
mkdir -p "$out"
printf 'EM = %s\\nF1 = %s\\ncheckpoint = x\\n' "6$seed.0" "8$seed.5" > "$out/best_eval_results.txt"
""")
  cmd = [sys.executable, os.path.join(REPO, "scripts", "repeat_seeds.py"),
         "--task", "cmrc2018", "--seeds", "1,3,2", "--init_checkpoint", "c",
         "--data_dir", "d", "--output_dir", str(tmp_path / "runs"),
         "--script", script]
  out = subprocess.check_output(cmd).decode("utf-8")
  # EM 61, 63, 62 -> 63.0 (62.0); F1 81.5, 83.5, 82.5 -> 83.5 (82.5).
  assert out.strip().splitlines()[-1] == (
      "cmrc2018 EM / F1 over 3 seeds, max (avg): 63.0 (62.0) / 83.5 (82.5)")
  # Runs that finished are not repeated.
  again = subprocess.check_output(cmd).decode("utf-8")
  assert again.count("not run again") == 3


def test_task_scripts_pass_hfl_settings_and_find_the_config(tmp_path):
  ckpt_dir = tmp_path / "chinese_lert_small"
  ckpt_dir.mkdir()
  env = dict(os.environ, PYTHON="echo")  # print the command instead
  script = os.path.join(REPO, "scripts", "finetune_cmrc2018.sh")
  args = ["bash", script, "--init_checkpoint", str(ckpt_dir / "model.ckpt"),
          "--data_dir=/data/cmrc", "--output_dir", "/out", "--seed=3"]
  missing = subprocess.run(args, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
  assert missing.returncode == 2
  assert b"no bert_config.json or lert_config.json" in missing.stderr
  write(ckpt_dir / "lert_config.json", u"{}")
  words = subprocess.check_output(args, env=env).decode("utf-8").split()
  assert words[0].endswith("run_cmrc2018.py")
  for expected in ("--task_name=cmrc2018", "--data_dir=/data/cmrc",
                   "--output_dir=/out", "--learning_rate=3e-5",
                   "--train_batch_size=32", "--num_train_epochs=2",
                   "--max_seq_length=512", "--doc_stride=128",
                   "--warmup_proportion=0.1", "--do_train", "--do_eval",
                   "--bert_config_file=%s" % (ckpt_dir / "lert_config.json"),
                   "--vocab_file=%s" % os.path.join(REPO, "vocab.txt")):
    assert expected in words
  # Extra flags come last, so they override the task's defaults.
  assert words[-1] == "--seed=3"
  for name in ("chnsenticorp", "tnews", "xnli", "lcqmc", "bq", "ocnli",
               "drcd", "msra_ner", "peopledaily"):
    words = subprocess.check_output(
        ["bash", os.path.join(REPO, "scripts", "finetune_%s.sh" % name)] +
        args[2:], env=env).decode("utf-8").split()
    assert "--task_name=%s" % name in words


def test_recipes_run_the_projects_interpreter_unless_python_is_set(tmp_path):
  """finetune_common.sh: $PYTHON, else <repo>/.venv-tf2/bin/python, else python."""
  repo = tmp_path / "repo"
  (repo / "scripts").mkdir(parents=True)
  for name in ("finetune_common.sh", "finetune_chnsenticorp.sh"):
    os.symlink(os.path.join(REPO, "scripts", name), str(repo / "scripts" / name))
  (repo / "vocab.txt").write_text(u"[PAD]\n")
  ckpt_dir = tmp_path / "ckpt"
  ckpt_dir.mkdir()
  write(ckpt_dir / "bert_config.json", u"{}")
  args = ["bash", str(repo / "scripts" / "finetune_chnsenticorp.sh"), "--init_checkpoint",
          str(ckpt_dir), "--data_dir", "d", "--output_dir", "o"]
  fake = repo / ".venv-tf2" / "bin" / "python"
  fake.parent.mkdir(parents=True)
  write(fake, u"#!/bin/sh\necho venv-python \"$@\"\n")
  os.chmod(str(fake), 0o755)
  env = dict(os.environ)
  env.pop("PYTHON", None)
  assert subprocess.check_output(args, env=env).decode("utf-8").startswith("venv-python ")
  env["PYTHON"] = "echo"
  assert subprocess.check_output(args, env=env).decode("utf-8").split()[0].endswith(
      "run_classifier.py")


def test_repeat_seeds_runs_the_recipe_with_its_own_interpreter(tmp_path):
  script = write(tmp_path / "fake.sh", u"""
out=""
while [ $# -gt 0 ]; do
  case "$1" in --output_dir) out="$2"; shift ;; esac
  shift
done
mkdir -p "$out"
printf 'accuracy = 90.0\\n' > "$out/best_eval_results.txt"
printf '%s' "$PYTHON" > "$out/python.txt"
""")
  env = dict(os.environ)
  env.pop("PYTHON", None)
  subprocess.check_output(
      [sys.executable, os.path.join(REPO, "scripts", "repeat_seeds.py"), "--task",
       "chnsenticorp", "--seeds", "1", "--init_checkpoint", "c", "--data_dir", "d",
       "--output_dir", str(tmp_path / "runs"), "--script", script], env=env)
  with io.open(str(tmp_path / "runs" / "seed_1" / "python.txt"), encoding="utf-8") as f:
    assert f.read() == sys.executable
