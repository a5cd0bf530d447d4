"""modeling.py: config, variable names and shapes, graph hygiene, checkpoints, GELU,
losses, LIP."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from lert import errors
from lert import linguistics
import modeling
from conftest import REPO_ROOT

CONFIGS = {name: os.path.join(REPO_ROOT, "configs", "lert_config_%s.json" % name)
           for name in ("small", "base", "large")}


def expected_variables(hidden, layers, intermediate, vocab=21128, types=2,
                       positions=512):
  """The released checkpoints' trainable variables, written out by hand."""
  h, i = hidden, intermediate
  names = {
      "bert/embeddings/word_embeddings": [vocab, h],
      "bert/embeddings/token_type_embeddings": [types, h],
      "bert/embeddings/position_embeddings": [positions, h],
      "bert/embeddings/LayerNorm/gamma": [h],
      "bert/embeddings/LayerNorm/beta": [h],
      "bert/pooler/dense/kernel": [h, h],
      "bert/pooler/dense/bias": [h],
      "cls/predictions/transform/dense/kernel": [h, h],
      "cls/predictions/transform/dense/bias": [h],
      "cls/predictions/transform/LayerNorm/gamma": [h],
      "cls/predictions/transform/LayerNorm/beta": [h],
      "cls/predictions/output_bias": [vocab],
      "cls/predictions/output_pos_layer/kernel": [h, 28],
      "cls/predictions/output_pos_layer/bias": [28],
      "cls/predictions/output_ner_layer/kernel": [h, 13],
      "cls/predictions/output_ner_layer/bias": [13],
      "cls/predictions/output_dep_layer/kernel": [h, 14],
      "cls/predictions/output_dep_layer/bias": [14],
  }
  for layer in range(layers):
    prefix = "bert/encoder/layer_%d/" % layer
    for proj in ("query", "key", "value"):
      names[prefix + "attention/self/%s/kernel" % proj] = [h, h]
      names[prefix + "attention/self/%s/bias" % proj] = [h]
    names[prefix + "attention/output/dense/kernel"] = [h, h]
    names[prefix + "attention/output/dense/bias"] = [h]
    names[prefix + "attention/output/LayerNorm/gamma"] = [h]
    names[prefix + "attention/output/LayerNorm/beta"] = [h]
    names[prefix + "intermediate/dense/kernel"] = [h, i]
    names[prefix + "intermediate/dense/bias"] = [i]
    names[prefix + "output/dense/kernel"] = [i, h]
    names[prefix + "output/dense/bias"] = [h]
    names[prefix + "output/LayerNorm/gamma"] = [h]
    names[prefix + "output/LayerNorm/beta"] = [h]
  return names


def build_pretraining_graph(config, batch=2, seq=16, predictions=4, is_training=False):
  input_ids = tf.placeholder(tf.int32, [batch, seq], name="input_ids")
  input_mask = tf.placeholder(tf.int32, [batch, seq], name="input_mask")
  segment_ids = tf.placeholder(tf.int32, [batch, seq], name="segment_ids")
  positions = tf.placeholder(tf.int32, [batch, predictions], name="positions")
  model = modeling.BertModel(config, is_training, input_ids, input_mask, segment_ids)
  logits = modeling.lert_pretraining_heads(
      config, model.get_sequence_output(), model.get_embedding_table(), positions)
  placeholders = (input_ids, input_mask, segment_ids, positions)
  return model, logits, placeholders


@pytest.mark.parametrize("size,hidden,layers,intermediate", [
    ("small", 256, 12, 1024), ("base", 768, 12, 3072), ("large", 1024, 24, 4096)])
def test_pretraining_graph_variables_match_spec(size, hidden, layers, intermediate):
  config = modeling.BertConfig.from_json_file(CONFIGS[size])
  with tf.Graph().as_default():
    build_pretraining_graph(config)
    got = {v.op.name: v.shape.as_list() for v in tf.trainable_variables()}
  assert got == expected_variables(hidden, layers, intermediate)
  assert "cls/seq_relationship/output_weights" not in got


def test_head_sizes_come_from_inventories():
  assert [linguistics.num_labels(t) for t in linguistics.TASKS] == [28, 13, 14]
  assert linguistics.POS_LABELS[0] == "n" and linguistics.POS_LABELS[-1] == "%"
  assert linguistics.NER_LABELS[:3] == ("O", "S-Ns", "S-Nh")
  assert linguistics.DEP_LABELS[-1] == "IOB"
  assert linguistics.RELEASED_PREFIX["ner"] + linguistics.NER_LABELS[1] == "NER-S-Ns"


def test_root_config_is_released_base():
  with open(os.path.join(REPO_ROOT, "lert_config.json")) as f:
    root = json.load(f)
  with open(CONFIGS["base"]) as f:
    base = json.load(f)
  assert root == base
  assert root["vocab_size"] == 21128 and root["type_vocab_size"] == 2
  small = modeling.BertConfig.from_json_file(CONFIGS["small"])
  assert (small.hidden_size, small.num_attention_heads, small.intermediate_size) == (
      256, 4, 1024)
  assert small.ignored_fields["pooler_size_per_head"] == 64


def test_config_errors_name_fields(tmp_path):
  with open(CONFIGS["small"]) as f:
    data = json.load(f)
  data["hiden_size"] = data.pop("hidden_size")
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(data))
  with pytest.raises(ValueError) as error:
    modeling.BertConfig.from_json_file(str(path))
  message = str(error.value)
  assert "missing field(s) hidden_size" in message
  assert "unknown field(s) hiden_size" in message
  assert str(path) in message


def test_google_bert_config_without_pooler_fields_loads():
  google = {"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
            "intermediate_size": 3072, "max_position_embeddings": 512,
            "num_attention_heads": 12, "num_hidden_layers": 12, "type_vocab_size": 2,
            "vocab_size": 21128}
  config = modeling.BertConfig.from_dict(google)
  assert config.to_dict() == google


# The fields of a tiny bert_config.json.
GOOGLE_CONFIG = modeling.BertConfig(
    vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    intermediate_size=37, max_position_embeddings=64, type_vocab_size=2).to_dict()
# What transformers writes for a BERT (hfl/chinese-lert-* have these fields).
HF_EXTRA_FIELDS = {
    "architectures": ["BertForMaskedLM"], "classifier_dropout": None,
    "directionality": "bidi", "layer_norm_eps": 1e-12, "model_type": "bert",
    "output_past": True, "pad_token_id": 0, "pooler_fc_size": 768,
    "pooler_num_attention_heads": 12, "pooler_num_fc_layers": 3,
    "pooler_size_per_head": 128, "pooler_type": "first_token_transform",
    "position_embedding_type": "absolute", "torch_dtype": "float32",
    "transformers_version": "4.46.3", "use_cache": True}


def write_json(tmp_path, data, name="config.json"):
  path = tmp_path / name
  path.write_text(json.dumps(data))
  return str(path)


def test_config_is_a_value_object_checked_when_the_model_is_built():
  config = modeling.BertConfig(vocab_size=99, hidden_size=37)
  assert json.loads(config.to_json_string())["hidden_size"] == 37
  with tf.Graph().as_default():
    with pytest.raises(errors.UserError) as error:
      modeling.BertModel(config, False, tf.zeros([1, 4], tf.int32))
  assert str(error.value) == (
      "BertConfig: hidden_size 37 is not a multiple of num_attention_heads 12")


def test_config_file_errors_name_the_file_and_field(tmp_path):
  path = write_json(tmp_path, dict(GOOGLE_CONFIG, num_attention_heads=0))
  config = modeling.BertConfig.from_json_file(path)  # reading it is fine
  with tf.Graph().as_default():
    with pytest.raises(errors.UserError) as error:
      modeling.BertModel(config, False, tf.zeros([1, 4], tf.int32))
  assert str(error.value) == (
      "%s: num_attention_heads must be a positive integer, not 0" % path)


@pytest.mark.parametrize("field,value,message", [
    ("num_hidden_layers", 2.5, "num_hidden_layers must be a positive integer, not 2.5"),
    ("vocab_size", "99", "vocab_size must be a positive integer, not '99'"),
    ("type_vocab_size", True, "type_vocab_size must be a positive integer, not True"),
    ("hidden_size", 30, "hidden_size 30 is not a multiple of num_attention_heads 4"),
    ("hidden_dropout_prob", 1.0,
     "hidden_dropout_prob must be a probability in [0, 1), not 1.0"),
    ("attention_probs_dropout_prob", -0.1,
     "attention_probs_dropout_prob must be a probability in [0, 1), not -0.1"),
    ("initializer_range", 0, "initializer_range must be a positive number, not 0"),
    ("hidden_act", "swish2", "hidden_act: Unsupported activation 'swish2'"),
    ("hidden_act", 3, "hidden_act must be an activation name, not 3"),
])
def test_check_config_names_the_field(field, value, message):
  config = modeling.BertConfig.from_dict(dict(GOOGLE_CONFIG, **{field: value}))
  with pytest.raises(errors.UserError) as error:
    modeling.check_config(config, "--bert_config_file=x.json")
  assert str(error.value).startswith("--bert_config_file=x.json: " + message)


def test_check_config_against_the_vocabulary():
  config = modeling.BertConfig.from_dict(GOOGLE_CONFIG)
  modeling.check_config(config, "c.json")
  modeling.check_config(config, "c.json", vocab_size=99)
  modeling.check_config(config, "c.json", vocab_size=50)  # spare rows are fine
  with pytest.raises(errors.UserError) as error:
    modeling.check_config(config, "c.json", vocab_size=21128)
  assert str(error.value) == (
      "c.json: vocab_size 99 is smaller than the vocabulary (21128 tokens): ids "
      "from 99 on would have no embedding")
  for name in ("small", "base", "large"):
    modeling.check_config(modeling.BertConfig.from_json_file(CONFIGS[name]),
                          CONFIGS[name], vocab_size=21128)


def test_hugging_face_config_json_loads_without_warnings(tmp_path, caplog):
  path = write_json(tmp_path, dict(GOOGLE_CONFIG, **HF_EXTRA_FIELDS))
  config = modeling.BertConfig.from_json_file(path)
  assert "unknown field" not in caplog.text
  assert config.source == path
  assert config.to_dict() == dict(GOOGLE_CONFIG, **{
      key: value for key, value in HF_EXTRA_FIELDS.items()
      if key == "directionality" or key.startswith("pooler_")})


def test_unknown_config_fields_are_named_in_a_warning(tmp_path, caplog):
  path = write_json(tmp_path, dict(GOOGLE_CONFIG, hiden_size=32, rotary=True))
  config = modeling.BertConfig.from_json_file(path)
  assert "%s: unknown field(s) hiden_size, rotary ignored" % path in caplog.text
  assert config.to_dict() == GOOGLE_CONFIG


@pytest.mark.parametrize("field,value", [
    ("model_type", "roberta"), ("position_embedding_type", "relative_key"),
    ("layer_norm_eps", 1e-5), ("is_decoder", True)])
def test_hugging_face_fields_for_other_architectures_are_refused(tmp_path, field,
                                                                 value):
  path = write_json(tmp_path, dict(GOOGLE_CONFIG, **{field: value}))
  with pytest.raises(errors.UserError) as error:
    modeling.BertConfig.from_json_file(path)
  assert str(error.value).startswith("%s: %s is %r" % (path, field, value))


def test_config_saved_by_transformers_loads_without_warnings(tmp_path, caplog):
  transformers = pytest.importorskip("transformers")
  hf_config = transformers.BertConfig(
      vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
      intermediate_size=37, max_position_embeddings=64)
  hf_config.architectures = ["BertForMaskedLM"]
  hf_config.save_pretrained(str(tmp_path))
  config = modeling.BertConfig.from_json_file(str(tmp_path / "config.json"))
  assert "unknown field" not in caplog.text
  assert config.to_dict() == GOOGLE_CONFIG


def test_config_json_that_is_not_an_object_is_a_user_error(tmp_path):
  path = tmp_path / "list.json"
  path.write_text("[1, 2]")
  with pytest.raises(errors.UserError, match="list.json: not a JSON object"):
    modeling.BertConfig.from_json_file(str(path))
  path.write_text("{")
  with pytest.raises(errors.UserError, match="list.json: the config file is not valid JSON"):
    modeling.BertConfig.from_json_file(str(path))
  with pytest.raises(errors.UserError, match="absent.json: no such config file"):
    modeling.BertConfig.from_json_file(str(tmp_path / "absent.json"))


def unreachable_ops(roots):
  """Ops of the default graph from which no root can be reached."""
  seen, stack = set(), [root if isinstance(root, tf.Operation) else root.op
                        for root in roots]
  while stack:
    op = stack.pop()
    if op.name not in seen:
      seen.add(op.name)
      stack.extend(tensor.op for tensor in op.inputs)
      stack.extend(op.control_inputs)
  return [op.name for op in tf.get_default_graph().get_operations()
          if op.name not in seen]


def model_outputs(model):
  """Every tensor BertModel's accessors give."""
  return ([model.get_pooled_output(), model.get_sequence_output(),
           model.get_embedding_output(), model.get_word_embedding_output(),
           model.get_embedding_table()] + model.get_all_encoder_layers())


@pytest.mark.parametrize("shape", [[3, 7], [None, 7], [None, None]])
@pytest.mark.parametrize("is_training", [True, False])
def test_every_op_is_reachable_from_the_outputs(shape, is_training):
  """Walks the graph back from the outputs (and the variables' initialisers)."""
  config = modeling.BertConfig.from_dict(GOOGLE_CONFIG)
  with tf.Graph().as_default():
    model = modeling.BertModel(config, is_training, tf.placeholder(tf.int32, shape),
                               tf.placeholder(tf.int32, shape),
                               tf.placeholder(tf.int32, shape))
    logits = modeling.lert_pretraining_heads(
        config, model.get_sequence_output(), model.get_embedding_table(),
        tf.placeholder(tf.int32, [shape[0], 3]))
    initializers = [var.initializer for var in tf.global_variables()]
    assert unreachable_ops(
        model_outputs(model) + list(logits.values()) + initializers) == []
  # Without a mask or segment ids, the defaults that stand in are used too.
  with tf.Graph().as_default():
    model = modeling.BertModel(config, is_training, tf.placeholder(tf.int32, shape))
    initializers = [var.initializer for var in tf.global_variables()]
    assert unreachable_ops(model_outputs(model) + initializers) == []


def test_gelu_is_exact_erf():
  xs = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=np.float32)
  expected = [0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in xs]
  with tf.Graph().as_default(), tf.Session() as sess:
    got = sess.run(modeling.gelu(tf.constant(xs)))
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
  assert modeling.get_activation("gelu") is modeling.gelu
  # The tanh approximation (Google's BERT) differs measurably from the erf form.
  with tf.Graph().as_default(), tf.Session() as sess:
    approx = sess.run(modeling.gelu_tanh(tf.constant(xs)))
  assert np.max(np.abs(approx - np.array(expected))) > 1e-4


def test_unknown_activation_is_named():
  with pytest.raises(ValueError, match="swish2"):
    modeling.get_activation("swish2")


def tiny_config():
  return modeling.BertConfig(vocab_size=21128, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=4, intermediate_size=64,
                             max_position_embeddings=64, type_vocab_size=2)


def random_feed(placeholders, batch=2, seq=16, predictions=4, seed=0):
  rng = np.random.RandomState(seed)
  input_ids, input_mask, segment_ids, positions = placeholders
  ids = rng.randint(0, 21128, size=[batch, seq])
  mask = np.ones([batch, seq], dtype=np.int32)
  mask[1, 10:] = 0
  ids[1, 10:] = 0
  segments = np.zeros([batch, seq], dtype=np.int32)
  segments[:, 8:] = 1
  pos = np.array([[1, 3, 5, 7], [2, 4, 6, 9]])
  return {input_ids: ids, input_mask: mask, segment_ids: segments, positions: pos}


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
  config = tiny_config()
  prefix = str(tmp_path / "model.ckpt")
  with tf.Graph().as_default():
    model, logits, placeholders = build_pretraining_graph(config)
    feed = random_feed(placeholders)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      before = sess.run([model.get_sequence_output(), model.get_pooled_output(), logits],
                        feed)
      tf.train.Saver().save(sess, prefix)
  with tf.Graph().as_default():
    model, logits, placeholders = build_pretraining_graph(config)
    feed = random_feed(placeholders)
    tvars = tf.trainable_variables()
    assignment_map, initialized = modeling.get_assignment_map_from_checkpoint(tvars, prefix)
    assert len(assignment_map) == len(tvars)
    assert all(v.name in initialized for v in tvars)
    tf.train.init_from_checkpoint(prefix, assignment_map)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      after = sess.run([model.get_sequence_output(), model.get_pooled_output(), logits],
                       feed)
  np.testing.assert_array_equal(before[0], after[0])
  np.testing.assert_array_equal(before[1], after[1])
  for head in ("mlm", "pos", "ner", "dep"):
    np.testing.assert_array_equal(before[2][head], after[2][head])


def test_padding_does_not_change_unpadded_outputs():
  config = tiny_config()
  with tf.Graph().as_default():
    model, _, placeholders = build_pretraining_graph(config)
    feed = random_feed(placeholders)
    other = dict(feed)
    ids = feed[placeholders[0]].copy()
    ids[1, 10:] = 777  # different tokens in the padding
    other[placeholders[0]] = ids
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      a = sess.run(model.get_sequence_output(), feed)
      b = sess.run(model.get_sequence_output(), other)
  np.testing.assert_allclose(a[1, :10], b[1, :10], atol=1e-5)


def test_masked_cross_entropy_formula():
  logits = np.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [0.5, 0.5, 3.0],
                     [1.0, 1.0, 1.0]], dtype=np.float32)
  labels = np.array([[0, 1], [2, 0]])
  weights = np.array([[1.0, 1.0], [1.0, 0.0]], dtype=np.float32)
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  ce = -log_probs[np.arange(4), labels.reshape(-1)]
  expected = (ce * weights.reshape(-1)).sum() / (weights.sum() + 1e-5)
  with tf.Graph().as_default(), tf.Session() as sess:
    loss, per_position, _ = sess.run(modeling.masked_cross_entropy(
        tf.constant(logits), tf.constant(labels), tf.constant(weights)))
  np.testing.assert_allclose(loss, expected, rtol=1e-6)
  np.testing.assert_allclose(per_position, ce, rtol=1e-6)


@pytest.mark.parametrize("end", [333000, 666000, 1000000, 10])
def test_lip_weights_at_known_steps(end):
  steps = [0, end // 2, end, 2 * end]
  expected = [0.0, (end // 2) / float(end), 1.0, 1.0]
  with tf.Graph().as_default(), tf.Session() as sess:
    step = tf.placeholder(tf.int64, [])
    weight = modeling.lip_weights(step, {"pos": end})["pos"]
    got = [sess.run(weight, {step: s}) for s in steps]
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_lip_end_zero_means_full_weight_from_start():
  with tf.Graph().as_default(), tf.Session() as sess:
    weights = modeling.lip_weights(tf.constant(0, tf.int64),
                                   {"pos": 0, "ner": 0, "dep": 100})
    assert sess.run(weights["pos"]) == 1.0
    assert sess.run(weights["dep"]) == 0.0


def test_paper_lip_end_steps():
  assert dict(linguistics.PAPER_LIP_END_STEPS) == {
      "pos": 333000, "ner": 666000, "dep": 1000000}


def test_gather_indexes():
  sequence = np.arange(2 * 5 * 3, dtype=np.float32).reshape(2, 5, 3)
  positions = np.array([[0, 4], [1, 2]])
  with tf.Graph().as_default(), tf.Session() as sess:
    got = sess.run(modeling.gather_indexes(tf.constant(sequence), tf.constant(positions)))
  np.testing.assert_array_equal(got, np.stack([sequence[0, 0], sequence[0, 4],
                                               sequence[1, 1], sequence[1, 2]]))


def test_bert_api_accessors_and_shapes():
  config = tiny_config()
  with tf.Graph().as_default():
    model, logits, _ = build_pretraining_graph(config)
    assert model.get_sequence_output().shape.as_list() == [2, 16, 32]
    assert model.get_pooled_output().shape.as_list() == [2, 32]
    assert len(model.get_all_encoder_layers()) == 2
    assert model.get_embedding_output().shape.as_list() == [2, 16, 32]
    assert model.get_embedding_table().shape.as_list() == [21128, 32]
    assert logits["mlm"].shape.as_list() == [8, 21128]
    assert logits["pos"].shape.as_list() == [8, 28]
    assert modeling.get_shape_list(model.get_sequence_output(), expected_rank=3) == [2, 16, 32]
    with pytest.raises(ValueError, match="rank"):
      modeling.get_shape_list(model.get_pooled_output(), expected_rank=3)


def test_heads_limited_to_tasks_still_create_all_variables():
  config = tiny_config()
  with tf.Graph().as_default():
    ids = tf.zeros([1, 8], tf.int32)
    model = modeling.BertModel(config, False, ids)
    logits = modeling.lert_pretraining_heads(
        config, model.get_sequence_output(), model.get_embedding_table(),
        tf.zeros([1, 2], tf.int32), tasks=())
    names = [v.op.name for v in tf.trainable_variables()]
  assert sorted(logits) == ["mlm"]
  for task in linguistics.TASKS:
    assert "cls/predictions/output_%s_layer/kernel" % task in names


def test_agrees_with_transformers_bert_for_masked_lm():
  """Same random weights in HF's BertForMaskedLM and in our graph: same outputs."""
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  from lert.checkpoints import checkpoint_names
  import tokenization

  torch.manual_seed(0)
  hf_config = transformers.BertConfig(
      vocab_size=21128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
      intermediate_size=64, hidden_act="gelu", max_position_embeddings=64,
      type_vocab_size=2, layer_norm_eps=1e-12, hidden_dropout_prob=0.0,
      attention_probs_dropout_prob=0.0)
  model = transformers.BertForMaskedLM(hf_config).eval()
  with torch.no_grad():  # random LayerNorm and bias values too, not just the init
    for name, parameter in model.named_parameters():
      parameter.add_(0.05 * torch.randn_like(parameter))
  weights = {k: v.numpy() for k, v in model.state_dict().items()}
  # BertForMaskedLM has no pooler; ours always builds one.
  weights["bert.pooler.dense.weight"] = np.eye(32, dtype=np.float32)
  weights["bert.pooler.dense.bias"] = np.zeros(32, np.float32)
  tf_values = checkpoint_names.hf_to_tf(weights).variables

  tokenizer = tokenization.FullTokenizer(os.path.join(REPO_ROOT, "vocab.txt"))
  texts = ["哈工大位于冰城哈尔滨。", "LERT是HFL的pre-trained model，支持POS tagging！"]
  rows = [tokenizer.convert_tokens_to_ids(["[CLS]"] + tokenizer.tokenize(t) + ["[SEP]"])
          for t in texts]
  length = max(len(r) for r in rows) + 3  # every row padded
  ids = np.array([r + [0] * (length - len(r)) for r in rows], np.int32)
  mask = np.array([[1] * len(r) + [0] * (length - len(r)) for r in rows], np.int32)
  segments = np.zeros_like(ids)
  segments[1, 5:len(rows[1])] = 1

  config = modeling.BertConfig.from_dict({
          "vocab_size": 21128, "hidden_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
          "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
          "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02})
  with tf.Graph().as_default():
    bert = modeling.BertModel(config, False, tf.constant(ids), tf.constant(mask),
                              tf.constant(segments))
    positions = np.tile(np.arange(length), [2, 1])
    logits = modeling.lert_pretraining_heads(
        config, bert.get_sequence_output(), bert.get_embedding_table(),
        tf.constant(positions), tasks=())
    log_probs = tf.reshape(tf.nn.log_softmax(logits["mlm"]), [2, length, -1])
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for var in tf.global_variables():
        if "_layer/" not in var.op.name:  # the linguistic heads: not in BERT
          var.load(tf_values[var.op.name], sess)
      sequence, mlm = sess.run([bert.get_sequence_output(), log_probs])

  with torch.no_grad():
    out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                attention_mask=torch.tensor(mask, dtype=torch.long),
                token_type_ids=torch.tensor(segments, dtype=torch.long),
                output_hidden_states=True)
  expected_sequence = out.hidden_states[-1].numpy()
  expected_mlm = torch.log_softmax(out.logits, dim=-1).numpy()
  real = mask.astype(bool)
  np.testing.assert_allclose(sequence[real], expected_sequence[real], atol=1e-4)
  np.testing.assert_allclose(mlm[real], expected_mlm[real], atol=1e-4)
  # padding positions too (both compute them with the same masked attention)
  np.testing.assert_allclose(sequence, expected_sequence, atol=1e-4)


def test_masked_cross_entropy_fused_kernel_and_one_hot_agree():
  """The fused sparse kernel (CPUs, GPUs) and the one-hot product (TPUs): the same
  loss and gradient."""
  rng = np.random.RandomState(3)
  logits = rng.randn(12, 500).astype(np.float32) * 4
  labels = rng.randint(0, 500, (3, 4))
  weights = (rng.rand(3, 4) > 0.3).astype(np.float32)
  with tf.Graph().as_default(), tf.Session() as sess:
    logits_t = tf.constant(logits)
    outputs = []
    for one_hot in (False, True):
      loss, per_position, log_probs = modeling.masked_cross_entropy(
          logits_t, tf.constant(labels), tf.constant(weights), one_hot_labels=one_hot)
      outputs.append(sess.run([loss, per_position, log_probs,
                               tf.gradients(loss, logits_t)[0]]))
  for first, second in zip(*outputs):
    np.testing.assert_allclose(first, second, rtol=1e-5, atol=1e-7)
  log_probs = logits - np.log(np.exp(logits.astype(np.float64)).sum(-1, keepdims=True))
  np.testing.assert_allclose(outputs[0][1], -log_probs[np.arange(12), labels.reshape(-1)],
                             rtol=1e-5)


def test_fused_and_separate_qkv_projections_agree(monkeypatch):
  """TF 2.x fuses the self-attention projections, TF 1.x does not: same math,
  same variables, both paths checked in every environment."""
  rng = np.random.RandomState(3)
  inputs = rng.randn(2, 5, 16).astype(np.float32)
  values = {}
  for fuse in (True, False):
    monkeypatch.setattr(modeling, "_FUSE_QKV", fuse)
    with tf.Graph().as_default():
      tf.set_random_seed(1)
      tensor = tf.constant(inputs)
      output = modeling.attention_layer(tensor, tensor, num_attention_heads=2,
                                        size_per_head=8)
      grads = tf.gradients(tf.reduce_sum(output ** 2), tf.trainable_variables())
      names = sorted(v.op.name for v in tf.trainable_variables())
      with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values[fuse] = sess.run([output] + grads)
      assert names == ["key/bias", "key/kernel", "query/bias", "query/kernel",
                       "value/bias", "value/kernel"]
  for a, b in zip(values[True], values[False]):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dropout_rate_and_scale_on_both_halves_of_each_random_word():
  """16 random bits per unit: the rounded rate at even and odd positions alike
  (each 32-bit word serves two), kept units scaled so the mean is kept, and the
  gradient passes only through kept units."""
  with tf.Graph().as_default(), tf.Session() as sess:
    tf.set_random_seed(5)
    inputs = tf.ones([999, 1001])  # odd count: the last word is half used
    outputs = modeling.dropout(inputs, 0.1)
    values, grad = sess.run([outputs, tf.gradients(tf.reduce_sum(outputs), inputs)[0]])
  dropped = values.reshape(-1) == 0
  sigma = math.sqrt(0.1 * 0.9 / (dropped.size / 2))
  for half in (dropped[0::2], dropped[1::2]):
    assert abs(half.mean() - 6554 / 65536.0) < 5 * sigma
  scale = 65536 / (65536 - 6554.0)
  np.testing.assert_allclose(values.reshape(-1)[~dropped], scale, rtol=1e-6)
  np.testing.assert_allclose(grad, values, rtol=1e-6)
  assert modeling.dropout(inputs, 0.0) is inputs
  with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\), got 1.0"):
    modeling.dropout(inputs, 1.0)
