# coding=utf-8
"""TF <-> Hugging Face conversion: names, round trips, reports, errors, and
numerical agreement of TF and PyTorch (the latter only where torch exists)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
import convert_hf_to_lert
import convert_lert_to_hf
from lert import errors
from lert import fileio
from lert.checkpoints import formats
from lert.checkpoints import inventory
from lert import linguistics
import modeling
from lert.checkpoints import tf_checkpoints
import tokenization

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = os.path.join(REPO, "vocab.txt")

TINY = {
    "attention_probs_dropout_prob": 0.1, "directionality": "bidi",
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 32,
    "initializer_range": 0.02, "intermediate_size": 64,
    "max_position_embeddings": 64, "num_attention_heads": 4,
    "num_hidden_layers": 2, "pooler_fc_size": 32, "pooler_type": "first_token_transform",
    "type_vocab_size": 2, "vocab_size": 21128,
}
TEXTS = (("哈工大位于冰城哈尔滨。", None),
         ("LERT是HFL发布的pre-trained model，", "支持POS/NER/DEP tagging!"))

NSP_AND_STATE = ("cls/seq_relationship/output_weights", "cls/seq_relationship/output_bias",
                 "global_step", "bert/embeddings/word_embeddings/adam_m",
                 "cls/predictions/output_pos_layer/kernel/adam_v")


def write_config(path, **changes):
  config = dict(TINY)
  config.update(changes)
  with open(path, "w") as writer:
    json.dump(config, writer)
  return str(path)


def build_lert(config_dict, input_ids, input_mask=None, segment_ids=None):
  """Builds BertModel + heads at every position; returns (model, logits dict)."""
  config = modeling.BertConfig.from_dict(config_dict)
  model = modeling.BertModel(config, False, input_ids, input_mask, segment_ids)
  batch, length = input_ids.shape.as_list()
  positions = tf.tile(tf.range(length)[None, :], [batch, 1])
  logits = modeling.lert_pretraining_heads(
      config, model.get_sequence_output(), model.get_embedding_table(), positions)
  return model, logits


def write_random_checkpoint(prefix, config_dict=None, seed=0, with_heads=True,
                            extra=(), zeros=()):
  """A LERT checkpoint with random values everywhere (biases and LayerNorms too).

  `extra` adds NSP / optimizer-state entries by name; the variables named in
  `zeros` are all zero.  Returns {name: value}.
  """
  config_dict = config_dict or TINY
  rng = np.random.RandomState(seed)
  with tf.Graph().as_default():
    build_lert(config_dict, tf.placeholder(tf.int32, [1, 2]))
    hidden = config_dict["hidden_size"]
    extra_shapes = {"cls/seq_relationship/output_weights": [2, hidden],
                    "cls/seq_relationship/output_bias": [2], "global_step": []}
    for name in extra:
      if name in extra_shapes:
        tf.get_variable(name, extra_shapes[name],
                        dtype=tf.int64 if name == "global_step" else tf.float32)
      else:  # an optimizer slot shaped like its variable
        base = tf.global_variables()
        shape = [v for v in base if v.op.name == name.rsplit("/", 1)[0]][0].shape
        tf.get_variable(name, shape)
    variables = [v for v in tf.global_variables()
                 if with_heads or "_layer/" not in v.op.name]
    values = {}
    with tf.Session() as session:
      for var in variables:
        name, shape = var.op.name, var.shape.as_list()
        if name == "global_step":
          value = np.array(1234, np.int64)
        elif name in zeros:
          value = np.zeros(shape)
        elif name.endswith("gamma"):
          value = 1.0 + 0.1 * rng.randn(*shape)
        else:
          value = 0.1 * rng.randn(*shape)
        value = value.astype(var.dtype.base_dtype.as_numpy_dtype)
        var.load(value, session)
        values[name] = value
      tf.train.Saver(var_list=variables).save(session, prefix, write_meta_graph=False)
  return values


def encode(tokenizer, max_length=40):
  """Padded ids, mask and segment ids for TEXTS (Chinese, English, a pair)."""
  ids, mask, segments = [], [], []
  for first, second in TEXTS:
    tokens = ["[CLS]"] + tokenizer.tokenize(first) + ["[SEP]"]
    types = [0] * len(tokens)
    if second:
      extra = tokenizer.tokenize(second) + ["[SEP]"]
      tokens += extra
      types += [1] * len(extra)
    row = tokenizer.convert_tokens_to_ids(tokens)
    pad = max_length - len(row)
    assert pad > 0
    ids.append(row + [0] * pad)
    mask.append([1] * len(row) + [0] * pad)
    segments.append(types + [0] * pad)
  return (np.array(ids, np.int32), np.array(mask, np.int32),
          np.array(segments, np.int32))


def tf_outputs(prefix, config_dict, ids, mask, segments):
  """Sequence output, MLM log-probs and head logits of a TF checkpoint, [B, S, ...]."""
  with tf.Graph().as_default():
    model, logits = build_lert(config_dict, tf.constant(ids), tf.constant(mask),
                               tf.constant(segments))
    fetches = {"sequence_output": model.get_sequence_output()}
    for key, value in logits.items():
      fetches[key] = tf.reshape(value, list(ids.shape) + [-1])
    fetches["mlm"] = tf.nn.log_softmax(fetches["mlm"], axis=-1)
    with tf.Session() as session:
      tf.train.Saver().restore(session, prefix)
      return session.run(fetches)


@pytest.fixture(scope="module")
def lert(tmp_path_factory):
  """A random tiny LERT checkpoint with heads, its HF export and its re-import."""
  root = tmp_path_factory.mktemp("lert")
  config = write_config(root / "lert_config.json")
  prefix = str(root / "tf" / "lert_model.ckpt")
  values = write_random_checkpoint(prefix)
  hf_dir = str(root / "hf")
  to_hf = convert_lert_to_hf.convert(prefix, hf_dir, config_file=config,
                                     vocab_file=VOCAB)
  back_dir = str(root / "back")
  to_tf = convert_hf_to_lert.convert(hf_dir, back_dir)
  return {"root": root, "config": config, "prefix": prefix, "values": values,
          "hf_dir": hf_dir, "to_hf": to_hf, "back_dir": back_dir, "to_tf": to_tf}


# --- Names --------------------------------------------------------------------------


def test_every_model_variable_maps_both_ways():
  shapes = inventory.model_variable_shapes(modeling.BertConfig.from_dict(TINY))
  hf_names = set()
  for name in shapes:
    mapping = checkpoint_names.tf_name_to_hf(name)
    assert mapping is not None, name
    heads = mapping.group == checkpoint_names.HEADS
    assert checkpoint_names.hf_name_to_tf(mapping.name, heads=heads) == (
        name, mapping.transpose, mapping.group)
    assert mapping.transpose == name.endswith("kernel")
    hf_names.add(mapping.name)
  assert "bert.encoder.layer.1.attention.self.query.weight" in hf_names
  assert "bert.encoder.layer.0.output.LayerNorm.weight" in hf_names
  assert "cls.predictions.bias" in hf_names and "ner.weight" in hf_names
  assert checkpoint_names.tf_name_to_hf(
      "cls/predictions/output_bias").name == "cls.predictions.bias"
  # LayerNorm leaves only under LayerNorm, kernels never there.
  assert checkpoint_names.tf_name_to_hf(
      "bert/encoder/layer_0/output/dense/gamma") is None
  assert checkpoint_names.tf_name_to_hf(
      "bert/encoder/layer_0/output/LayerNorm/kernel") is None


def test_legacy_hf_spellings_and_groups():
  assert checkpoint_names.hf_name_to_tf(
      "encoder.layer.3.attention.output.LayerNorm.gamma").name == (
          "bert/encoder/layer_3/attention/output/LayerNorm/gamma")
  assert checkpoint_names.hf_name_to_tf("embeddings.LayerNorm.beta").name == (
      "bert/embeddings/LayerNorm/beta")
  assert checkpoint_names.hf_name_to_tf("pooler.dense.weight").transpose
  assert checkpoint_names.hf_name_to_tf("cls.predictions.decoder.weight") is None
  assert checkpoint_names.hf_name_to_tf("classifier.weight") is None
  groups = {name: checkpoint_names.variable_group(name) for name in (
      "bert/pooler/dense/kernel", "cls/predictions/transform/dense/bias",
      "cls/predictions/output_dep_layer/bias", "cls/seq_relationship/output_bias",
      "bert/encoder/layer_0/output/dense/kernel/adam_m", "global_step",
      "output_weights")}
  for name in ("lamb_step", "loss_scale/scale", "loss_scale/good_steps",
               "grad_accum_micro_step", "bert/pooler/dense/bias/grad_accum"):
    assert checkpoint_names.variable_group(name) == checkpoint_names.TRAINING_STATE
  assert groups == {
      "bert/pooler/dense/kernel": checkpoint_names.ENCODER,
      "cls/predictions/transform/dense/bias": checkpoint_names.MLM,
      "cls/predictions/output_dep_layer/bias": checkpoint_names.HEADS,
      "cls/seq_relationship/output_bias": checkpoint_names.NSP,
      "bert/encoder/layer_0/output/dense/kernel/adam_m": checkpoint_names.TRAINING_STATE,
      "global_step": checkpoint_names.TRAINING_STATE,
      "output_weights": checkpoint_names.UNKNOWN}


def test_state_dict_helpers_transpose_and_tie():
  rng = np.random.RandomState(1)
  tf_vars = {"bert/encoder/layer_0/intermediate/dense/kernel": rng.randn(4, 6),
             "bert/embeddings/word_embeddings": rng.randn(10, 4),
             "cls/predictions/output_bias": rng.randn(10),
             "cls/predictions/output_pos_layer/kernel": rng.randn(4, 28),
             "global_step": np.array(3)}
  hf = checkpoint_names.tf_to_hf_state_dict(tf_vars, with_tied_copies=True)
  assert sorted(hf) == sorted([
      "bert.encoder.layer.0.intermediate.dense.weight",
      "bert.embeddings.word_embeddings.weight", "cls.predictions.bias",
      "cls.predictions.decoder.weight", "cls.predictions.decoder.bias"])
  np.testing.assert_array_equal(hf["bert.encoder.layer.0.intermediate.dense.weight"],
                                tf_vars["bert/encoder/layer_0/intermediate/dense/kernel"].T)
  back = checkpoint_names.hf_to_tf(hf).variables
  assert sorted(back) == sorted(n for n in tf_vars
                                if "pos_layer" not in n and n != "global_step")
  for name, value in back.items():
    np.testing.assert_allclose(value, tf_vars[name], rtol=1e-6)  # float32 now
  with_buffer = dict(hf)
  with_buffer["bert.embeddings.position_ids"] = np.arange(8)[None, :]
  assert dict(checkpoint_names.hf_to_tf(with_buffer).skipped)[
      "bert.embeddings.position_ids"] == "buffer, not a weight"
  untied = dict(hf)
  untied["cls.predictions.decoder.weight"] = hf["cls.predictions.decoder.weight"] + 1
  with pytest.raises(ValueError, match="cls.predictions.decoder.weight differs"):
    checkpoint_names.hf_to_tf(untied)
  with pytest.raises(ValueError, match="upos.weight"):
    checkpoint_names.hf_to_tf({}, heads={"upos.weight": np.zeros((2, 4))})


# --- safetensors ------------------------------------------------------------------


def test_safetensors_round_trip(tmp_path):
  tensors = {"a.weight": np.arange(12, dtype=np.float32).reshape(3, 4),
             "b": np.array([1.5, -2.0], np.float16),
             "ids": np.arange(5, dtype=np.int64), "scalar": np.array(7, np.int32),
             "empty": np.zeros((0, 3), np.float32)}
  path = str(tmp_path / "t.safetensors")
  formats.save_safetensors(path, tensors)
  loaded = formats.load_safetensors(path)
  assert sorted(loaded) == sorted(tensors)
  for name, value in tensors.items():
    assert loaded[name].dtype == value.dtype and loaded[name].shape == value.shape
    np.testing.assert_array_equal(loaded[name], value)
  with open(path, "rb") as reader:
    raw = reader.read()
  header_size = int(np.frombuffer(raw[:8], "<u8")[0])
  assert header_size % 8 == 0
  assert json.loads(raw[8:8 + header_size])["__metadata__"] == {"format": "pt"}
  # bfloat16 (read only): 1.0 is 0x3F80, -2.5 is 0xC020.
  header = json.dumps({"x": {"dtype": "BF16", "shape": [2],
                             "data_offsets": [0, 4]}}).encode()
  bf16 = str(tmp_path / "bf16.safetensors")
  with open(bf16, "wb") as writer:
    writer.write(np.array([len(header)], "<u8").tobytes() + header +
                 np.array([0x3F80, 0xC020], "<u2").tobytes())
  np.testing.assert_array_equal(formats.load_safetensors(bf16)["x"],
                                np.array([1.0, -2.5], np.float32))
  with open(bf16, "wb") as writer:
    writer.write(b"\x00\x10" + b"\x00" * 6 + b"{}")
  with pytest.raises(ValueError, match="bf16.safetensors"):
    formats.load_safetensors(bf16)


def test_safetensors_matches_the_library(tmp_path):
  safetensors_numpy = pytest.importorskip("safetensors.numpy")
  tensors = {"w": np.random.RandomState(0).randn(3, 5).astype(np.float32),
             "i": np.arange(4, dtype=np.int64)}
  ours = str(tmp_path / "ours.safetensors")
  theirs = str(tmp_path / "theirs.safetensors")
  formats.save_safetensors(ours, tensors)
  safetensors_numpy.save_file(tensors, theirs, metadata={"format": "pt"})
  for path in (ours, theirs):
    for reader in (formats.load_safetensors, safetensors_numpy.load_file):
      loaded = reader(path)
      for name, value in tensors.items():
        np.testing.assert_array_equal(loaded[name], value)


# --- Round trip and reports ---------------------------------------------------------


def test_round_trip_keeps_every_variable(lert):
  hf_files = sorted(os.listdir(lert["hf_dir"]))
  assert hf_files == sorted([
      "config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
      "model.safetensors", "lert_heads.safetensors", "lert_heads_config.json"])
  hf_config = fileio.read_json(os.path.join(lert["hf_dir"], "config.json"))
  assert hf_config["architectures"] == ["BertForMaskedLM"]
  assert hf_config["model_type"] == "bert" and hf_config["hidden_act"] == "gelu"
  assert hf_config["layer_norm_eps"] == 1e-12 and hf_config["hidden_size"] == 32
  assert hf_config["directionality"] == "bidi"
  tokenizer_config = fileio.read_json(
      os.path.join(lert["hf_dir"], "tokenizer_config.json"))
  assert tokenizer_config["do_lower_case"] is True
  assert tokenizer_config["tokenizer_class"] == "BertTokenizer"
  heads_config = fileio.read_json(
      os.path.join(lert["hf_dir"], "lert_heads_config.json"))
  assert heads_config["tasks"] == list(linguistics.TASKS)
  for task in linguistics.TASKS:
    assert heads_config["labels"][task] == list(linguistics.LABELS[task])

  to_hf = lert["to_hf"]
  assert to_hf.heads == list(linguistics.TASKS)
  assert to_hf.missing == [] and to_hf.skipped == []
  assert len(to_hf.converted) == len(lert["values"])
  assert "linguistic heads converted: pos, ner, dep" in (
      checkpoint_names.format_report(to_hf))

  back_prefix = os.path.join(lert["back_dir"], "lert_model.ckpt")
  back = tf_checkpoints.read_checkpoint(back_prefix)
  assert sorted(back) == sorted(lert["values"])
  for name, value in lert["values"].items():
    np.testing.assert_array_equal(back[name], value, err_msg=name)
  assert lert["to_tf"].missing == [] and lert["to_tf"].heads == list(linguistics.TASKS)
  with open(lert["config"]) as a, open(os.path.join(lert["back_dir"],
                                                    "lert_config.json")) as b:
    assert json.load(a) == json.load(b)
  with open(VOCAB, "rb") as a, open(os.path.join(lert["back_dir"], "vocab.txt"),
                                    "rb") as b:
    assert a.read() == b.read()

  # Usable as init_checkpoint: the directory resolves, everything restores.
  with tf.Graph().as_default():
    build_lert(TINY, tf.placeholder(tf.int32, [1, 2]))
    report = tf_checkpoints.checkpoint_report(
        tf.trainable_variables(), tf_checkpoints.find_checkpoint(lert["back_dir"]))
  assert report.new == [] and report.left_over == []
  assert len(report.restored) == len(lert["values"])


def test_checkpoint_without_heads_converts_with_report(tmp_path):
  write_config(tmp_path / "lert_config.json")
  prefix = str(tmp_path / "bert_model.ckpt")
  values = write_random_checkpoint(prefix, with_heads=False)
  os.symlink(VOCAB, str(tmp_path / "vocab.txt"))
  # config and vocab are found next to the checkpoint, as in a release zip.
  report = convert_lert_to_hf.convert(str(tmp_path), str(tmp_path / "hf"))
  assert report.source == prefix and report.heads == []
  missing = dict(report.missing)
  assert sorted(missing) == sorted(
      checkpoint_names.heads_variable(task, leaf)
      for task in linguistics.TASKS for leaf in ("kernel", "bias"))
  assert all("linguistic head absent" in why for why in missing.values())
  text = checkpoint_names.format_report(report)
  assert "linguistic heads converted: none" in text
  assert "cls/predictions/output_ner_layer/kernel: linguistic head absent" in text
  assert not os.path.exists(str(tmp_path / "hf" / checkpoint_names.HEADS_FILE))
  assert len(report.converted) == len(values)

  back = convert_hf_to_lert.convert(str(tmp_path / "hf"), str(tmp_path / "back"))
  assert sorted(dict(back.missing)) == sorted(missing)
  assert "init_checkpoint" in back.missing[0][1]


def test_nsp_and_training_state_are_reported(tmp_path):
  config = write_config(tmp_path / "bert_config.json")
  prefix = str(tmp_path / "model.ckpt-1234")
  values = write_random_checkpoint(prefix, extra=NSP_AND_STATE)
  report = convert_lert_to_hf.convert(prefix, str(tmp_path / "hf"),
                                      config_file=config, vocab_file=VOCAB)
  skipped = dict(report.skipped)
  # The checkpoint has optimizer slots, and only the POS head has one of its own:
  # the NER and DEP heads were never trained.
  never_trained = [checkpoint_names.heads_variable(task, leaf)
                   for task in ("ner", "dep") for leaf in ("kernel", "bias")]
  assert sorted(skipped) == sorted(NSP_AND_STATE + tuple(never_trained))
  assert "next-sentence head" in skipped["cls/seq_relationship/output_weights"]
  assert "training state" in skipped["global_step"]
  assert "the DEP head was never trained" in skipped[never_trained[2]]
  assert report.heads == ["pos"]
  assert len(report.converted) == len(values) - len(NSP_AND_STATE) - len(never_trained)
  weights = formats.load_safetensors(str(tmp_path / "hf" / "model.safetensors"))
  assert not any(k.startswith("cls.seq_relationship") for k in weights)


def test_heads_a_training_checkpoint_never_updated_are_not_exported(tmp_path):
  config = write_config(tmp_path / "bert_config.json")
  slots = tuple(checkpoint_names.heads_variable(task, "kernel") + "/adam_v"
                for task in linguistics.TASKS)
  dep_slot = checkpoint_names.heads_variable("dep", "kernel") + "/adam_v"
  training = str(tmp_path / "train" / "model.ckpt-1234")
  values = write_random_checkpoint(training, extra=slots, zeros=(dep_slot,))
  report = convert_lert_to_hf.convert(training, str(tmp_path / "hf"),
                                      config_file=config, vocab_file=VOCAB)
  assert report.heads == ["pos", "ner"]
  assert "the DEP head was never trained" in dict(report.skipped)[
      checkpoint_names.heads_variable("dep", "bias")]
  heads = formats.load_safetensors(
      str(tmp_path / "hf" / checkpoint_names.HEADS_FILE))
  assert sorted(heads) == ["ner.bias", "ner.weight", "pos.bias", "pos.weight"]
  np.testing.assert_array_equal(
      heads["ner.weight"], values[checkpoint_names.heads_variable("ner", "kernel")].T)
  heads_config = fileio.read_json(
      str(tmp_path / "hf" / checkpoint_names.HEADS_CONFIG_FILE))
  assert heads_config["tasks"] == ["pos", "ner"] and list(heads_config["labels"]) == [
      "pos", "ner"]
  assert "linguistic heads converted: pos, ner" in checkpoint_names.format_report(report)

  # Without optimizer slots (a released checkpoint) nothing says a head is
  # untrained: every head is exported.
  release = str(tmp_path / "release" / "bert_model.ckpt")
  write_random_checkpoint(release)
  report = convert_lert_to_hf.convert(release, str(tmp_path / "hf_release"),
                                      config_file=config, vocab_file=VOCAB)
  assert report.heads == list(linguistics.TASKS)


def test_shape_mismatch_names_the_variable(lert, tmp_path):
  bad_config = write_config(tmp_path / "bad.json", intermediate_size=48)
  with pytest.raises(ValueError) as error:
    convert_lert_to_hf.convert(lert["prefix"], str(tmp_path / "hf"),
                               config_file=bad_config, vocab_file=VOCAB)
  assert "bert/encoder/layer_0/intermediate/dense/kernel" in str(error.value)
  assert "[32, 64]" in str(error.value) and "[32, 48]" in str(error.value)
  fewer_layers = write_config(tmp_path / "one_layer.json", num_hidden_layers=1)
  with pytest.raises(ValueError, match="bert/encoder/layer_1/attention/self/key/bias"):
    convert_lert_to_hf.convert(lert["prefix"], str(tmp_path / "hf"),
                               config_file=fewer_layers, vocab_file=VOCAB)

  # HF -> TF: one weight with another shape.
  hf_dir = tmp_path / "hf_bad"
  hf_dir.mkdir()
  for name in ("config.json", "vocab.txt"):
    os.symlink(os.path.join(lert["hf_dir"], name), str(hf_dir / name))
  weights = formats.load_safetensors(
      os.path.join(lert["hf_dir"], "model.safetensors"))
  weights["bert.encoder.layer.1.output.dense.weight"] = np.zeros((32, 60), np.float32)
  formats.save_safetensors(str(hf_dir / "model.safetensors"), weights)
  with pytest.raises(ValueError) as error:
    convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "out"))
  message = str(error.value)
  assert "bert/encoder/layer_1/output/dense/kernel" in message
  assert "bert.encoder.layer.1.output.dense.weight" in message
  assert not os.path.exists(str(tmp_path / "out"))


def test_vocabulary_mismatch_names_the_variable(lert, tmp_path):
  small_vocab = str(tmp_path / "vocab.txt")
  with open(small_vocab, "w") as writer:
    writer.write("\n".join(["[PAD]"] + ["t%d" % i for i in range(99)]) + "\n")
  with pytest.raises(ValueError) as error:
    convert_lert_to_hf.convert(lert["prefix"], str(tmp_path / "hf"),
                               config_file=lert["config"], vocab_file=small_vocab)
  assert "bert/embeddings/word_embeddings" in str(error.value)
  assert small_vocab in str(error.value) and "100 tokens" in str(error.value)

  # HF -> TF: config.json claims another vocabulary size than the weights have.
  hf_dir = tmp_path / "hf_bad"
  hf_dir.mkdir()
  for name in ("model.safetensors", "vocab.txt"):
    os.symlink(os.path.join(lert["hf_dir"], name), str(hf_dir / name))
  hf_config = fileio.read_json(os.path.join(lert["hf_dir"], "config.json"))
  hf_config["vocab_size"] = 21000
  formats.write_json(str(hf_dir / "config.json"), hf_config)
  with pytest.raises(ValueError) as error:
    convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "out"))
  assert "bert/embeddings/word_embeddings" in str(error.value)
  assert "bert.embeddings.word_embeddings.weight" in str(error.value)


def test_heads_with_other_inventories_are_refused(lert, tmp_path):
  hf_dir = tmp_path / "hf"
  hf_dir.mkdir()
  for name in os.listdir(lert["hf_dir"]):
    if name != checkpoint_names.HEADS_CONFIG_FILE:
      os.symlink(os.path.join(lert["hf_dir"], name), str(hf_dir / name))
  config = fileio.read_json(
      os.path.join(lert["hf_dir"], checkpoint_names.HEADS_CONFIG_FILE))
  config["labels"]["dep"] = list(reversed(config["labels"]["dep"]))
  config_path = str(hf_dir / checkpoint_names.HEADS_CONFIG_FILE)
  formats.write_json(config_path, config)
  with pytest.raises(ValueError) as error:
    convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "out"))
  assert config_path in str(error.value) and "dep inventory" in str(error.value)
  os.remove(config_path)
  with pytest.raises(ValueError, match="lert_heads_config.json"):
    convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "out"))


def test_missing_pooler_is_reported_other_encoder_weights_are_errors(lert, tmp_path):
  weights = formats.load_safetensors(
      os.path.join(lert["hf_dir"], "model.safetensors"))
  for name in ("bert.pooler.dense.weight", "bert.pooler.dense.bias"):
    del weights[name]
  hf_dir = tmp_path / "no_pooler"
  hf_dir.mkdir()
  for name in ("config.json", "vocab.txt"):
    os.symlink(os.path.join(lert["hf_dir"], name), str(hf_dir / name))
  formats.save_safetensors(str(hf_dir / "model.safetensors"), weights)
  report = convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "tf"))
  assert sorted(dict(report.missing)) == sorted(
      ["bert/pooler/dense/kernel", "bert/pooler/dense/bias"] + [
          checkpoint_names.heads_variable(task, leaf)
          for task in linguistics.TASKS for leaf in ("kernel", "bias")])
  del weights["bert.encoder.layer.1.output.dense.weight"]
  formats.save_safetensors(str(hf_dir / "model.safetensors"), weights)
  with pytest.raises(errors.UserError) as error:
    convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "tf2"))
  assert str(error.value) == ("the source lacks encoder variables the config "
                              "implies: bert/encoder/layer_1/output/dense/kernel")


def test_command_line_user_error_is_one_line(tmp_path):
  result = subprocess.run(
      [sys.executable, os.path.join(REPO, "convert_hf_to_lert.py"), "--hf_dir",
       str(tmp_path / "absent"), "--output_dir", str(tmp_path / "out")],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
  assert result.returncode == errors.USER_ERROR_EXIT
  assert result.stderr.strip().splitlines()[-1] == (
      "error: %s: no config.json" % (tmp_path / "absent"))


def test_sharded_safetensors_import(lert, tmp_path):
  hf_dir = tmp_path / "sharded"
  hf_dir.mkdir()
  for name in ("config.json", "vocab.txt"):
    os.symlink(os.path.join(lert["hf_dir"], name), str(hf_dir / name))
  weights = formats.load_safetensors(
      os.path.join(lert["hf_dir"], "model.safetensors"))
  weight_map = {}
  for index, name in enumerate(sorted(weights)):
    weight_map[name] = "model-%05d-of-00002.safetensors" % (index % 2 + 1)
  for shard in set(weight_map.values()):
    formats.save_safetensors(str(hf_dir / shard), {
        name: weights[name] for name, file in weight_map.items() if file == shard})
  formats.write_json(str(hf_dir / "model.safetensors.index.json"),
                     {"metadata": {}, "weight_map": weight_map})
  report = convert_hf_to_lert.convert(str(hf_dir), str(tmp_path / "tf"))
  assert report.heads == [] and len(report.missing) == 6
  back = tf_checkpoints.read_checkpoint(str(tmp_path / "tf" / "lert_model.ckpt"))
  for name, value in back.items():
    np.testing.assert_array_equal(value, lert["values"][name], err_msg=name)
  assert len(back) == len(lert["values"]) - 6


def test_command_lines(lert, tmp_path, capsys):
  out = str(tmp_path / "hf")
  assert convert_lert_to_hf.main([
      "--checkpoint", os.path.dirname(lert["prefix"]), "--output_dir", out,
      "--config", lert["config"], "--vocab", VOCAB, "--do_lower_case", "false"]) == 0
  printed = capsys.readouterr().out
  assert "%d weights converted" % len(lert["values"]) in printed
  assert "missing from the source: none" in printed
  assert fileio.read_json(
      os.path.join(out, "tokenizer_config.json"))["do_lower_case"] is False
  assert convert_hf_to_lert.main(["--hf_dir", out, "--output_dir", str(tmp_path / "tf"),
                                  "--checkpoint_name", "imported.ckpt"]) == 0
  printed = capsys.readouterr().out
  assert "imported.ckpt" in printed and "linguistic heads converted: pos, ner, dep" in printed
  assert os.path.exists(str(tmp_path / "tf" / "imported.ckpt.index"))


def test_hf_config_fields_are_checked(tmp_path):
  config = convert_hf_to_lert.bert_config_from_hf(
      {"model_type": "bert", "hidden_size": 64, "num_attention_heads": 4,
       "hidden_act": "gelu_pytorch_tanh", "pooler_type": "first_token_transform"},
      "config.json")
  assert config.hidden_act == "gelu_new" and config.vocab_size == 30522
  assert config.to_dict()["pooler_type"] == "first_token_transform"
  for bad, field in (({"model_type": "roberta"}, "model_type"),
                     ({"layer_norm_eps": 1e-5}, "layer_norm_eps"),
                     ({"position_embedding_type": "relative_key"},
                      "position_embedding_type"),
                     ({"hidden_act": "silu"}, "hidden_act")):
    with pytest.raises(ValueError, match=field):
      convert_hf_to_lert.bert_config_from_hf(bad, "config.json")


# --- PyTorch side (skipped only where torch is not installed: .venv-tf1) ------------


def test_transformers_loads_every_weight(lert):
  pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  _, info = transformers.BertForMaskedLM.from_pretrained(
      lert["hf_dir"], output_loading_info=True)
  assert info["missing_keys"] == [] and info["mismatched_keys"] == []
  # BertForMaskedLM has no pooler; the pooler is kept for BertModel & fine-tuning.
  assert sorted(info["unexpected_keys"]) == ["bert.pooler.dense.bias",
                                             "bert.pooler.dense.weight"]
  _, info = transformers.BertModel.from_pretrained(lert["hf_dir"],
                                                   output_loading_info=True)
  assert info["missing_keys"] == [] and info["mismatched_keys"] == []
  assert info["unexpected_keys"] and all(
      k.startswith("cls.predictions.") for k in info["unexpected_keys"])
  model = transformers.BertForMaskedLM(transformers.BertConfig.from_pretrained(
      lert["hf_dir"]))
  expected = set(model.state_dict()) - {"cls.predictions.decoder.weight",
                                        "cls.predictions.decoder.bias"}
  stored = set(formats.load_safetensors(
      os.path.join(lert["hf_dir"], "model.safetensors")))
  assert stored - expected == {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}
  assert expected <= stored


def test_tf_and_pytorch_agree(lert):
  torch = pytest.importorskip("torch")
  import lert_heads_torch
  tokenizer = tokenization.FullTokenizer(VOCAB, do_lower_case=True)
  ids, mask, segments = encode(tokenizer)
  assert mask.min() == 0 and tokenizer.vocab["[UNK]"] not in ids.tolist()
  expected = tf_outputs(lert["prefix"], TINY, ids, mask, segments)
  model = lert_heads_torch.LertForLinguisticTagging.from_pretrained(lert["hf_dir"])
  with torch.no_grad():
    outputs = model(torch.tensor(ids, dtype=torch.long),
                    torch.tensor(mask, dtype=torch.long),
                    torch.tensor(segments, dtype=torch.long))
  got = {key: value.numpy() for key, value in outputs.items()}
  got["mlm"] = torch.log_softmax(outputs["mlm"], dim=-1).numpy()
  assert sorted(got) == sorted(expected)
  for key in expected:
    assert got[key].shape == expected[key].shape, key
    np.testing.assert_allclose(got[key], expected[key], atol=1e-4, err_msg=key)
  # The values are not trivially equal: heads and MLM differ across tokens.
  assert np.ptp(expected["pos"].argmax(-1)) > 0 and np.std(expected["mlm"]) > 0.1


def test_predict_tags(lert):
  pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  import lert_heads_torch
  model = lert_heads_torch.LertForLinguisticTagging.from_pretrained(lert["hf_dir"])
  hf_tokenizer = transformers.BertTokenizer.from_pretrained(lert["hf_dir"])
  text = "哈工大位于冰城Harbin。"
  tags = model.predict_tags(text, hf_tokenizer)
  own = model.predict_tags(text, tokenization.FullTokenizer(VOCAB))
  assert tags == own
  assert [t["token"] for t in tags] == ["哈", "工", "大", "位", "于", "冰", "城",
                                        "ha", "##r", "##bin", "。"]
  for tag in tags:
    for task in linguistics.TASKS:
      assert tag[task] in linguistics.LABELS[task]
  ids, mask, segments = encode(tokenization.FullTokenizer(VOCAB))
  expected = tf_outputs(lert["prefix"], TINY, ids[:1], mask[:1], segments[:1])
  first = model.predict_tags(TEXTS[0][0], hf_tokenizer)
  assert [t["pos"] for t in first] == [
      linguistics.POS_LABELS[i] for i in expected["pos"][0, 1:len(first) + 1].argmax(-1)]
  with pytest.raises(ValueError, match="at most 62"):
    model.predict_tags("哈" * 63, hf_tokenizer)


def test_torch_module_needs_heads(tmp_path):
  pytest.importorskip("torch")
  import lert_heads_torch
  write_config(tmp_path / "lert_config.json")
  write_random_checkpoint(str(tmp_path / "m.ckpt"), with_heads=False)
  convert_lert_to_hf.convert(str(tmp_path / "m.ckpt"), str(tmp_path / "hf"),
                             config_file=str(tmp_path / "lert_config.json"),
                             vocab_file=VOCAB)
  with pytest.raises(ValueError, match="lert_heads.safetensors not found"):
    lert_heads_torch.LertForLinguisticTagging.from_pretrained(str(tmp_path / "hf"))


MLM_VARIABLES = ("cls/predictions/transform/dense/kernel",
                 "cls/predictions/transform/dense/bias",
                 "cls/predictions/transform/LayerNorm/gamma",
                 "cls/predictions/transform/LayerNorm/beta",
                 "cls/predictions/output_bias")
POOLER_VARIABLES = ("bert/pooler/dense/kernel", "bert/pooler/dense/bias")
HEAD_VARIABLES = tuple(checkpoint_names.heads_variable(task, leaf)
                       for task in linguistics.TASKS for leaf in ("kernel", "bias"))
# What a LERT checkpoint has that each transformers class lacks.
ABSENT_FROM = {"BertForPreTraining": HEAD_VARIABLES,
               "BertForMaskedLM": POOLER_VARIABLES + HEAD_VARIABLES,
               "BertModel": MLM_VARIABLES + HEAD_VARIABLES}


def save_transformers_model(architecture, serialization, hf_dir, seed=0):
  """A tiny random model of a transformers class, saved as transformers saves it.

  `serialization` is "safetensors", "bin" or "bin_legacy_names" (the keys of
  pytorch-pretrained-bert: LayerNorm gamma/beta, BertModel keys without
  `bert.`).  The vocabulary is linked in; returns the model.
  """
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  torch.manual_seed(seed)
  hf_config = transformers.BertConfig(
      vocab_size=21128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
      intermediate_size=64, max_position_embeddings=64)
  model = getattr(transformers, architecture)(hf_config).eval()
  with torch.no_grad():
    for name, param in model.named_parameters():
      if "LayerNorm" in name or name.endswith("bias"):
        param.add_(0.1 * torch.randn_like(param))
  if serialization == "bin_legacy_names":
    hf_config.save_pretrained(hf_dir)
    state = {}
    for key, value in model.state_dict().items():
      key = key.replace("LayerNorm.weight", "LayerNorm.gamma").replace(
          "LayerNorm.bias", "LayerNorm.beta")
      state[key[len("bert."):] if key.startswith("bert.") else key] = value
    torch.save(state, os.path.join(hf_dir, "pytorch_model.bin"))
  else:
    model.save_pretrained(hf_dir, safe_serialization=serialization == "safetensors")
  os.symlink(VOCAB, os.path.join(hf_dir, "vocab.txt"))
  return model


def restore_and_run(prefix, config_dict, ids, mask, segments):
  """Sequence output, pooled output and MLM logits [B, S, V] of a TF checkpoint
  that may lack some variables (those keep their random initial values)."""
  stored = set(name for name, _ in tf.train.list_variables(prefix))
  with tf.Graph().as_default():
    model, logits = build_lert(config_dict, tf.constant(ids), tf.constant(mask),
                               tf.constant(segments))
    restored = {v.op.name: v for v in tf.global_variables() if v.op.name in stored}
    with tf.Session() as session:
      session.run(tf.global_variables_initializer())
      tf.train.Saver(var_list=restored).restore(session, prefix)
      return session.run([model.get_sequence_output(), model.get_pooled_output(),
                          tf.reshape(logits["mlm"], list(ids.shape) + [-1])])


def transformers_outputs(model, ids, mask, segments):
  """(sequence output, pooled output or None, MLM logits or None) of a model."""
  torch = pytest.importorskip("torch")
  inputs = {"input_ids": torch.tensor(ids, dtype=torch.long),
            "attention_mask": torch.tensor(mask, dtype=torch.long),
            "token_type_ids": torch.tensor(segments, dtype=torch.long)}
  encoder = getattr(model, "bert", model)
  with torch.no_grad():
    base = encoder(**inputs)
    out = model(**inputs)
  pooled = base.pooler_output.numpy() if base.pooler_output is not None else None
  mlm = getattr(out, "prediction_logits", None)
  if mlm is None:
    mlm = getattr(out, "logits", None)
  return (base.last_hidden_state.numpy(), pooled,
          mlm.numpy() if mlm is not None else None)


@pytest.mark.parametrize("architecture,serialization", [
    ("BertForPreTraining", "safetensors"), ("BertForPreTraining", "bin"),
    ("BertForPreTraining", "bin_legacy_names"),
    ("BertForMaskedLM", "safetensors"), ("BertForMaskedLM", "bin"),
    ("BertModel", "safetensors"), ("BertModel", "bin")])
def test_import_of_transformers_checkpoints(tmp_path, architecture, serialization):
  """A directory saved by transformers itself imports and computes the same."""
  hf_dir = str(tmp_path / "hf")
  model = save_transformers_model(architecture, serialization, hf_dir)
  report = convert_hf_to_lert.convert(hf_dir, str(tmp_path / "tf"))
  assert report.heads == []
  missing = dict(report.missing)
  assert sorted(missing) == sorted(ABSENT_FROM[architecture])
  for name in POOLER_VARIABLES:
    if name in missing:  # reported, not an error: BertForMaskedLM has no pooler
      assert missing[name].startswith("pooler absent")
      assert "initialised freshly" in missing[name]
  nsp = any(name == "cls/seq_relationship/output_weights"
            for _, name in report.converted)
  assert nsp == (architecture == "BertForPreTraining")

  ids, mask, segments = encode(tokenization.FullTokenizer(VOCAB))
  config_dict = json.load(open(str(tmp_path / "tf" / "lert_config.json")))
  sequence, pooled, mlm = restore_and_run(
      str(tmp_path / "tf" / "lert_model.ckpt"), config_dict, ids, mask, segments)
  expected_sequence, expected_pooled, expected_mlm = transformers_outputs(
      model, ids, mask, segments)
  np.testing.assert_allclose(sequence, expected_sequence, atol=1e-4)
  assert (expected_pooled is None) == (architecture == "BertForMaskedLM")
  if expected_pooled is not None:
    np.testing.assert_allclose(pooled, expected_pooled, atol=1e-4)
  assert (expected_mlm is None) == (architecture == "BertModel")
  if expected_mlm is not None:
    np.testing.assert_allclose(mlm, expected_mlm, atol=1e-4)


def test_bert_for_masked_lm_round_trips(tmp_path):
  """transformers' BertForMaskedLM -> TF -> Hugging Face: every weight comes back."""
  transformers = pytest.importorskip("transformers")
  hf_dir = str(tmp_path / "hf")
  model = save_transformers_model("BertForMaskedLM", "safetensors", hf_dir)
  convert_hf_to_lert.convert(hf_dir, str(tmp_path / "tf"))
  report = convert_lert_to_hf.convert(str(tmp_path / "tf"), str(tmp_path / "back"))
  assert sorted(dict(report.missing)) == sorted(POOLER_VARIABLES + HEAD_VARIABLES)
  back, info = transformers.BertForMaskedLM.from_pretrained(
      str(tmp_path / "back"), output_loading_info=True)
  assert info["missing_keys"] == [] and info["unexpected_keys"] == []
  assert info["mismatched_keys"] == []
  original = model.state_dict()
  for key, value in back.state_dict().items():
    np.testing.assert_array_equal(value.numpy(), original[key].numpy(), err_msg=key)
  ids, mask, segments = encode(tokenization.FullTokenizer(VOCAB))
  np.testing.assert_allclose(transformers_outputs(back, ids, mask, segments)[2],
                             transformers_outputs(model, ids, mask, segments)[2],
                             atol=1e-6)


def test_own_export_saved_again_by_transformers_imports(lert, tmp_path):
  """Our export, loaded and saved by BertForMaskedLM (which drops the pooler)."""
  transformers = pytest.importorskip("transformers")
  model = transformers.BertForMaskedLM.from_pretrained(lert["hf_dir"])
  hf_dir = str(tmp_path / "resaved")
  model.save_pretrained(hf_dir)
  os.symlink(VOCAB, os.path.join(hf_dir, "vocab.txt"))
  report = convert_hf_to_lert.convert(hf_dir, str(tmp_path / "tf"))
  assert sorted(dict(report.missing)) == sorted(POOLER_VARIABLES + HEAD_VARIABLES)
  back = tf_checkpoints.read_checkpoint(str(tmp_path / "tf" / "lert_model.ckpt"))
  assert sorted(back) == sorted(set(lert["values"]) - set(POOLER_VARIABLES) -
                                set(HEAD_VARIABLES))
  for name, value in back.items():
    np.testing.assert_array_equal(value, lert["values"][name], err_msg=name)
  # Usable as init_checkpoint: the pooler and heads start fresh, the rest restores.
  with tf.Graph().as_default():
    build_lert(TINY, tf.placeholder(tf.int32, [1, 2]))
    init = tf_checkpoints.checkpoint_report(
        tf.trainable_variables(), tf_checkpoints.find_checkpoint(str(tmp_path / "tf")))
  assert sorted(init.new) == sorted(POOLER_VARIABLES + HEAD_VARIABLES)
  assert init.left_over == []


def test_transformers_tf_loader_cannot_read_linguistic_heads(lert, tmp_path):
  """What the README says of transformers' load_tf_weights_in_bert (4.46.3)."""
  transformers = pytest.importorskip("transformers")
  hf_config = transformers.BertConfig.from_pretrained(lert["hf_dir"])
  with pytest.raises(ValueError) as error:
    transformers.load_tf_weights_in_bert(
        transformers.BertForPreTraining(hf_config), hf_config, lert["prefix"])
  # It skips the unknown scope output_dep_layer but still follows the leaf
  # `bias`, which lands on the MLM output bias.
  assert "Pointer shape torch.Size([21128]) and array shape (14,) mismatched" in str(
      error.value)
  without_heads = str(tmp_path / "no_heads.ckpt")
  write_random_checkpoint(without_heads, with_heads=False)
  transformers.load_tf_weights_in_bert(
      transformers.BertForPreTraining(hf_config), hf_config, without_heads)
  for architecture in ("BertForMaskedLM", "BertModel"):  # not even without heads
    with pytest.raises(AttributeError):
      transformers.load_tf_weights_in_bert(
          getattr(transformers, architecture)(hf_config), hf_config, without_heads)
