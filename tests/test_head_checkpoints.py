# coding=utf-8
"""Task heads in checkpoints: scoring a checkpoint without the task's head is
refused (it would score weights nobody trained), and Google's head layout
(run_classifier's output_weights/output_bias, run_squad's and HFL's CMRC
baseline's cls/squad/output_weights/output_bias) is read and written."""

import io
import json

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from lert import errors
from lert.finetune import common
from lert.finetune import driver
from conftest import TINY_BERT_CONFIG
from test_run_finetuning import (common_flags, config_file, run_main, sentiment_tsv,  # noqa: F401
                                 squad_json, ner_text, write)
import modeling
import run_classifier
import run_cmrc2018
import run_ner

HIDDEN = TINY_BERT_CONFIG["hidden_size"]


def save_variables(prefix, arrays):
  """A checkpoint holding `arrays` (name -> numpy array) and a global step."""
  with tf.Graph().as_default():
    for name, value in arrays.items():
      tf.Variable(value, name=name)
    tf.train.get_or_create_global_step()
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return tf.train.Saver().save(sess, str(prefix))


@pytest.fixture(scope="module")
def encoder():
  """The tiny encoder's variables, random: name -> array."""
  with tf.Graph().as_default():
    tf.set_random_seed(3)
    modeling.BertModel(modeling.BertConfig.from_dict(TINY_BERT_CONFIG), False,
                       tf.zeros([1, 8], tf.int32))
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      return dict((v.op.name, sess.run(v)) for v in tf.global_variables())


TASKS = {
    "classifier": (run_classifier, "chnsenticorp", "finetune/classifier/kernel"),
    "span": (run_cmrc2018, "cmrc2018", "finetune/span/kernel"),
    "tagging": (run_ner, "msra_ner", "finetune/tagger/kernel"),
}


def task_data(tmp_path, kind):
  data = tmp_path / kind
  data.mkdir()
  if kind == "classifier":
    for name in ("train.tsv", "dev.tsv", "test.tsv"):
      write(data / name, sentiment_tsv(2))
    return data, dict(max_seq_length=16)
  if kind == "span":
    for name in ("cmrc2018_train.json", "cmrc2018_dev.json", "cmrc2018_trial.json"):
      write(data / name, squad_json())
    return data, dict(max_seq_length=48, doc_stride=16, max_query_length=12,
                      max_answer_length=8, n_best_size=5, predict_split="trial")
  write(data / "train.bio", ner_text("\t"))
  write(data / "test.bio", ner_text("\t"))
  return data, dict(max_seq_length=32, doc_stride=10)


@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("mode", ["do_eval", "do_predict"])
def test_scoring_a_checkpoint_without_the_task_head_is_refused(
    tmp_path, config_file, encoder, kind, mode):  # noqa: F811
  script, task_name, head = TASKS[kind]
  data, flags = task_data(tmp_path, kind)
  pretrained = save_variables(tmp_path / "pretrained" / "model.ckpt", encoder)
  with pytest.raises(errors.UserError) as error:
    run_main(script, **common_flags(config_file, data, tmp_path / "out",
                                    task_name=task_name, init_checkpoint=pretrained,
                                    **dict(flags, **{mode: True})))
  message = str(error.value)
  assert pretrained in message and head in message and "no trained" in message
  assert not (tmp_path / "out" / "eval_results.txt").exists()
  # Nothing at all to score: no checkpoint in --output_dir, no --init_checkpoint.
  with pytest.raises(errors.UserError, match="need a fine-tuned checkpoint"):
    run_main(script, **common_flags(config_file, data, tmp_path / "out2",
                                    task_name=task_name, **dict(flags, **{mode: True})))


def head_arrays(layout, weights, bias, names):
  """The head's arrays in `layout`; `weights` in Google's [C, H] form."""
  if layout == common.GOOGLE_LAYOUT:
    return {names[0]: weights, names[1]: bias}
  return {names[2]: weights.T, names[3]: bias}


@pytest.mark.parametrize("kind", ["classifier", "span"])
def test_google_head_layout_scores_as_the_same_weights_in_lert_layout(
    tmp_path, config_file, encoder, kind):  # noqa: F811
  script, task_name, _ = TASKS[kind]
  data, flags = task_data(tmp_path, kind)
  rng = np.random.RandomState(4)
  weights = rng.normal(scale=0.5, size=[2, HIDDEN]).astype(np.float32)  # [C, H]
  bias = rng.normal(size=[2]).astype(np.float32)
  if kind == "span":
    names = ("cls/squad/output_weights", "cls/squad/output_bias",
             "finetune/span/kernel", "finetune/span/bias")
    outputs = ("dev/nbest_predictions.json", "dev/predictions.json")
  else:
    names = ("output_weights", "output_bias", "finetune/classifier/kernel",
             "finetune/classifier/bias")
    outputs = ("dev/predictions.tsv",)
  written = {}
  for layout in (common.GOOGLE_LAYOUT, common.LERT_LAYOUT):
    arrays = dict(encoder, **head_arrays(layout, weights, bias, names))
    checkpoint = save_variables(tmp_path / layout / "model.ckpt", arrays)
    out = tmp_path / ("out_" + layout)
    run_main(script, **common_flags(config_file, data, out, task_name=task_name,
                                    init_checkpoint=checkpoint, do_eval=True, **flags))
    written[layout] = [io.open(str(out / name), encoding="utf-8").read() for name in outputs]
  if kind == "span":
    google = json.loads(written[common.GOOGLE_LAYOUT][0])
    lert = json.loads(written[common.LERT_LAYOUT][0])
    assert list(google) == list(lert)
    for qid in google:
      assert [c["text"] for c in google[qid]] == [c["text"] for c in lert[qid]]
      np.testing.assert_allclose([c["start_logit"] for c in google[qid]],
                                 [c["start_logit"] for c in lert[qid]], rtol=1e-4, atol=1e-4)
    assert written[common.GOOGLE_LAYOUT][1] == written[common.LERT_LAYOUT][1]
  else:
    assert written[common.GOOGLE_LAYOUT] == written[common.LERT_LAYOUT]


def test_head_layout_google_writes_run_squads_names_which_score_without_training(
    tmp_path, config_file, encoder):  # noqa: F811
  data, flags = task_data(tmp_path, "span")
  pretrained = save_variables(tmp_path / "pretrained" / "model.ckpt", encoder)
  out = tmp_path / "out"
  run_main(run_cmrc2018, **common_flags(
      config_file, data, out, task_name="cmrc2018", init_checkpoint=pretrained,
      do_train=True, num_train_steps=2, learning_rate=1e-3, head_layout="google", **flags))
  trained = tf.train.latest_checkpoint(str(out))
  shapes = dict(tf.train.list_variables(trained))
  assert shapes["cls/squad/output_weights"] == [2, HIDDEN]
  assert shapes["cls/squad/output_bias"] == [2]
  assert not [name for name in shapes if name.startswith("finetune/")]
  # Scored by another run, the layout found in the checkpoint (auto).
  run_main(run_cmrc2018, **common_flags(
      config_file, data, tmp_path / "scored", task_name="cmrc2018",
      init_checkpoint=trained, do_eval=True, **flags))
  assert (tmp_path / "scored" / "eval_results.txt").exists()
  # Asking for the other layout than the checkpoint holds is refused.
  with pytest.raises(errors.UserError, match=r"--head_layout=lert, but --init_checkpoint "
                     r".* holds the google layout's head \(cls/squad/output_weights"):
    run_main(run_cmrc2018, **common_flags(
        config_file, data, tmp_path / "other", task_name="cmrc2018",
        init_checkpoint=trained, do_eval=True, head_layout="lert", **flags))


def test_only_families_with_a_google_script_have_the_layout_flag():
  assert "head_layout" in [s.name for s in driver.settings_for(common.SPAN)]
  assert "head_layout" in [s.name for s in driver.settings_for(common.CLASSIFICATION)]
  assert "head_layout" not in [s.name for s in driver.settings_for(common.TAGGING)]
