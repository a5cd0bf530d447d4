"""run_pretraining.py end to end on a tiny config: train, eval, predict, resume, init, workers."""

import functools
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from absl import flags
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

import convert_lert_to_hf
import create_pretraining_data
from lert import errors
from lert.engine import estimators
from lert.engine import input_pipeline
from lert import linguistics
from lert.records.record_schema import PRETRAINING
import modeling
import run_pretraining
from lert.engine import summaries
from lert.checkpoints import tf_checkpoints
from conftest import REPO_ROOT, TINY_BERT_CONFIG, read_results  # noqa: F401

SEQ = 32
PREDICTIONS = 5
# The shared tiny model without dropout (losses must fall reliably), 4 heads, 64 positions.
TINY_CONFIG = dict(TINY_BERT_CONFIG, attention_probs_dropout_prob=0.0,
                   hidden_dropout_prob=0.0, max_position_embeddings=64,
                   num_attention_heads=4)


def synthetic_examples(count, seed, labelled=("pos", "ner", "dep"), seq=SEQ):
  """Learnable instances: the masked token and its tags are functions of its neighbours."""
  rng = np.random.RandomState(seed)
  for _ in range(count):
    ids = rng.randint(670, 700, seq).tolist()
    positions = sorted(rng.choice(np.arange(1, seq - 1), PREDICTIONS,
                                  replace=False).tolist())
    example = {"input_ids": ids, "input_mask": [1] * seq, "segment_ids": [0] * seq,
               "masked_lm_positions": positions,
               "masked_lm_ids": [ids[p] for p in positions],
               "masked_lm_weights": [1.0] * PREDICTIONS}
    for p in positions:
      example["input_ids"][p] = 103  # [MASK]
    for task in linguistics.TASKS:
      size = linguistics.num_labels(task)
      example["%s_labels" % task] = (
          [ids[p] % size for p in positions] if task in labelled else [0] * PREDICTIONS)
    yield example


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """Two TFRecord files with a sidecar (jieba-like: DEP unlabelled) and a tiny config."""
  directory = tmp_path_factory.mktemp("pretrain_data")
  for shard in range(2):
    path = str(directory / ("data-%d.tfrecord" % shard))
    input_pipeline.write_examples(
        path, synthetic_examples(32, seed=shard, labelled=("pos", "ner")), PRETRAINING)
  sidecar = {"annotator": "jieba", "labelled_tasks": ["pos", "ner"],
             "max_seq_length": SEQ, "max_predictions_per_seq": PREDICTIONS,
             "inventories": {t: list(linguistics.LABELS[t]) for t in linguistics.TASKS}}
  (directory / "lert_data.json").write_text(json.dumps(sidecar))
  (directory / "config.json").write_text(json.dumps(TINY_CONFIG))
  return directory


def base_flags(data_dir, output_dir, **overrides):
  values = dict(
      input_file=str(data_dir / "data-*.tfrecord"), output_dir=str(output_dir),
      bert_config_file=str(data_dir / "config.json"), max_seq_length=SEQ,
      max_predictions_per_seq=PREDICTIONS, train_batch_size=8, eval_batch_size=8,
      learning_rate=2e-3, num_train_steps=30, num_warmup_steps=3,
      save_checkpoints_steps=10, max_eval_steps=4, log_step_count_steps=10,
      pos_end_step=10, ner_end_step=20, dep_end_step=0, do_train=True,
      do_eval=False, do_predict=False, save_summary_steps=1)
  values.update(overrides)
  return values


def run_main(**overrides):
  """Runs main() in-process, its flags (fresh ones) set to `overrides`."""
  flag_values = run_pretraining.define_flags(flags.FlagValues())
  flag_values(["run_pretraining"])
  for name, value in overrides.items():
    setattr(flag_values, name, value)
  run_pretraining.main(None, flag_values)


def read_scalars(output_dir):
  """{tag: {step: value}} from every event file directly in output_dir."""
  return summaries.read_scalar_summaries(output_dir)


def test_train_eval_lowers_loss_with_every_head_and_lip_summaries(data_dir, tmp_path):
  output_dir = tmp_path / "out"
  run_main(**base_flags(data_dir, output_dir, do_eval=True))

  scalars = read_scalars(str(output_dir))
  total = scalars["loss/total"]
  mlm = scalars["loss/mlm"]
  assert mlm[29] < mlm[0] - 0.5, mlm
  assert total[29] < total[0], total
  # λ = clip(step / end, 0, 1): POS ends at 10, NER at 20; DEP is unlabelled.
  assert scalars["lambda/pos"][0] == pytest.approx(0.0)
  assert scalars["lambda/pos"][5] == pytest.approx(0.5)
  assert scalars["lambda/pos"][20] == pytest.approx(1.0)
  assert scalars["lambda/ner"][5] == pytest.approx(0.25)
  assert scalars["lambda/ner"][25] == pytest.approx(1.0)
  assert "lambda/dep" not in scalars and "loss/dep" not in scalars
  assert scalars["learning_rate"][0] == 0.0
  assert scalars["learning_rate"][3] == pytest.approx(2e-3 * 27 / 30, rel=1e-5)
  assert "examples_per_sec" in scalars

  reader = tf.train.load_checkpoint(str(output_dir / "model.ckpt-30"))
  shapes = reader.get_variable_to_shape_map()
  for task in linguistics.TASKS:
    assert shapes["cls/predictions/output_%s_layer/kernel" % task] == [
        32, linguistics.num_labels(task)]
  assert shapes["cls/predictions/output_bias"] == [21128]
  assert "cls/seq_relationship/output_weights" not in shapes

  results = read_results(str(output_dir / "eval_results.txt"))
  for head in ("mlm", "pos", "ner"):
    assert 0.0 <= float(results["%s_accuracy" % head]) <= 1.0
    assert float(results["%s_loss" % head]) > 0.0
  assert results["dep_head"].startswith("off (unlabelled in the data (annotator jieba")
  assert results["global_step"] == "30"


CORPUS = u"""哈工大位于冰城哈尔滨。哈尔滨是黑龙江省的省会。
北京大学和清华大学都在北京。李明在北京大学读书。

今天天气很好，我们去公园散步。公园里有很多人在锻炼身体。
LERT是一个中文预训练语言模型，它使用了语言学特征。

上海是中国最大的城市之一。张伟在上海的一家公司工作。
"""


def test_thirty_steps_on_generated_data_lower_the_loss(tmp_path):
  """create_pretraining_data.py (jieba) -> run_pretraining.py: the loss falls."""
  corpus = tmp_path / "corpus.txt"
  corpus.write_text(CORPUS * 3, encoding="utf-8")
  data_dir = tmp_path / "data"
  create_pretraining_data.run(create_pretraining_data.Options(
      input_file=str(corpus), output_dir=str(data_dir),
      cache_dir=str(tmp_path / "cache"),
      vocab_file=os.path.join(REPO_ROOT, "vocab.txt"), max_seq_length=SEQ,
      max_predictions_per_seq=PREDICTIONS, dupe_factor=4, annotator="jieba",
      sentence_splitter="rules"))
  (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
  output_dir = tmp_path / "out"
  run_main(**base_flags(tmp_path, output_dir, do_eval=True, max_eval_steps=2,
                        input_file=str(data_dir / "*.tfrecord")))
  scalars = read_scalars(str(output_dir))
  first = np.mean([scalars["loss/total"][s] for s in range(3)])
  last = np.mean([scalars["loss/total"][s] for s in range(27, 30)])
  assert last < first - 1.0, (first, last)
  # jieba labels POS and NER only: DEP is off, the others were trained.
  assert "loss/pos" in scalars and "loss/ner" in scalars and "loss/dep" not in scalars
  results = read_results(str(output_dir / "eval_results.txt"))
  assert results["dep_head"].startswith("off (unlabelled in the data (annotator jieba")
  assert float(results["pos_accuracy"]) > 0.0


def test_mlm_only_run_reports_heads_off(data_dir, tmp_path):
  output_dir = tmp_path / "mlm_only"
  run_main(**base_flags(data_dir, output_dir, linguistic_tasks=[],
                        num_train_steps=2, do_eval=True, max_eval_steps=1))
  results = read_results(str(output_dir / "eval_results.txt"))
  assert "mlm_accuracy" in results and "pos_accuracy" not in results
  assert results["pos_head"] == "off (not requested (--linguistic_tasks))"


def test_unknown_linguistic_task_is_named(data_dir, tmp_path):
  with pytest.raises(ValueError, match="srl"):
    run_main(**base_flags(data_dir, tmp_path / "x", linguistic_tasks=["pos", "srl"]))


def test_wrong_max_seq_length_names_sidecar(data_dir, tmp_path):
  with pytest.raises(ValueError) as error:
    run_main(**base_flags(data_dir, tmp_path / "x", max_seq_length=64))
  assert "lert_data.json" in str(error.value)
  assert "max_seq_length=32" in str(error.value)


def test_mismatched_record_names_file_and_feature(tmp_path):
  """Without a sidecar the records themselves are checked before training."""
  (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
  short = str(tmp_path / "short.tfrecord")
  input_pipeline.write_examples(short, synthetic_examples(4, 0, seq=16), PRETRAINING)
  with pytest.raises(ValueError) as error:
    run_main(**base_flags(tmp_path, tmp_path / "out", input_file=short,
                          labelled_tasks=["pos", "ner", "dep"]))
  assert "short.tfrecord" in str(error.value) and "'input_ids'" in str(error.value)
  assert "length 16, expected 32" in str(error.value)

  missing = str(tmp_path / "missing.tfrecord")
  examples = list(synthetic_examples(4, 0))
  for example in examples:
    del example["ner_labels"]
  input_pipeline.write_examples(missing, examples, PRETRAINING)
  with pytest.raises(ValueError) as error:
    run_main(**base_flags(tmp_path, tmp_path / "out", input_file=missing,
                          labelled_tasks=["pos", "ner", "dep"]))
  assert "missing.tfrecord" in str(error.value)
  assert "'ner_labels' is missing" in str(error.value)

  corrupt = tmp_path / "corrupt.tfrecord"
  corrupt.write_bytes(b"this is not a tfrecord file at all" * 3)
  with pytest.raises(ValueError) as error:
    run_main(**base_flags(tmp_path, tmp_path / "out", input_file=str(corrupt)))
  assert "corrupt.tfrecord" in str(error.value)

  with pytest.raises(ValueError, match=r"nothing-\*\.tfrecord: no such file"):
    run_main(**base_flags(tmp_path, tmp_path / "out",
                          input_file=str(tmp_path / "nothing-*.tfrecord")))


def write_bert_style_checkpoint(prefix, config_dict):
  """A Google-BERT-like checkpoint: encoder, MLM head and NSP, no linguistic heads."""
  config = modeling.BertConfig.from_dict(config_dict)
  with tf.Graph().as_default():
    ids = tf.zeros([1, 8], tf.int32)
    model = modeling.BertModel(config, False, ids)
    modeling.lert_pretraining_heads(config, model.get_sequence_output(),
                                    model.get_embedding_table(),
                                    tf.zeros([1, 2], tf.int32), tasks=())
    with tf.variable_scope("cls/seq_relationship"):
      tf.get_variable("output_weights", [2, config.hidden_size])
      tf.get_variable("output_bias", [2])
    keep = [v for v in tf.global_variables()
            if "output_pos_layer" not in v.name and "output_ner_layer" not in v.name
            and "output_dep_layer" not in v.name]
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      tf.train.Saver(keep).save(sess, prefix)
      return {v.op.name: sess.run(v) for v in keep}


def test_init_from_bert_checkpoint_without_linguistic_heads(data_dir, tmp_path, caplog):
  prefix = str(tmp_path / "bert" / "bert_model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  values = write_bert_style_checkpoint(prefix, TINY_CONFIG)
  output_dir = tmp_path / "warm"
  run_main(**base_flags(data_dir, output_dir, init_checkpoint=prefix,
                        num_train_steps=1, save_checkpoints_steps=100))
  reader = tf.train.load_checkpoint(str(output_dir / "model.ckpt-0"))
  np.testing.assert_array_equal(reader.get_tensor("bert/embeddings/word_embeddings"),
                                values["bert/embeddings/word_embeddings"])
  np.testing.assert_array_equal(reader.get_tensor("cls/predictions/output_bias"),
                                values["cls/predictions/output_bias"])
  assert reader.get_tensor("cls/predictions/output_pos_layer/kernel").shape == (32, 28)

  tvars_report = None
  with tf.Graph().as_default():
    config = modeling.BertConfig.from_dict(TINY_CONFIG)
    model = modeling.BertModel(config, False, tf.zeros([1, 8], tf.int32))
    modeling.lert_pretraining_heads(config, model.get_sequence_output(),
                                    model.get_embedding_table(), tf.zeros([1, 2], tf.int32))
    tvars_report = tf_checkpoints.checkpoint_report(tf.trainable_variables(), prefix)
  assert "cls/predictions/output_pos_layer/kernel" in tvars_report.new
  assert "cls/predictions/output_dep_layer/bias" in tvars_report.new
  assert "cls/seq_relationship/output_weights" in tvars_report.left_over
  assert "bert/encoder/layer_1/output/LayerNorm/gamma" in tvars_report.restored
  assert len(tvars_report.new) == 6


def test_truncated_init_checkpoint_names_the_file(data_dir, tmp_path):
  prefix = str(tmp_path / "bert" / "bert_model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  write_bert_style_checkpoint(prefix, TINY_CONFIG)
  data = prefix + ".data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) // 2)
  with pytest.raises(errors.UserError, match="%s is truncated" % re.escape(data)):
    run_main(**base_flags(data_dir, tmp_path / "o", init_checkpoint=prefix,
                          num_train_steps=1))


def test_init_checkpoint_of_another_size_names_variable(data_dir, tmp_path):
  bigger = dict(TINY_CONFIG, hidden_size=48, num_attention_heads=4)
  prefix = str(tmp_path / "big" / "model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  write_bert_style_checkpoint(prefix, bigger)
  with pytest.raises(ValueError) as error:
    run_main(**base_flags(data_dir, tmp_path / "o", init_checkpoint=prefix,
                          num_train_steps=1))
  assert "bert/embeddings/word_embeddings (model [21128, 32], checkpoint [21128, 48])" in str(
      error.value)


def test_predict_masked_sentences_and_each_word(data_dir, tmp_path):
  output_dir = tmp_path / "pred"
  run_main(**base_flags(data_dir, output_dir, num_train_steps=2))
  sentences = tmp_path / "masked.txt"
  sentences.write_text("哈工大位于[MASK][MASK]哈尔滨。\n\nLERT is a [MASK] model.\n",
                       encoding="utf-8")
  run_main(**base_flags(data_dir, output_dir, do_train=False, do_predict=True,
                        predict_input_file=str(sentences), top_k=3))
  with open(str(output_dir / "predictions.jsonl"), encoding="utf-8") as f:
    records = [json.loads(line) for line in f]
  assert [r["text"] for r in records] == ["哈工大位于[MASK][MASK]哈尔滨。",
                                         "LERT is a [MASK] model."]
  first = records[0]
  assert first["tokens"][:8] == ["[CLS]", "哈", "工", "大", "位", "于", "[MASK]", "[MASK]"]
  assert [m["position"] for m in first["masks"]] == [6, 7]
  for mask in first["masks"]:
    assert len(mask["top_k"]) == 3
    probs = [c["prob"] for c in mask["top_k"]]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert mask["pos"] in linguistics.POS_LABELS
    assert mask["ner"] in linguistics.NER_LABELS
    # The data labels no DEP: its head was saved but never trained, so no DEP tag
    # (it would come from random weights).
    assert "dep" not in mask
  assert len(records[1]["masks"]) == 1

  # The Hugging Face export leaves that head out too, and says why.
  report = convert_lert_to_hf.convert(str(output_dir), str(tmp_path / "hf"),
                                      config_file=str(data_dir / "config.json"),
                                      vocab_file=os.path.join(REPO_ROOT, "vocab.txt"))
  assert report.heads == ["pos", "ner"]
  assert "the DEP head was never trained" in dict(report.skipped)[
      "cls/predictions/output_dep_layer/kernel"]

  plain = tmp_path / "plain.txt"
  plain.write_text("我爱北京天安门\n", encoding="utf-8")
  out_file = tmp_path / "each.jsonl"
  run_main(**base_flags(data_dir, output_dir, do_train=False, do_predict=True,
                        predict_input_file=str(plain), mask_each_word=True,
                        predict_output_file=str(out_file)))
  with open(str(out_file), encoding="utf-8") as f:
    records = [json.loads(line) for line in f]
  words = [r["masked_word"] for r in records]
  assert "".join(words) == "我爱北京天安门"
  for record in records:
    assert "".join(m["original"] for m in record["masks"]) == record["masked_word"]
    assert all(t == "[MASK]" for t in
               [record["tokens"][m["position"]] for m in record["masks"]])


def test_predict_without_masks_is_a_clear_error(data_dir, tmp_path):
  output_dir = tmp_path / "pred"
  run_main(**base_flags(data_dir, output_dir, num_train_steps=1))
  sentences = tmp_path / "nomask.txt"
  sentences.write_text("没有遮盖的句子。\n", encoding="utf-8")
  with pytest.raises(ValueError, match=r"nomask.txt:1: no \[MASK\]"):
    run_main(**base_flags(data_dir, output_dir, do_train=False, do_predict=True,
                          predict_input_file=str(sentences)))


@pytest.fixture(scope="module")
def trained_dir(data_dir, tmp_path_factory):
  """An output_dir holding a (one-step) checkpoint to predict with."""
  output_dir = tmp_path_factory.mktemp("trained")
  run_main(**base_flags(data_dir, output_dir, num_train_steps=1))
  return output_dir


def predict(data_dir, output_dir, tmp_path, text, **overrides):
  """Runs --do_predict on `text`; the records written."""
  (tmp_path / "input.txt").write_text(text, encoding="utf-8")
  out_file = tmp_path / "predictions.jsonl"
  run_main(**base_flags(data_dir, output_dir, do_train=False, do_predict=True,
                        predict_input_file=str(tmp_path / "input.txt"),
                        predict_output_file=str(out_file), **overrides))
  with open(str(out_file), encoding="utf-8") as f:
    return [json.loads(line) for line in f]


def test_predict_masks_past_the_window_and_too_many_masks(data_dir, trained_dir,
                                                          tmp_path):
  # SEQ = 32: 30 tokens fit. Masks at tokens 0, 41 and 52; then 7 masks, more
  # than max_predictions_per_seq = 5.
  long_line = "[MASK]" + "好" * 40 + "[MASK]" + "好" * 10 + "[MASK]"
  records = predict(data_dir, trained_dir, tmp_path,
                    long_line + "\n" + "[MASK]好" * 7 + "\n")
  assert [r["text"] for r in records] == [long_line] * 2 + ["[MASK]好" * 7] * 2
  assert [r["window_start"] for r in records] == [0, 23, 0, 0]
  assert [len(r["masks"]) for r in records] == [1, 2, 5, 2]
  for record in records:
    assert len(record["tokens"]) <= SEQ
    assert all(record["tokens"][m["position"]] == "[MASK]" for m in record["masks"])
  assert [m["position"] for m in records[1]["masks"]] == [41 - 23 + 1, 52 - 23 + 1]


def test_predict_each_word_of_a_sentence_longer_than_the_window(data_dir, trained_dir,
                                                                tmp_path):
  sentence = "我爱北京天安门" * 6  # 42 tokens
  records = predict(data_dir, trained_dir, tmp_path, sentence + "\n",
                    mask_each_word=True)
  assert "".join(r["masked_word"] for r in records) == sentence
  assert max(r.get("window_start", 0) for r in records) == 42 - 30
  for record in records:
    assert len(record["tokens"]) <= SEQ
    assert "".join(m["original"] for m in record["masks"]) == record["masked_word"]


def test_predict_without_a_checkpoint_is_refused(data_dir, tmp_path):
  with pytest.raises(errors.UserError, match="needs trained weights: .*no checkpoint"):
    predict(data_dir, tmp_path / "fresh", tmp_path, "哈[MASK]大\n")
  assert not (tmp_path / "predictions.jsonl").exists()


def test_predict_from_a_checkpoint_without_linguistic_heads_writes_no_tags(
    data_dir, tmp_path, caplog):
  prefix = str(tmp_path / "bert" / "bert_model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  write_bert_style_checkpoint(prefix, TINY_CONFIG)
  records = predict(data_dir, tmp_path / "fresh", tmp_path, "哈工大位于[MASK]尔滨。\n",
                    init_checkpoint=prefix, do_lower_case=True)
  mask, = records[0]["masks"]
  assert sorted(mask) == ["position", "top_k"]
  assert "no POS/NER/DEP head: the predictions carry no POS/NER/DEP tags" in caplog.text


def _command(data_dir, output_dir, **overrides):
  values = base_flags(data_dir, output_dir, **overrides)
  args = [sys.executable, os.path.join(REPO_ROOT, "run_pretraining.py")]
  for key, value in values.items():
    if isinstance(value, bool):
      args.append("--%s%s" % ("" if value else "no", key))
    else:
      args.append("--%s=%s" % (key, value))
  return args


def test_sigkill_mid_run_resumes_from_last_checkpoint(data_dir, tmp_path):
  output_dir = tmp_path / "killed"
  command = _command(data_dir, output_dir, num_train_steps=400,
                     save_checkpoints_steps=20, learning_rate=1e-4)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  log = open(str(tmp_path / "first.log"), "w")
  process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
  deadline = time.time() + 240
  while time.time() < deadline:
    # Killed once the checkpoint state names a step >= 20: the .index file appears
    # before the state file does, and a kill in between leaves only step 0 recorded.
    recorded = tf.train.latest_checkpoint(str(output_dir))
    if recorded and int(recorded.split("-")[-1]) >= 20:
      break
    if process.poll() is not None:
      pytest.fail("training ended before it could be killed: %s" %
                  open(str(tmp_path / "first.log")).read()[-2000:])
    time.sleep(0.2)
  process.send_signal(signal.SIGKILL)
  process.wait()
  log.close()
  last = tf.train.latest_checkpoint(str(output_dir))
  last_step = int(last.split("-")[-1])
  assert 20 <= last_step < 400

  result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, timeout=600)
  output = result.stdout.decode("utf-8", "replace")
  assert result.returncode == 0, output[-3000:]
  assert "Restoring parameters from %s" % last in output
  assert tf.train.latest_checkpoint(str(output_dir)).endswith("model.ckpt-400")


def _free_ports(count):
  sockets = []
  for _ in range(count):
    s = socket.socket()
    s.bind(("localhost", 0))
    sockets.append(s)
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_two_workers_on_loopback(data_dir, tmp_path):
  """Synchronous data-parallel training across two processes (multi_worker).

  Where this TensorFlow's engine cannot run a strategy (TF 2.16+, no
  tf.estimator), the run must stop with one error line naming where it can.
  """
  output_dir = tmp_path / "workers"
  ports = _free_ports(2)
  cluster = {"worker": ["localhost:%d" % p for p in ports]}
  if "multi_worker" not in estimators.supported_distributions():
    env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster,
                                                 "task": {"type": "worker", "index": 0}}))
    result = subprocess.run(_command(data_dir, output_dir, distribution="multi_worker",
                                     num_train_steps=6), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors = [line for line in result.stderr.decode().splitlines()
              if line.startswith("error: ")]
    assert result.returncode == 2, result.stderr.decode()[-3000:]
    assert len(errors) == 1 and "TensorFlow 1.15 or 2.15" in errors[0]
    return
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
               TF_CONFIG=json.dumps({"cluster": cluster,
                                     "task": {"type": "worker", "index": index}}))
    log = open(str(tmp_path / ("worker%d.log" % index)), "w")
    processes.append((subprocess.Popen(
        _command(data_dir, output_dir, distribution="multi_worker", num_train_steps=6,
                 save_checkpoints_steps=3),
        stdout=log, stderr=subprocess.STDOUT, env=env), log))
  losses = []
  for index, (process, log) in enumerate(processes):
    process.wait(timeout=300)
    log.close()
    text = open(str(tmp_path / ("worker%d.log" % index))).read()
    assert "Loss for final step" in text, text[-3000:]
    losses.append(text.split("Loss for final step: ")[-1].split(".\n")[0])
  assert losses[0] == losses[1]  # one synchronous model
  assert tf.train.latest_checkpoint(str(output_dir)).endswith("model.ckpt-6")


def test_lower_casing_a_cased_checkpoint_is_refused(data_dir, tmp_path):
  prefix = str(tmp_path / "cased_L-12_H-768_A-12" / "bert_model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  write_bert_style_checkpoint(prefix, TINY_CONFIG)
  with pytest.raises(ValueError, match="cased_L-12_H-768_A-12"):
    run_main(**base_flags(data_dir, tmp_path / "o", init_checkpoint=prefix,
                          do_lower_case=True, num_train_steps=1))


def test_data_without_sidecar_needs_labelled_tasks(data_dir, tmp_path):
  """Nothing assumes what the data labels: no sidecar -> --labelled_tasks or an error."""
  bare = tmp_path / "bare"
  bare.mkdir()
  for path in glob.glob(str(data_dir / "data-*.tfrecord")):
    with open(path, "rb") as source, open(str(bare / os.path.basename(path)), "wb") as out:
      out.write(source.read())
  flags_ = base_flags(data_dir, tmp_path / "o", input_file=str(bare / "data-*.tfrecord"),
                      num_train_steps=2)
  with pytest.raises(ValueError, match="--labelled_tasks"):
    run_main(**flags_)
  # Said explicitly: the heads of unlabelled tasks are off, and the log says why.
  run_main(**dict(flags_, labelled_tasks=["pos"], output_dir=str(tmp_path / "o2")))
  scalars = read_scalars(str(tmp_path / "o2"))
  assert "loss/pos" in scalars and "loss/ner" not in scalars and "loss/dep" not in scalars
  # A sidecar and a contradicting --labelled_tasks: refused.
  with pytest.raises(ValueError, match="not dep"):
    run_main(**base_flags(data_dir, tmp_path / "o3", labelled_tasks=["dep"],
                          num_train_steps=2))


def test_eval_results_carry_googles_keys_and_rates_are_logged_like_tpu_estimator(
    data_dir, tmp_path):
  output_dir = tmp_path / "keys"
  result = subprocess.run(_command(data_dir, output_dir, num_train_steps=6,
                                   log_step_count_steps=2, do_eval=True),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
  log = result.stdout.decode("utf-8", "replace")
  assert result.returncode == 0, log[-3000:]
  results = read_results(str(output_dir / "eval_results.txt"))
  for key in ("masked_lm_accuracy", "masked_lm_loss", "loss", "global_step",
              "pos_accuracy", "pos_loss", "ner_accuracy", "ner_loss"):
    assert key in results, key
  assert results["masked_lm_accuracy"] == results["mlm_accuracy"]
  assert results["global_step"] == "6"
  rates = [line for line in log.splitlines() if line.startswith("INFO:tensorflow:examples/sec: ")]
  assert len(rates) >= 2 and all(float(line.split(": ")[1]) > 0 for line in rates), log[-3000:]


def test_summaries_every_save_summary_steps_and_the_same_losses(data_dir, tmp_path):
  """Throttled summaries change what is written, never the training itself."""
  every_step, every_fifth = tmp_path / "every1", tmp_path / "every5"
  run_main(**base_flags(data_dir, every_step, num_train_steps=10, seed=7))
  run_main(**base_flags(data_dir, every_fifth, num_train_steps=10, save_summary_steps=5,
                        seed=7))
  dense, sparse = read_scalars(str(every_step)), read_scalars(str(every_fifth))
  assert sorted(sparse["loss/total"]) == [0, 5]
  assert sorted(dense["loss/total"]) == list(range(10))
  for tag in ("loss/total", "loss/mlm", "loss/pos", "lambda/ner", "learning_rate"):
    for step, value in sparse[tag].items():
      assert value == pytest.approx(dense[tag][step], rel=1e-6), (tag, step)
  final = [tf.train.load_variable(tf.train.latest_checkpoint(str(d)), "cls/predictions/output_bias")
           for d in (every_step, every_fifth)]
  np.testing.assert_allclose(final[0], final[1], rtol=1e-6)


def test_fused_kernel_and_one_hot_labels_train_to_the_same_losses(data_dir, tmp_path,
                                                                   monkeypatch):
  """The fused sparse cross-entropy (CPUs, GPUs) and the one-hot product (TPUs):
  the same training, step by step."""
  runs = {}
  plain = modeling.masked_cross_entropy
  for one_hot in (False, True):
    monkeypatch.setattr(modeling, "masked_cross_entropy",
                        functools.partial(plain, one_hot_labels=True) if one_hot else plain)
    runs[one_hot] = tmp_path / ("one_hot" if one_hot else "fused")
    run_main(**base_flags(data_dir, runs[one_hot], num_train_steps=10, seed=7))
  fused, one_hot = read_scalars(str(runs[False])), read_scalars(str(runs[True]))
  for tag in ("loss/total", "loss/mlm", "loss/pos", "loss/ner"):
    assert sorted(fused[tag]) == list(range(10))
    for step, value in fused[tag].items():
      assert value == pytest.approx(one_hot[tag][step], rel=1e-5), (tag, step)
  for name in ("cls/predictions/output_bias", "bert/embeddings/word_embeddings"):
    final = [tf.train.load_variable(tf.train.latest_checkpoint(str(d)), name)
             for d in runs.values()]
    np.testing.assert_allclose(final[0], final[1], rtol=1e-5, atol=1e-7)


def test_profile_step_reports_a_training_run_and_the_bench_wraps_commands(data_dir, tmp_path):
  """bench/profile_step.py times and traces run_pretraining.py unchanged; bench_vs_google's
  --profile turns each side's measured command into that profiler's command."""
  sys.path.insert(0, os.path.join(REPO_ROOT, "bench"))
  try:
    import bench_vs_google
  finally:
    sys.path.pop(0)
  flags_ = ["--do_train=True", "--num_train_steps=20"]
  ours = bench_vs_google.profile_command(["py", os.path.join(REPO_ROOT, "run_pretraining.py")]
                                         + flags_)
  assert ours == ["py", bench_vs_google.PROFILER, "--trace_steps=10,11,12",
                  "run_pretraining.py", "--"] + flags_
  google = bench_vs_google.profile_command(["py", bench_vs_google.DRIVER, "run_pretraining",
                                            "2"] + flags_)
  assert google == ["py", bench_vs_google.PROFILER, "--trace_steps=10,11,12",
                    "google:run_pretraining", "--"] + flags_

  report_path = tmp_path / "profile.json"
  command = _command(data_dir, tmp_path / "out", num_train_steps=20, save_checkpoints_steps=100)
  command[1:2] = [os.path.join(REPO_ROOT, "bench", "profile_step.py"), "--trace_steps=10,11,12",
                  "--out=%s" % report_path, "run_pretraining.py", "--"]
  result = subprocess.run(command, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
  assert result.returncode == 0, result.stdout[-3000:]
  report = json.loads(report_path.read_text())
  assert report["steps"] == 20
  assert report["traced_steps"] == 3
  assert report["timed_steps"] == 20 - 3 - 3  # the first 3 and the traced ones left out
  assert 0 < report["session_run_ms"] <= report["step_ms"]
  assert report["ops_per_step"] > 100
  op_types = [name for name, _ in report["top_op_types_ms"]]
  assert "MatMul" in op_types
  assert "=== profile_step: run_pretraining.py ===" in result.stdout


@pytest.mark.parametrize("flags_, named", [
    (["--repeats=0"], "--repeats"),
    (["--profile", "--steps=12"], "--steps"),
])
def test_bench_vs_google_bad_round_flags_are_one_error_line(flags_, named):
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "bench", "bench_vs_google.py")] + flags_,
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
  assert result.returncode != 0
  lines = result.stdout.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], lines
