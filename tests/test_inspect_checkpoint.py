# coding=utf-8
"""inspect_checkpoint: grouping, parameter counts (README's table), finding, verifying."""

import json
import os
import re

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
import convert_lert_to_hf
from lert import errors
import inspect_checkpoint
from lert.checkpoints import inventory
import modeling
from lert.checkpoints import tf_checkpoints

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bert_parameters(vocab, hidden, layers, intermediate, positions=512, types=2):
  """BERT's parameter count by hand: embeddings + layers + pooler."""
  embeddings = (vocab + positions + types) * hidden + 2 * hidden
  attention = 4 * (hidden * hidden + hidden) + 2 * hidden
  feed_forward = 2 * hidden * intermediate + intermediate + hidden + 2 * hidden
  return embeddings + layers * (attention + feed_forward) + hidden * hidden + hidden


@pytest.mark.parametrize("size,millions,layers,hidden,intermediate", [
    ("small", 15, 12, 256, 1024),
    ("base", 102, 12, 768, 3072),
    ("large", 325, 24, 1024, 4096)])
def test_readme_counts_from_configs(size, millions, layers, hidden, intermediate,
                                    capsys):
  path = os.path.join(REPO, "configs", "lert_config_%s.json" % size)
  shapes = inventory.model_variable_shapes(
      modeling.BertConfig.from_json_file(path))
  counts = inventory.group_counts(shapes)
  encoder = counts[checkpoint_names.ENCODER]
  # "transformer only" = the whole encoder group, word embeddings included.
  assert encoder == bert_parameters(21128, hidden, layers, intermediate)
  assert encoder // 10 ** 6 == millions
  assert counts[checkpoint_names.MLM] == hidden * hidden + 3 * hidden + 21128
  assert counts[checkpoint_names.HEADS] == (hidden + 1) * (28 + 13 + 14)
  assert counts["other"] == 0
  assert inspect_checkpoint.main(["--config", path, "--summary"]) == 0
  printed = capsys.readouterr().out
  assert "transformer only (encoder group, as in the README): %s" % format(
      encoder, ",") in printed
  assert "bert/encoder" not in printed  # --summary lists no variables


def write_checkpoint(prefix, shapes):
  with tf.Graph().as_default():
    variables = [tf.get_variable(name, shape) for name, shape in shapes.items()]
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      tf.train.Saver(variables).save(session, prefix, write_meta_graph=False)


SHAPES = {
    "bert/embeddings/word_embeddings": [10, 4],
    "bert/encoder/layer_0/attention/self/query/kernel": [4, 4],
    "bert/pooler/dense/bias": [4],
    "cls/predictions/output_bias": [10],
    "cls/predictions/transform/LayerNorm/gamma": [4],
    "cls/predictions/output_ner_layer/kernel": [4, 13],
    "cls/seq_relationship/output_weights": [2, 4],
    "bert/embeddings/word_embeddings/adam_m": [10, 4],
    "output_weights": [3, 4],
}


def test_grouping_of_a_checkpoint(tmp_path, capsys):
  prefix = str(tmp_path / "model.ckpt-7")
  write_checkpoint(prefix, SHAPES)
  shapes = tf_checkpoints.checkpoint_shapes(prefix)
  assert shapes == SHAPES
  groups = inventory.group_variables(shapes)
  names = {group: [name for name, _, _ in entries] for group, entries in groups.items()}
  assert names == {
      checkpoint_names.ENCODER: ["bert/embeddings/word_embeddings",
                                 "bert/encoder/layer_0/attention/self/query/kernel",
                                 "bert/pooler/dense/bias"],
      checkpoint_names.MLM: ["cls/predictions/output_bias",
                             "cls/predictions/transform/LayerNorm/gamma"],
      checkpoint_names.HEADS: ["cls/predictions/output_ner_layer/kernel"],
      "other": ["bert/embeddings/word_embeddings/adam_m", "cls/seq_relationship/output_weights",
                "output_weights"]}
  notes = dict((name, note) for name, _, note in groups["other"])
  assert notes == {"bert/embeddings/word_embeddings/adam_m": "training state",
                   "cls/seq_relationship/output_weights": "nsp",
                   "output_weights": "unknown"}
  assert inventory.group_counts(shapes) == {
      checkpoint_names.ENCODER: 40 + 16 + 4, checkpoint_names.MLM: 14,
      checkpoint_names.HEADS: 52, "other": 40 + 8 + 12}
  assert list(inventory.group_counts(shapes)) == list(
      inventory.GROUP_TITLES)

  assert inspect_checkpoint.main(["--checkpoint", str(tmp_path)]) == 0
  printed = capsys.readouterr().out
  assert "checkpoint %s" % prefix in printed
  assert "encoder: 3 variables, 60 parameters" in printed
  assert "linguistic heads: 1 variables, 52 parameters" in printed
  assert "other: 3 variables, 60 parameters" in printed
  assert "[training state]" in printed and "[nsp]" in printed
  assert "of which word embeddings: 40; without them: 20" in printed


def test_find_checkpoint(tmp_path):
  write_checkpoint(str(tmp_path / "a" / "model.ckpt-1"), {"x": [1]})
  write_checkpoint(str(tmp_path / "a" / "model.ckpt-2"), {"x": [1]})
  assert tf_checkpoints.find_checkpoint(str(tmp_path / "a")) == str(
      tmp_path / "a" / "model.ckpt-2")  # the latest, from the state file
  os.remove(str(tmp_path / "a" / "checkpoint"))
  with pytest.raises(ValueError, match="2 checkpoints"):
    tf_checkpoints.find_checkpoint(str(tmp_path / "a"))
  # A release zip: one checkpoint, no state file.
  write_checkpoint(str(tmp_path / "zip" / "lert_model.ckpt"), {"x": [1]})
  os.remove(str(tmp_path / "zip" / "checkpoint"))
  assert tf_checkpoints.find_checkpoint(str(tmp_path / "zip")) == str(
      tmp_path / "zip" / "lert_model.ckpt")
  assert tf_checkpoints.find_checkpoint(str(tmp_path / "zip" / "lert_model.ckpt"))
  missing = str(tmp_path / "nothing.ckpt")
  with pytest.raises(ValueError, match="nothing.ckpt"):
    tf_checkpoints.find_checkpoint(missing)
  (tmp_path / "empty").mkdir()
  with pytest.raises(ValueError, match="no checkpoint"):
    tf_checkpoints.find_checkpoint(str(tmp_path / "empty"))


def test_read_checkpoint_values(tmp_path):
  prefix = str(tmp_path / "m.ckpt")
  write_checkpoint(prefix, {"bert/pooler/dense/bias": [3], "global_step": []})
  values = tf_checkpoints.read_checkpoint(prefix)
  assert list(values) == ["bert/pooler/dense/bias", "global_step"]
  assert isinstance(values["bert/pooler/dense/bias"], np.ndarray)
  assert values["bert/pooler/dense/bias"].shape == (3,)


TINY = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": 8, "initializer_range": 0.02,
        "intermediate_size": 16, "max_position_embeddings": 16, "num_attention_heads": 2,
        "num_hidden_layers": 1, "type_vocab_size": 2, "vocab_size": 21128}


def truncated_checkpoint(prefix):
  """A tiny LERT checkpoint whose .data file lost its last bytes (a copy cut short)."""
  write_checkpoint(prefix, inventory.model_variable_shapes(
      modeling.BertConfig.from_dict(TINY)))
  data = prefix + ".data-00000-of-00001"
  with open(data, "r+b") as f:
    f.truncate(os.path.getsize(data) - 16)
  return data


def test_inspect_refuses_a_truncated_checkpoint(tmp_path):
  data = truncated_checkpoint(str(tmp_path / "m.ckpt"))
  with pytest.raises(errors.UserError, match="%s is truncated" % re.escape(data)):
    inspect_checkpoint.main(["--checkpoint", str(tmp_path / "m.ckpt")])
  # A release directory without a `checkpoint` state file is verified too.
  os.remove(str(tmp_path / "checkpoint"))
  with pytest.raises(errors.UserError, match="%s is truncated" % re.escape(data)):
    inspect_checkpoint.main(["--checkpoint", str(tmp_path)])


def test_conversion_refuses_a_truncated_checkpoint(tmp_path):
  data = truncated_checkpoint(str(tmp_path / "m.ckpt"))
  config = tmp_path / "lert_config.json"
  config.write_text(json.dumps(TINY))
  with pytest.raises(errors.UserError, match="%s is truncated" % re.escape(data)):
    convert_lert_to_hf.convert(str(tmp_path / "m.ckpt"), str(tmp_path / "hf"),
                               config_file=str(config),
                               vocab_file=os.path.join(REPO, "vocab.txt"))
