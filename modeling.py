# coding=utf-8
"""The LERT model: a BERT encoder plus LERT's pretraining heads.

The public API follows google-research/bert's `modeling.py` (BertConfig,
BertModel, get_assignment_map_from_checkpoint, get_shape_list, gelu,
layer_norm, gather_indexes, ...), so existing BERT code and checkpoints work
unchanged.  Variable names are those of HFL's released LERT checkpoints,
which are Google BERT's plus one dense layer per linguistic task:

  bert/embeddings/...            bert/encoder/layer_{i}/...   bert/pooler/dense/...
  cls/predictions/transform/...  cls/predictions/output_bias
  cls/predictions/output_{pos,ner,dep}_layer/{kernel,bias}

Shapes in comments and docstrings use one letter per dimension, always with
the same meaning:

  B  batch size
  S  sequence length; in attention F is the attending ("from") sequence and
     T the attended ("to") sequence
  N  number of attention heads
  D  size of one attention head (H / N)
  H  hidden size (config.hidden_size)
  W  width of an input that need not be H
  E  embedding size of a lookup table
  V  vocabulary size
  P  masked positions per sequence
  C  classes of an output layer

Depends on TensorFlow (through `tensorflow.compat.v1`, so the same file runs on
TF 1.15 and TF 2.x in graph mode) and on `linguistics` for the head sizes.
"""

import copy
import json
import math
import numbers
import re

import six
import tensorflow.compat.v1 as tf

from lert import errors
from lert import fileio
from lert import linguistics
# Fields of Google's bert_config.json / HFL's lert_config.json.  The
# architectural ones are required; the pooler_* and directionality fields
# appear in Google's and HFL's released configs but the model ignores them.
_REQUIRED_CONFIG_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "hidden_dropout_prob",
    "attention_probs_dropout_prob", "max_position_embeddings",
    "type_vocab_size", "initializer_range")
_IGNORED_CONFIG_FIELDS = (
    "directionality", "pooler_fc_size", "pooler_num_attention_heads",
    "pooler_num_fc_layers", "pooler_size_per_head", "pooler_type")
# Fields of a Hugging Face BERT config.json that would change the architecture,
# with the only value this module builds.
_HF_ARCHITECTURE_FIELDS = (
    ("model_type", "bert"), ("position_embedding_type", "absolute"),
    ("layer_norm_eps", 1e-12), ("is_decoder", False),
    ("add_cross_attention", False), ("tie_word_embeddings", True))
# Fields of a Hugging Face config.json that only PyTorch code or the hub uses.
_HF_OTHER_FIELDS = (
    "_name_or_path", "architectures", "bos_token_id", "classifier_dropout",
    "eos_token_id", "finetuning_task", "gradient_checkpointing", "id2label",
    "label2id", "output_past", "pad_token_id", "problem_type", "tokenizer_class",
    "torch_dtype", "transformers_version", "use_cache")
_KNOWN_CONFIG_FIELDS = frozenset(
    _REQUIRED_CONFIG_FIELDS + _IGNORED_CONFIG_FIELDS + _HF_OTHER_FIELDS +
    tuple(field for field, _ in _HF_ARCHITECTURE_FIELDS))


class BertConfig(object):
  """Configuration of a BERT/LERT encoder: a plain value object.

  Any values construct (as with Google's BertConfig); `check_config`, which
  BertModel calls, says which of them cannot build a model.
  """

  # Where the config came from, for messages: from_json_file sets the file.
  source = "BertConfig"

  def __init__(self,
               vocab_size,
               hidden_size=768,
               num_hidden_layers=12,
               num_attention_heads=12,
               intermediate_size=3072,
               hidden_act="gelu",
               hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1,
               max_position_embeddings=512,
               type_vocab_size=16,
               initializer_range=0.02):
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.hidden_act = hidden_act
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  @classmethod
  def from_dict(cls, json_object, source="config"):
    """Builds a config from the fields of a bert_config.json, lert_config.json
    or Hugging Face config.json.

    Fields that none of those has are named in a warning and ignored.

    Raises:
      errors.UserError: naming `source` and the field, when a required field
        is missing or a Hugging Face field asks for an architecture this
        module does not build.
    """
    missing = [f for f in _REQUIRED_CONFIG_FIELDS if f not in json_object]
    unknown = sorted(set(json_object) - _KNOWN_CONFIG_FIELDS)
    if missing:
      problems = "missing field(s) %s" % ", ".join(missing)
      if unknown:  # often the missing field, misspelt
        problems += "; unknown field(s) %s" % ", ".join(unknown)
      raise errors.UserError("%s: %s (a BERT/LERT config needs: %s)" % (
          source, problems, ", ".join(_REQUIRED_CONFIG_FIELDS)))
    if unknown:
      tf.logging.warning(
          "%s: unknown field(s) %s ignored (not a field of a BERT, LERT or "
          "Hugging Face BERT config)", source, ", ".join(unknown))
    for field, built in _HF_ARCHITECTURE_FIELDS:
      if field in json_object and not _same_value(json_object[field], built):
        raise errors.UserError("%s: %s is %r, but this model is built only with "
                               "%r" % (source, field, json_object[field], built))
    config = cls(**{f: json_object[f] for f in _REQUIRED_CONFIG_FIELDS})
    config.ignored_fields = {f: json_object[f] for f in _IGNORED_CONFIG_FIELDS
                             if f in json_object}
    config.source = source
    return config

  @classmethod
  def from_json_file(cls, json_file):
    """Reads a config file (see from_dict); any problem names the file."""
    if not fileio.isfile(json_file):
      raise errors.UserError("%s: no such config file" % json_file)
    data = fileio.read_json(json_file, "config file")
    if not isinstance(data, dict):
      raise errors.UserError("%s: not a JSON object of config fields" % json_file)
    return cls.from_dict(data, source=json_file)

  def to_dict(self):
    output = {f: getattr(self, f) for f in _REQUIRED_CONFIG_FIELDS}
    output.update(getattr(self, "ignored_fields", {}))
    return output

  def to_json_string(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def _same_value(value, expected):
  if isinstance(expected, float):  # layer_norm_eps, written in many ways
    return _is_real(value) and abs(value - expected) <= 1e-3 * expected
  return value == expected


def _is_real(value):
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_positive_int(value):
  return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
          and value > 0)


def check_config(config, where, vocab_size=None):
  """Checks that `config` can build a model; errors name `where` and the field.

  Args:
    config: BertConfig.
    where: what the user gave the config as (a file name, a flag), for messages.
    vocab_size: size of the vocabulary whose ids the model will read, if
      known; the embedding table needs a row for each id.

  Raises:
    errors.UserError: a size that is not a positive integer, a hidden size
      that the heads do not divide, a dropout outside [0, 1), a non-positive
      initializer range, an unknown activation, or fewer embedding rows than
      the vocabulary has tokens.
  """
  for field in ("vocab_size", "hidden_size", "num_hidden_layers",
                "num_attention_heads", "intermediate_size",
                "max_position_embeddings", "type_vocab_size"):
    value = getattr(config, field)
    if not _is_positive_int(value):
      raise errors.UserError("%s: %s must be a positive integer, not %r" % (
          where, field, value))
  if config.hidden_size % config.num_attention_heads:
    raise errors.UserError(
        "%s: hidden_size %d is not a multiple of num_attention_heads %d" % (
            where, config.hidden_size, config.num_attention_heads))
  for field in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
    value = getattr(config, field)
    if not _is_real(value) or not 0.0 <= value < 1.0:
      raise errors.UserError("%s: %s must be a probability in [0, 1), not %r" % (
          where, field, value))
  if not _is_real(config.initializer_range) or config.initializer_range <= 0:
    raise errors.UserError("%s: initializer_range must be a positive number, "
                           "not %r" % (where, config.initializer_range))
  try:
    activation = get_activation(config.hidden_act)
  except ValueError as e:
    raise errors.UserError("%s: hidden_act: %s" % (where, e))
  if activation is not None and not callable(activation):
    raise errors.UserError("%s: hidden_act must be an activation name, not %r" % (
        where, config.hidden_act))
  if vocab_size is not None and config.vocab_size < vocab_size:
    raise errors.UserError(
        "%s: vocab_size %d is smaller than the vocabulary (%d tokens): ids from "
        "%d on would have no embedding" % (where, config.vocab_size, vocab_size,
                                           config.vocab_size))


class BertModel(object):
  """BERT encoder: embeddings, a Transformer stack and the [CLS] pooler.

  Example:
    model = BertModel(config, is_training, input_ids, input_mask, segment_ids)
    sequence = model.get_sequence_output()   # [B, S, H]
    pooled = model.get_pooled_output()       # [B, H]
  """

  def __init__(self,
               config,
               is_training,
               input_ids,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=False,
               scope=None):
    check_config(config, config.source)
    config = copy.deepcopy(config)
    if not is_training:
      config.hidden_dropout_prob = 0.0
      config.attention_probs_dropout_prob = 0.0

    assert_rank(input_ids, 2)
    if input_mask is None:
      input_mask = tf.ones_like(input_ids, dtype=tf.int32)
    if token_type_ids is None:
      token_type_ids = tf.zeros_like(input_ids, dtype=tf.int32)

    with tf.variable_scope(scope, default_name="bert"):
      with tf.variable_scope("embeddings"):
        (self.word_embedding_output, self.embedding_table) = embedding_lookup(
            input_ids=input_ids,
            vocab_size=config.vocab_size,
            embedding_size=config.hidden_size,
            initializer_range=config.initializer_range,
            word_embedding_name="word_embeddings",
            use_one_hot_embeddings=use_one_hot_embeddings)
        self.embedding_output = embedding_postprocessor(
            input_tensor=self.word_embedding_output,
            use_token_type=True,
            token_type_ids=token_type_ids,
            token_type_vocab_size=config.type_vocab_size,
            token_type_embedding_name="token_type_embeddings",
            use_position_embeddings=True,
            position_embedding_name="position_embeddings",
            initializer_range=config.initializer_range,
            max_position_embeddings=config.max_position_embeddings,
            dropout_prob=config.hidden_dropout_prob)

      with tf.variable_scope("encoder"):
        attention_mask = create_attention_mask_from_input_mask(
            input_ids, input_mask)
        self.all_encoder_layers = transformer_model(
            input_tensor=self.embedding_output,
            attention_mask=attention_mask,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            intermediate_act_fn=get_activation(config.hidden_act),
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
            initializer_range=config.initializer_range,
            do_return_all_layers=True)
      self.sequence_output = self.all_encoder_layers[-1]  # [B, S, H]

      # The pooler turns the [CLS] vector into a sentence representation for
      # fine-tuning; LERT has no NSP, so pretraining leaves it untrained.
      with tf.variable_scope("pooler"):
        first_token = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
        self.pooled_output = dense(
            first_token, config.hidden_size, activation=tf.tanh,
            kernel_initializer=create_initializer(config.initializer_range))

  def get_pooled_output(self):
    return self.pooled_output

  def get_sequence_output(self):
    """Final hidden layer, [batch_size, seq_length, hidden_size]."""
    return self.sequence_output

  def get_all_encoder_layers(self):
    return self.all_encoder_layers

  def get_embedding_output(self):
    """Embeddings (word + type + position, normalised) fed to the encoder."""
    return self.embedding_output

  def get_word_embedding_output(self):
    return self.word_embedding_output

  def get_embedding_table(self):
    return self.embedding_table


# --- Activations and small layers --------------------------------------------


def gelu(x):
  """Exact GELU, 0.5·x·(1 + erf(x/√2)), as LERT and HF's "gelu" use."""
  # x * (1/√2) equals x / √2 to an ulp; bench/bench_ops.py times both the same.
  return 0.5 * x * (1.0 + tf.math.erf(x * (1.0 / math.sqrt(2.0))))


def gelu_tanh(x):
  """The tanh approximation of GELU used by Google's original BERT code."""
  cube = tf.pow(x, 3)
  return 0.5 * x * (1.0 + tf.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * cube)))


_ACTIVATIONS = {
    "linear": None, "relu": tf.nn.relu, "gelu": gelu, "gelu_new": gelu_tanh,
    "gelu_tanh": gelu_tanh, "tanh": tf.tanh,
}


def get_activation(activation_string):
  """Maps a config's activation name to a function (None means linear)."""
  if not isinstance(activation_string, six.string_types):
    return activation_string
  if not activation_string:
    return None
  name = activation_string.lower()
  if name not in _ACTIVATIONS:
    raise ValueError("Unsupported activation %r (choose from %s)" %
                     (activation_string, ", ".join(sorted(_ACTIVATIONS))))
  return _ACTIVATIONS[name]


def create_initializer(initializer_range=0.02):
  return tf.truncated_normal_initializer(stddev=initializer_range)


def dense(input_tensor, units, activation=None, kernel_initializer=None,
          name="dense"):
  """A dense layer with variables `<name>/kernel` [in, units] and `<name>/bias`.

  Written on tf.get_variable rather than tf.layers so that names and behaviour
  are identical on TF 1.15 and TF 2.x.  Accepts rank 2 or higher inputs.
  """
  input_size = _static_width(input_tensor)
  with tf.variable_scope(name):
    kernel = tf.get_variable("kernel", [input_size, units],
                             initializer=kernel_initializer)
    bias = tf.get_variable("bias", [units], initializer=tf.zeros_initializer())
  if input_tensor.shape.ndims == 2:
    output = tf.matmul(input_tensor, kernel)
  else:
    output = tf.tensordot(input_tensor, kernel, axes=[[-1], [0]])
  output = tf.nn.bias_add(output, bias)
  return activation(output) if activation is not None else output


# Dropout decides each unit on 16 random bits, so that one 32-bit random number
# serves two units: drawing the random numbers is most of dropout's cost on
# CPUs (bench/bench_ops.py times this against tf.nn.dropout).
_DROPOUT_BITS = 16
_DROPOUT_LEVELS = 1 << _DROPOUT_BITS


def dropout(input_tensor, dropout_prob):
  """Zeroes each unit with probability `dropout_prob` and scales the rest up.

  As tf.nn.dropout, except that the probability is rounded to a multiple of
  1/65,536 (0.1 -> 0.1000061) and the kept units are scaled by one over the
  rounded keep probability, so the expected output is still the input.
  """
  if dropout_prob is None or dropout_prob == 0.0:
    return input_tensor
  if not 0.0 < dropout_prob < 1.0:
    raise ValueError("dropout probability must be in [0, 1), got %r" % (dropout_prob,))
  threshold = int(round(dropout_prob * _DROPOUT_LEVELS))
  if threshold == 0 or threshold == _DROPOUT_LEVELS:
    return tf.nn.dropout(input_tensor, rate=dropout_prob)
  size = tf.size(input_tensor)
  words = tf.random.uniform([(size + 1) // 2], minval=-2**31, maxval=2**31 - 1,
                            dtype=tf.int32)
  # Bitcast splits each int32 into two int16 halves, [ceil(n/2), 2]; an int16 is
  # below threshold - 2^15 with probability threshold / 2^16.
  halves = tf.slice(tf.reshape(tf.bitcast(words, tf.int16), [-1]), [0], [size])
  keep = tf.reshape(halves >= threshold - _DROPOUT_LEVELS // 2, tf.shape(input_tensor))
  scale = _DROPOUT_LEVELS / float(_DROPOUT_LEVELS - threshold)
  return tf.where(keep, input_tensor * scale, tf.zeros_like(input_tensor))


def layer_norm(input_tensor, name=None, epsilon=1e-12):
  """Layer normalisation over the last axis: variables `LayerNorm/{gamma,beta}`.

  epsilon 1e-12 as in BERT's checkpoints (and HF's layer_norm_eps).
  """
  with tf.variable_scope(name, default_name="LayerNorm"):
    size = _static_width(input_tensor)
    gamma = tf.get_variable("gamma", [size], initializer=tf.ones_initializer())
    beta = tf.get_variable("beta", [size], initializer=tf.zeros_initializer())
    mean, variance = tf.nn.moments(input_tensor, axes=[-1], keep_dims=True)
    normalised = (input_tensor - mean) * tf.rsqrt(variance + epsilon)
    return normalised * gamma + beta


def layer_norm_and_dropout(input_tensor, dropout_prob, name=None):
  return dropout(layer_norm(input_tensor, name), dropout_prob)


# --- Embeddings ----------------------------------------------------------------


def embedding_lookup(input_ids,
                     vocab_size,
                     embedding_size=128,
                     initializer_range=0.02,
                     word_embedding_name="word_embeddings",
                     use_one_hot_embeddings=False):
  """Looks up word embeddings; returns ([B, S, E] output, [V, E] table).

  `use_one_hot_embeddings` does the lookup as a matmul, which is faster on TPUs.
  """
  table = tf.get_variable(word_embedding_name, [vocab_size, embedding_size],
                          initializer=create_initializer(initializer_range))
  if input_ids.shape.ndims == 3:  # BERT accepted [B, S, 1]
    input_ids = tf.squeeze(input_ids, axis=[2])
  batch_size, seq_length = get_shape_list(input_ids, expected_rank=2)
  flat_ids = tf.reshape(input_ids, [-1])
  if use_one_hot_embeddings:
    output = tf.matmul(tf.one_hot(flat_ids, depth=vocab_size), table)
  else:
    output = tf.gather(table, flat_ids)
  return tf.reshape(output, [batch_size, seq_length, embedding_size]), table


def embedding_postprocessor(input_tensor,
                            use_token_type=False,
                            token_type_ids=None,
                            token_type_vocab_size=16,
                            token_type_embedding_name="token_type_embeddings",
                            use_position_embeddings=True,
                            position_embedding_name="position_embeddings",
                            initializer_range=0.02,
                            max_position_embeddings=512,
                            dropout_prob=0.1):
  """Adds token-type and position embeddings, then LayerNorm and dropout."""
  assert_rank(input_tensor, 3)
  width = _static_width(input_tensor)
  seq_length = _dim(input_tensor, 1)
  output = input_tensor
  if use_token_type:
    if token_type_ids is None:
      raise ValueError("token_type_ids must be given when use_token_type is True")
    type_table = tf.get_variable(
        token_type_embedding_name, [token_type_vocab_size, width],
        initializer=create_initializer(initializer_range))
    # The type vocabulary is tiny: a one-hot matmul beats a gather on every device.
    one_hot = tf.one_hot(tf.reshape(token_type_ids, [-1]),
                         depth=token_type_vocab_size)
    type_embeddings = tf.reshape(tf.matmul(one_hot, type_table),
                                 [_dim(input_tensor, 0), seq_length, width])
    output += type_embeddings
  if use_position_embeddings:
    if isinstance(seq_length, int) and seq_length > max_position_embeddings:
      raise ValueError("sequence length %d exceeds max_position_embeddings %d" %
                       (seq_length, max_position_embeddings))
    position_table = tf.get_variable(
        position_embedding_name, [max_position_embeddings, width],
        initializer=create_initializer(initializer_range))
    positions = tf.slice(position_table, [0, 0], [seq_length, -1])  # [S, W]
    output += tf.expand_dims(positions, 0)
  return layer_norm_and_dropout(output, dropout_prob)


# --- Attention and the Transformer -----------------------------------------------


def create_attention_mask_from_input_mask(from_tensor, to_mask):
  """[B, F] (or [B, F, W]) and a [B, T] mask -> float mask [B, F, T]."""
  assert_rank(to_mask, 2)
  to_mask = tf.cast(tf.expand_dims(to_mask, 1), tf.float32)  # [B, 1, T]
  # Every query position attends to the same keys, so broadcasting the key
  # mask over the query axis is all that is needed.
  return tf.broadcast_to(
      to_mask, [_dim(from_tensor, 0), _dim(from_tensor, 1), _dim(to_mask, 2)])


# The fused query/key/value matmul pays off on TF 2.x; on TF 1.15 its concat and
# split (and their gradients) cost more than they save: 0.39 s of a 3.8 s
# small-config step on one CPU core (bench/profile_step.py).  Same math either way.
_FUSE_QKV = not tf.__version__.startswith("1.")


def _split_heads(tensor_2d, batch_size, seq_length, num_heads, head_size):
  """[B*S, N*D] -> [B, N, S, D]."""
  tensor = tf.reshape(tensor_2d, [batch_size, seq_length, num_heads, head_size])
  return tf.transpose(tensor, [0, 2, 1, 3])


def attention_layer(from_tensor,
                    to_tensor,
                    attention_mask=None,
                    num_attention_heads=1,
                    size_per_head=512,
                    query_act=None,
                    key_act=None,
                    value_act=None,
                    attention_probs_dropout_prob=0.0,
                    initializer_range=0.02,
                    do_return_2d_tensor=False,
                    batch_size=None,
                    from_seq_length=None,
                    to_seq_length=None):
  """Multi-head scaled dot-product attention from `from_tensor` to `to_tensor`.

  Variables: query/, key/, value/ {kernel, bias}.  On TF 2.x, when the query
  and the key/value inputs are the same tensor (self-attention) the three
  projections run as one [W, 3·N·D] matmul, which is markedly faster on CPUs;
  the variables stay separate so checkpoints keep BERT's names.

  Returns [B*F, N*D] if do_return_2d_tensor else [B, F, N*D].
  """
  assert_rank(from_tensor, [2, 3])
  assert_rank(to_tensor, [2, 3])
  if from_tensor.shape.ndims == 3:
    batch_size, from_seq_length = _dim(from_tensor, 0), _dim(from_tensor, 1)
    to_seq_length = _dim(to_tensor, 1)
  elif batch_size is None or from_seq_length is None or to_seq_length is None:
    raise ValueError("With rank-2 inputs, batch_size, from_seq_length and "
                     "to_seq_length must be given.")
  from_2d = reshape_to_matrix(from_tensor)  # [B*F, W]
  to_2d = reshape_to_matrix(to_tensor)      # [B*T, W]
  width = _static_width(from_2d)
  projected = num_attention_heads * size_per_head
  initializer = create_initializer(initializer_range)

  kernels, biases = [], []
  for name in ("query", "key", "value"):
    with tf.variable_scope(name):
      kernels.append(tf.get_variable("kernel", [width, projected],
                                     initializer=initializer))
      biases.append(tf.get_variable("bias", [projected],
                                    initializer=tf.zeros_initializer()))

  if from_tensor is to_tensor and _FUSE_QKV:
    fused = tf.matmul(from_2d, tf.concat(kernels, axis=1))  # [B*F, 3*N*D]
    fused = tf.nn.bias_add(fused, tf.concat(biases, axis=0))
    # Explicit sizes: given a count, TF 1.15's split leaves a dangling Const.
    query, key, value = tf.split(fused, [projected] * 3, axis=1)
  else:
    query = tf.nn.bias_add(tf.matmul(from_2d, kernels[0]), biases[0])
    key = tf.nn.bias_add(tf.matmul(to_2d, kernels[1]), biases[1])
    value = tf.nn.bias_add(tf.matmul(to_2d, kernels[2]), biases[2])
  if query_act is not None:
    query = query_act(query)
  if key_act is not None:
    key = key_act(key)
  if value_act is not None:
    value = value_act(value)

  query = _split_heads(query, batch_size, from_seq_length,
                       num_attention_heads, size_per_head)  # [B, N, F, D]
  key = _split_heads(key, batch_size, to_seq_length,
                     num_attention_heads, size_per_head)    # [B, N, T, D]
  value = _split_heads(value, batch_size, to_seq_length,
                       num_attention_heads, size_per_head)  # [B, N, T, D]

  # Scaling the query (F·D values) is cheaper than scaling the scores (F·T).
  query *= 1.0 / math.sqrt(float(size_per_head))
  scores = tf.matmul(query, key, transpose_b=True)  # [B, N, F, T]
  if attention_mask is not None:
    # 0 where attending is allowed, -10000 where it is not.
    adder = (1.0 - tf.expand_dims(tf.cast(attention_mask, scores.dtype), 1)) * -10000.0
    scores += adder
  probs = tf.nn.softmax(scores)
  probs = dropout(probs, attention_probs_dropout_prob)

  context = tf.matmul(probs, value)               # [B, N, F, D]
  context = tf.transpose(context, [0, 2, 1, 3])   # [B, F, N, D]
  if do_return_2d_tensor:
    return tf.reshape(context, [batch_size * from_seq_length, projected])
  return tf.reshape(context, [batch_size, from_seq_length, projected])


def transformer_model(input_tensor,
                      attention_mask=None,
                      hidden_size=768,
                      num_hidden_layers=12,
                      num_attention_heads=12,
                      intermediate_size=3072,
                      intermediate_act_fn=gelu,
                      hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1,
                      initializer_range=0.02,
                      do_return_all_layers=False):
  """The post-LayerNorm Transformer encoder of BERT ("Attention is all you need").

  Returns the final layer [B, S, H], or a list of every layer's output.
  """
  if num_attention_heads <= 0 or hidden_size % num_attention_heads != 0:
    raise ValueError("hidden_size %d is not a multiple of num_attention_heads %d"
                     % (hidden_size, num_attention_heads))
  head_size = hidden_size // num_attention_heads
  batch_size, seq_length, input_width = get_shape_list(input_tensor,
                                                       expected_rank=3)
  if input_width != hidden_size:
    raise ValueError("input width %d differs from hidden_size %d" %
                     (input_width, hidden_size))
  initializer = create_initializer(initializer_range)

  # The stack works on [B*S, H] matrices: reshapes between 2D and 3D are free
  # on GPUs/CPUs but costly on TPUs, so do them only at the ends.
  layer_input = reshape_to_matrix(input_tensor)
  outputs = []
  for index in range(num_hidden_layers):
    with tf.variable_scope("layer_%d" % index):
      with tf.variable_scope("attention"):
        with tf.variable_scope("self"):
          attended = attention_layer(
              from_tensor=layer_input,
              to_tensor=layer_input,
              attention_mask=attention_mask,
              num_attention_heads=num_attention_heads,
              size_per_head=head_size,
              attention_probs_dropout_prob=attention_probs_dropout_prob,
              initializer_range=initializer_range,
              do_return_2d_tensor=True,
              batch_size=batch_size,
              from_seq_length=seq_length,
              to_seq_length=seq_length)
        with tf.variable_scope("output"):
          attended = dense(attended, hidden_size, kernel_initializer=initializer)
          attended = dropout(attended, hidden_dropout_prob)
          attention_output = layer_norm(attended + layer_input)
      with tf.variable_scope("intermediate"):
        intermediate = dense(attention_output, intermediate_size,
                             activation=intermediate_act_fn,
                             kernel_initializer=initializer)
      with tf.variable_scope("output"):
        layer_output = dense(intermediate, hidden_size,
                             kernel_initializer=initializer)
        layer_output = dropout(layer_output, hidden_dropout_prob)
        layer_output = layer_norm(layer_output + attention_output)
      layer_input = layer_output
      outputs.append(layer_output)

  final_shape = [batch_size, seq_length, hidden_size]
  if do_return_all_layers:
    return [tf.reshape(o, final_shape) for o in outputs]
  return tf.reshape(outputs[-1], final_shape)


# --- LERT's pretraining heads ------------------------------------------------------


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at `positions` [B, P] of `sequence_tensor` [B, S, W].

  Returns [B*P, W].
  """
  batch_size, seq_length, width = get_shape_list(sequence_tensor, expected_rank=3)
  offsets = tf.reshape(tf.range(0, batch_size, dtype=tf.int32) * seq_length, [-1, 1])
  flat_positions = tf.reshape(tf.cast(positions, tf.int32) + offsets, [-1])
  flat_sequence = tf.reshape(sequence_tensor, [batch_size * seq_length, width])
  return tf.gather(flat_sequence, flat_positions)


def lert_pretraining_heads(bert_config, sequence_output, embedding_table,
                           positions, tasks=linguistics.TASKS):
  """LERT's heads at the masked positions: MLM plus one dense layer per task.

  All heads share one transform (dense with the config's activation, then
  LayerNorm).  The MLM head ties its output weights to the word embeddings.
  Every linguistic head's variables are created whatever `tasks` says, so a
  checkpoint always carries all of them; logits are computed only for `tasks`.

  Args:
    bert_config: BertConfig.
    sequence_output: [B, S, H] final encoder layer.
    embedding_table: [V, H] word embeddings.
    positions: [B, P] masked positions.
    tasks: linguistic tasks whose logits to compute.

  Returns:
    dict: "mlm" -> [B*P, V] logits, and task -> [B*P, num_labels(task)].
  """
  initializer = create_initializer(bert_config.initializer_range)
  hidden = gather_indexes(sequence_output, positions)  # [B*P, H]
  with tf.variable_scope("cls/predictions"):
    with tf.variable_scope("transform"):
      hidden = dense(hidden, bert_config.hidden_size,
                     activation=get_activation(bert_config.hidden_act),
                     kernel_initializer=initializer)
      hidden = layer_norm(hidden)
    output_bias = tf.get_variable("output_bias", [bert_config.vocab_size],
                                  initializer=tf.zeros_initializer())
    logits = {"mlm": tf.nn.bias_add(
        tf.matmul(hidden, embedding_table, transpose_b=True), output_bias)}
    for task in linguistics.TASKS:
      with tf.variable_scope("output_%s_layer" % task):
        kernel = tf.get_variable(
            "kernel", [bert_config.hidden_size, linguistics.num_labels(task)],
            initializer=initializer)
        bias = tf.get_variable("bias", [linguistics.num_labels(task)],
                               initializer=tf.zeros_initializer())
      if task in tasks:
        logits[task] = tf.nn.bias_add(tf.matmul(hidden, kernel), bias)
  return logits


def masked_cross_entropy(logits, label_ids, label_weights, one_hot_labels=False):
  """sum(w·CE) / (sum(w) + 1e-5) over the masked positions, as LERT computes it.

  Args:
    logits: [B*P, C]; label_ids, label_weights: [B, P].
    one_hot_labels: pick each label's log-probability with a one-hot product,
      as BERT's TPU code does (XLA fuses it). Otherwise TF's fused sparse
      softmax cross-entropy kernel computes the loss and its gradient in one
      pass over the logits: on CPUs no [B*P, C] log-probability, one-hot or
      gather-gradient tensor is built in training, the largest ops of a small
      model's step after the output matmuls (bench/profile_step.py). Both give
      the same loss and gradient up to float rounding.
  Returns:
    (loss scalar, per-position loss [B*P], log-probabilities [B*P, C]); the
    log-probabilities cost nothing unless something reads them (evaluation).
  """
  logits = tf.cast(logits, tf.float32)
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  label_ids = tf.reshape(tf.cast(label_ids, tf.int32), [-1])
  weights = tf.reshape(tf.cast(label_weights, tf.float32), [-1])
  if one_hot_labels:
    per_position = -tf.reduce_sum(
        log_probs * tf.one_hot(label_ids, depth=_static_width(logits)), axis=-1)
  else:
    per_position = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=label_ids, logits=logits)
  loss = tf.reduce_sum(weights * per_position) / (tf.reduce_sum(weights) + 1e-5)
  return loss, per_position, log_probs


def lip_weights(global_step, end_steps):
  """LIP's task weights λ_t = clip(step / end_t, 0, 1) as float32 tensors.

  Args:
    global_step: an integer tensor.
    end_steps: dict task -> end step; 0 (or less) gives full weight from step 0.
  """
  step = tf.cast(global_step, tf.float32)
  weights = {}
  for task, end in end_steps.items():
    if end <= 0:
      weights[task] = tf.constant(1.0, tf.float32)
    else:
      weights[task] = tf.clip_by_value(step / float(end), 0.0, 1.0)
  return weights


# --- Checkpoints -----------------------------------------------------------------


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Maps checkpoint variables to the graph's variables of the same name/shape.

  Returns (assignment_map, initialized_variable_names) like google-research/bert;
  a variable present under the same name but with another shape is skipped
  here and reported by `checkpoint_mismatches`.
  """
  graph_vars = {}
  for var in tvars:
    name = re.sub(r":\d+$", "", var.name)
    graph_vars[name] = var
  assignment_map = {}
  initialized = {}
  for name, shape in tf.train.list_variables(init_checkpoint):
    var = graph_vars.get(name)
    if var is None or var.shape.as_list() != list(shape):
      continue
    assignment_map[name] = name
    initialized[name] = 1
    initialized[name + ":0"] = 1
  return assignment_map, initialized


def checkpoint_mismatches(tvars, init_checkpoint):
  """[(name, graph shape, checkpoint shape)] for same-named, different-shaped vars."""
  shapes = dict(tf.train.list_variables(init_checkpoint))
  mismatches = []
  for var in tvars:
    name = re.sub(r":\d+$", "", var.name)
    if name in shapes and var.shape.as_list() != list(shapes[name]):
      mismatches.append((name, var.shape.as_list(), list(shapes[name])))
  return mismatches


# --- Shapes ------------------------------------------------------------------------


def get_shape_list(tensor, expected_rank=None, name=None):
  """The tensor's shape as a list: Python ints where static, scalars where dynamic."""
  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)
  shape = tensor.shape.as_list()
  dynamic_indexes = [i for i, dim in enumerate(shape) if dim is None]
  if not dynamic_indexes:
    return shape
  dynamic = tf.shape(tensor)
  for index in dynamic_indexes:
    shape[index] = dynamic[index]
  return shape


def _dim(tensor, axis):
  """One dimension: a Python int where static, else a scalar tensor.

  Unlike get_shape_list, adds ops only for the dimension asked for, so that
  no unused shape ops are left in the graph.
  """
  static = tensor.shape.as_list()[axis]
  return static if static is not None else tf.shape(tensor)[axis]


def _static_width(tensor):
  """The last dimension, which variables' shapes need statically."""
  width = tensor.shape.as_list()[-1]
  if width is None:
    raise ValueError("Tensor %s needs a static last dimension, has shape %s" %
                     (tensor.name, tensor.shape))
  return width


def reshape_to_matrix(input_tensor):
  """[..., W] -> [N, W]."""
  if input_tensor.shape.ndims < 2:
    raise ValueError("Input tensor must have at least rank 2, got shape %s" %
                     input_tensor.shape)
  if input_tensor.shape.ndims == 2:
    return input_tensor
  width = input_tensor.shape[-1]
  return tf.reshape(input_tensor, [-1, width])


def reshape_from_matrix(output_tensor, orig_shape_list):
  """[N, W] -> orig_shape_list[:-1] + [W]."""
  if len(orig_shape_list) == 2:
    return output_tensor
  width = get_shape_list(output_tensor)[-1]
  return tf.reshape(output_tensor, orig_shape_list[:-1] + [width])


def assert_rank(tensor, expected_rank, name=None):
  """Raises ValueError unless the tensor's rank is (one of) `expected_rank`."""
  if isinstance(expected_rank, six.integer_types):
    expected_rank = [expected_rank]
  actual = tensor.shape.ndims
  if actual not in expected_rank:
    raise ValueError("Tensor %s has rank %d, expected one of %s (shape %s)" %
                     (name or tensor.name, actual, expected_rank, tensor.shape))
