# coding=utf-8
"""The one mapping between LERT's TF checkpoint names and Hugging Face's names.

TF (LERT's released names)                     Hugging Face (BertForMaskedLM)
bert/embeddings/word_embeddings                bert.embeddings.word_embeddings.weight
bert/embeddings/LayerNorm/{gamma,beta}         bert.embeddings.LayerNorm.{weight,bias}
bert/encoder/layer_3/attention/self/query/kernel (shape [in, out])
    -> bert.encoder.layer.3.attention.self.query.weight (shape [out, in])
bert/pooler/dense/{kernel,bias}                bert.pooler.dense.{weight,bias}
cls/predictions/transform/dense/...            cls.predictions.transform.dense...
cls/predictions/transform/LayerNorm/...        cls.predictions.transform.LayerNorm...
cls/predictions/output_bias                    cls.predictions.bias
(tied to the word embeddings)                  cls.predictions.decoder.{weight,bias}
cls/seq_relationship/output_weights [2, H]     cls.seq_relationship.weight [2, H]
cls/predictions/output_pos_layer/kernel [H,28] pos.weight [28, H] in lert_heads.safetensors

Every dense kernel is stored [in, out] by TF and [out, in] by PyTorch, so it is
transposed; embedding tables, LayerNorm vectors, biases and Google's NSP
`output_weights` (already [2, H]) are not.  The linguistic heads have no place
in BertForMaskedLM, so they live in a file of their own (HEADS_FILE) whose keys
are `<task>.weight` / `<task>.bias`, laid out like `torch.nn.Linear`.

Pure Python and numpy (no TensorFlow, no torch), so the converters, the
PyTorch module and the tests all share it; the files themselves are
lert.checkpoints.formats'.
"""

import collections
import re

import numpy as np

from lert import errors
from lert import linguistics
import tokenization

HF_WEIGHTS_FILE = "model.safetensors"
HF_WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
HF_BIN_FILE = "pytorch_model.bin"
HF_CONFIG_FILE = "config.json"
HEADS_FILE = "lert_heads.safetensors"
HEADS_CONFIG_FILE = "lert_heads_config.json"

# Groups of checkpoint variables (inspect_checkpoint shows them in this order).
ENCODER = "encoder"            # bert/...: embeddings, Transformer layers, pooler
MLM = "mlm"                    # shared transform + MLM output bias
HEADS = "linguistic heads"     # output_{pos,ner,dep}_layer
NSP = "nsp"                    # Google BERT's next-sentence head (LERT has none)
TRAINING_STATE = "training state"  # optimizer slots, global step, loss scale
UNKNOWN = "unknown"

# Optimizer slots and other training bookkeeping that a checkpoint may carry
# (optimization.py's names, Google BERT's and tf.train's).
_TRAINING_STATE = re.compile(
    r"(/adam_[mv]$|/lamb_[mv]$|/grad_accum$|/Adam(_1)?$|/Momentum$|"
    r"/ExponentialMovingAverage$|^global_step$|^beta[12]_power(_\d+)?$|"
    r"(^|/)lamb_step$|^grad_accum_micro_step$|"
    r"^loss_scale|^good_steps$|^current_loss_scale$)")

# Per-layer parts: TF sub-path under bert/encoder/layer_<i>/ -> HF sub-module.
_LAYER_PARTS = collections.OrderedDict([
    ("attention/self/query", "attention.self.query"),
    ("attention/self/key", "attention.self.key"),
    ("attention/self/value", "attention.self.value"),
    ("attention/output/dense", "attention.output.dense"),
    ("attention/output/LayerNorm", "attention.output.LayerNorm"),
    ("intermediate/dense", "intermediate.dense"),
    ("output/dense", "output.dense"),
    ("output/LayerNorm", "output.LayerNorm"),
])
# TF leaf -> (HF leaf, transpose?)
_LEAVES = {"kernel": ("weight", True), "bias": ("bias", False),
           "gamma": ("weight", False), "beta": ("bias", False)}

def heads_variable(task, leaf):
  """TF name of a linguistic head's `kernel` or `bias`."""
  return "cls/predictions/output_%s_layer/%s" % (task, leaf)


# Names outside the per-layer pattern: TF name -> (HF name, transpose?, group).
_FIXED = collections.OrderedDict()
for _tf, _hf in (("word_embeddings", "word_embeddings.weight"),
                 ("token_type_embeddings", "token_type_embeddings.weight"),
                 ("position_embeddings", "position_embeddings.weight"),
                 ("LayerNorm/gamma", "LayerNorm.weight"),
                 ("LayerNorm/beta", "LayerNorm.bias")):
  _FIXED["bert/embeddings/" + _tf] = ("bert.embeddings." + _hf, False, ENCODER)
_FIXED["bert/pooler/dense/kernel"] = ("bert.pooler.dense.weight", True, ENCODER)
_FIXED["bert/pooler/dense/bias"] = ("bert.pooler.dense.bias", False, ENCODER)
for _tf, (_leaf, _transpose) in (("dense/kernel", ("dense.weight", True)),
                                 ("dense/bias", ("dense.bias", False)),
                                 ("LayerNorm/gamma", ("LayerNorm.weight", False)),
                                 ("LayerNorm/beta", ("LayerNorm.bias", False))):
  _FIXED["cls/predictions/transform/" + _tf] = (
      "cls.predictions.transform." + _leaf, _transpose, MLM)
_FIXED["cls/predictions/output_bias"] = ("cls.predictions.bias", False, MLM)
# Google's NSP weights are stored [2, H] already (its logits use W^T).
_FIXED["cls/seq_relationship/output_weights"] = (
    "cls.seq_relationship.weight", False, NSP)
_FIXED["cls/seq_relationship/output_bias"] = ("cls.seq_relationship.bias", False, NSP)
for _task in linguistics.TASKS:
  _FIXED[heads_variable(_task, "kernel")] = (
      "%s.weight" % _task, True, HEADS)
  _FIXED[heads_variable(_task, "bias")] = (
      "%s.bias" % _task, False, HEADS)
_FIXED_BY_HF = {hf: (tf_name, transpose, group)
                for tf_name, (hf, transpose, group) in _FIXED.items()}

_TF_LAYER = re.compile(r"^bert/encoder/layer_(\d+)/(.+)/(kernel|bias|gamma|beta)$")
_HF_LAYER = re.compile(r"^bert\.encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")

# HF keys that duplicate another weight (tied) or are buffers, not parameters.
HF_DECODER_WEIGHT = "cls.predictions.decoder.weight"
HF_DECODER_BIAS = "cls.predictions.decoder.bias"
HF_WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
HF_MLM_BIAS = "cls.predictions.bias"

NameMapping = collections.namedtuple("NameMapping", ["name", "transpose", "group"])


def is_training_state(tf_name):
  """True for optimizer slots, the global step and similar non-model entries."""
  return bool(_TRAINING_STATE.search(tf_name))


def tf_name_to_hf(tf_name):
  """NameMapping(HF name, transpose?, group) of a TF variable, or None.

  For a linguistic head the name is the key in HEADS_FILE (e.g. `pos.weight`).
  """
  if tf_name in _FIXED:
    return NameMapping(*_FIXED[tf_name])
  match = _TF_LAYER.match(tf_name)
  if match and match.group(2) in _LAYER_PARTS:
    leaf, transpose = _LEAVES[match.group(3)]
    is_norm_leaf = match.group(3) in ("gamma", "beta")
    if is_norm_leaf != match.group(2).endswith("LayerNorm"):
      return None
    return NameMapping("bert.encoder.layer.%s.%s.%s" % (
        match.group(1), _LAYER_PARTS[match.group(2)], leaf), transpose, ENCODER)
  return None


def normalize_hf_name(hf_name):
  """Brings older spellings of HF BERT keys to today's.

  `BertModel` checkpoints have no `bert.` prefix, and checkpoints from
  pytorch-pretrained-bert call the LayerNorm parameters gamma/beta.
  """
  if hf_name.split(".", 1)[0] in ("embeddings", "encoder", "pooler"):
    hf_name = "bert." + hf_name
  if ".LayerNorm." in hf_name:
    hf_name = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", hf_name))
  return hf_name


def hf_name_to_tf(hf_name, heads=False):
  """NameMapping(TF name, transpose?, group) of an HF key, or None.

  `heads=True` reads `hf_name` as a key of HEADS_FILE.  Tied duplicates
  (`cls.predictions.decoder.*`) have no TF variable of their own: None.
  """
  if heads:
    entry = _FIXED_BY_HF.get(hf_name)
    return NameMapping(*entry) if entry and entry[2] == HEADS else None
  hf_name = normalize_hf_name(hf_name)
  entry = _FIXED_BY_HF.get(hf_name)
  if entry is not None and entry[2] != HEADS:
    return NameMapping(*entry)
  match = _HF_LAYER.match(hf_name)
  if not match:
    return None
  for tf_part, hf_part in _LAYER_PARTS.items():
    if hf_part == match.group(2):
      if tf_part.endswith("LayerNorm"):
        leaf = "gamma" if match.group(3) == "weight" else "beta"
      else:
        leaf = "kernel" if match.group(3) == "weight" else "bias"
      return NameMapping("bert/encoder/layer_%s/%s/%s" % (
          match.group(1), tf_part, leaf), _LEAVES[leaf][1], ENCODER)
  return None


# Second-moment slots: optimization.py's (AdamWeightDecay and LAMB both keep
# <var>/adam_v) and tf.train.AdamOptimizer's (<var>/Adam_1).
_SECOND_MOMENT_SUFFIXES = ("/adam_v", "/Adam_1")


def untrained_heads(names, load):
  """Tasks whose linguistic head a training checkpoint holds but never updated.

  Pretraining saves every head, but a head whose data carried no labels (DEP
  from jieba, say) gets no gradient: in a checkpoint with optimizer slots its
  kernel has no second-moment slot, or an all-zero one. Its weights are the
  random initialisation. A checkpoint without slots (a release) tells nothing,
  so its heads count as trained.

  Args:
    names: the checkpoint's variable names.
    load: name -> numpy array, for the slots that must be read.
  """
  names = set(names)
  suffixes = [suffix for suffix in _SECOND_MOMENT_SUFFIXES
              if any(name.endswith(suffix) for name in names)]
  if not suffixes:
    return []
  untrained = []
  for task in linguistics.TASKS:
    kernel = heads_variable(task, "kernel")
    if kernel in names and not any(np.any(load(kernel + suffix)) for suffix in suffixes
                                   if kernel + suffix in names):
      untrained.append(task)
  return untrained


def variable_group(tf_name):
  """ENCODER, MLM, HEADS, NSP, TRAINING_STATE or UNKNOWN for a TF variable name."""
  if is_training_state(tf_name):
    return TRAINING_STATE
  mapping = tf_name_to_hf(tf_name)
  return mapping.group if mapping else UNKNOWN


def _transposed(value, transpose):
  return np.ascontiguousarray(value.T) if transpose else value


# --- Whole state dicts ---------------------------------------------------------------

HfConversion = collections.namedtuple("HfConversion", ["weights", "heads", "skipped"])
TfConversion = collections.namedtuple("TfConversion", ["variables", "skipped"])


def tf_to_hf(tf_vars):
  """Splits TF variables {name: array} into HF weights and linguistic heads.

  Returns HfConversion(weights {HF name: array} for BertForMaskedLM incl. the
  pooler, heads {`pos.weight`...: array}, skipped [(TF name, reason)]).
  """
  weights, heads, skipped = {}, {}, []
  for name in sorted(tf_vars):
    value = np.asarray(tf_vars[name])
    if is_training_state(name):
      skipped.append((name, "training state, not model weights"))
      continue
    mapping = tf_name_to_hf(name)
    if mapping is None:
      skipped.append((name, "unknown variable, no Hugging Face name"))
    elif mapping.group == NSP:
      skipped.append((name, "next-sentence head: BertForMaskedLM has none"))
    elif mapping.group == HEADS:
      heads[mapping.name] = _transposed(value, mapping.transpose)
    else:
      weights[mapping.name] = _transposed(value, mapping.transpose)
  return HfConversion(weights, heads, skipped)


def tf_to_hf_state_dict(tf_vars, with_tied_copies=False):
  """{HF name: array} of BertForMaskedLM (plus `bert.pooler.*`) from TF variables.

  Linguistic heads, NSP weights and optimizer state are left out.  With
  `with_tied_copies` the tied `cls.predictions.decoder.{weight,bias}` are
  added too, so that `model.load_state_dict(..., strict=True)` accepts it.
  """
  weights = dict(tf_to_hf(tf_vars).weights)
  if with_tied_copies:
    if HF_WORD_EMBEDDINGS in weights:
      weights[HF_DECODER_WEIGHT] = weights[HF_WORD_EMBEDDINGS]
    if HF_MLM_BIAS in weights:
      weights[HF_DECODER_BIAS] = weights[HF_MLM_BIAS]
  return weights


def hf_to_tf(hf_weights, heads=None):
  """TF variables {name: float32 array} from HF weights and optional heads.

  Returns TfConversion(variables, skipped [(HF name, reason)]).  Tied decoder
  copies are checked against the weights TF ties them to.

  Raises:
    errors.UserError: a tied copy differs from its weight (LERT cannot untie them),
      or a heads key is not `<task>.{weight,bias}`.
  """
  normalized = {}
  for name, value in hf_weights.items():
    normalized[normalize_hf_name(name)] = np.asarray(value)
  if HF_MLM_BIAS not in normalized and HF_DECODER_BIAS in normalized:
    normalized[HF_MLM_BIAS] = normalized[HF_DECODER_BIAS]  # only the copy was saved
  variables, skipped = {}, []
  for name in sorted(normalized):
    value = normalized[name]
    if name in (HF_DECODER_WEIGHT, HF_DECODER_BIAS):
      twin = HF_WORD_EMBEDDINGS if name == HF_DECODER_WEIGHT else HF_MLM_BIAS
      if twin in normalized and not np.array_equal(value, normalized[twin]):
        raise errors.UserError("%s differs from %s; LERT's MLM head ties them, so this "
                         "checkpoint cannot be converted" % (name, twin))
      skipped.append((name, "tied copy of %s" % twin))
      continue
    mapping = hf_name_to_tf(name)
    if mapping is None:
      reason = ("buffer, not a weight" if name.endswith("position_ids")
                else "unknown key, no TF name")
      skipped.append((name, reason))
      continue
    variables[mapping.name] = _as_float32(_transposed(value, mapping.transpose))
  for name in sorted(heads or {}):
    mapping = hf_name_to_tf(name, heads=True)
    if mapping is None:
      raise errors.UserError("%s: unknown key in %s (expected <task>.weight / <task>.bias "
                       "for tasks %s)" % (name, HEADS_FILE, ", ".join(linguistics.TASKS)))
    variables[mapping.name] = _as_float32(_transposed(np.asarray(heads[name]),
                                                      mapping.transpose))
  return TfConversion(variables, skipped)


def _as_float32(value):
  if np.issubdtype(value.dtype, np.floating) and value.dtype != np.float32:
    return value.astype(np.float32)
  return value


# --- Conversion checks and reports ------------------------------------------------

ConversionReport = collections.namedtuple(
    "ConversionReport", ["source", "converted", "heads", "missing", "skipped"])
ConversionReport.__doc__ = """What a conversion did.

source: what was read.  converted: [(from name, to name)].  heads: tasks whose
linguistic head was converted.  missing: [(name, consequence)] of variables the
config implies but the source lacks.  skipped: [(name, reason)] of entries in
the source that were not converted.
"""


def format_report(report):
  """The report as text, one line per missing or skipped entry."""
  lines = ["%s: %d weights converted" % (report.source, len(report.converted)),
           "linguistic heads converted: %s" % (
               ", ".join(report.heads) if report.heads else "none")]
  for title, items in (("missing from the source", report.missing),
                       ("not converted", report.skipped)):
    lines.append("%s: none" % title if not items else "%s (%d):" % (title, len(items)))
    lines.extend("  %s: %s" % item for item in items)
  return "\n".join(lines)


def check_vocab(vocab_file, config_vocab_size, word_embeddings_shape, variable_name):
  """A converted model's vocabulary file, vocab_size and embedding table must be equal.

  Not modeling.check_config's question (may every token id be embedded, `>=`):
  the converters ship `vocab_file` with the table as one model, so a table
  with rows no token names, or a config that disagrees with it, is refused.
  Errors name all three.
  """
  size = len(tokenization.load_vocab(vocab_file))
  rows = word_embeddings_shape[0] if word_embeddings_shape else None
  if size != config_vocab_size or (rows is not None and rows != size):
    raise errors.UserError(
        "vocabulary mismatch: %s has %s rows, %s has %d tokens, the config's "
        "vocab_size is %d" % (variable_name, rows, vocab_file, size,
                              config_vocab_size))


def check_shapes(shapes, expected, what, source_names=None):
  """Every variable in both must have the same shape; errors name the variable.

  Model variables (encoder, MLM, heads) in `shapes` that the config does not
  imply (e.g. more layers) are errors too.  `source_names` maps a TF name to
  the name it had in the source, shown alongside.  Returns the expected names
  that `shapes` lacks.
  """
  source_names = source_names or {}

  def label(name):
    return "%s (%s)" % (name, source_names[name]) if name in source_names else name

  model_groups = (ENCODER, MLM, HEADS)
  extra = [label(name) for name in sorted(shapes)
           if name not in expected and variable_group(name) in model_groups]
  if extra:
    raise errors.UserError("%s has variables the config does not imply (another "
                     "number of layers?): %s" % (what, ", ".join(extra)))
  wrong = ["%s: %s has %s, the config implies %s" % (
      label(name), what, list(shapes[name]), list(expected[name]))
           for name in expected
           if name in shapes and list(shapes[name]) != list(expected[name])]
  if wrong:
    raise errors.UserError("shape mismatch: " + "; ".join(wrong))
  return [name for name in expected if name not in shapes]


def _is_pooler(tf_name):
  return tf_name.startswith("bert/pooler/")


def missing_consequences(missing, target):
  """[(name, consequence)] for missing variables; raises if encoder ones are missing.

  The pooler may be missing (transformers' BertForMaskedLM has none, and no
  LERT loss trains it); the rest of the encoder may not.  `target` says what
  will stand in for missing MLM and head variables.
  """
  encoder = [n for n in missing if variable_group(n) == ENCODER and not _is_pooler(n)]
  if encoder:
    raise errors.UserError("the source lacks encoder variables the config implies: "
                           "%s" % ", ".join(encoder))
  consequences = []
  for name in missing:
    if _is_pooler(name):
      consequences.append((name, "pooler absent (a BertForMaskedLM has none): "
                           "initialised freshly wherever a pooler is built "
                           "(init_checkpoint, fine-tuning, transformers' BertModel)"))
    elif variable_group(name) == HEADS:
      consequences.append((name, "linguistic head absent: %s" % target))
    else:
      consequences.append((name, "MLM head incomplete: %s" % target))
  return consequences


# --- Heads config ------------------------------------------------------------------


def heads_config(hidden_size, tasks, source=None):
  """The JSON description written next to HEADS_FILE: inventories and layout."""
  config = collections.OrderedDict()
  config["format"] = "lert-linguistic-heads"
  config["version"] = 1
  config["hidden_size"] = hidden_size
  config["input"] = ("output of BertForMaskedLM's cls.predictions.transform "
                     "(dense, activation, LayerNorm) on each token's final hidden state")
  config["layout"] = "torch.nn.Linear: <task>.weight [num_labels, hidden_size], <task>.bias"
  config["tasks"] = list(tasks)
  config["labels"] = collections.OrderedDict(
      (task, list(linguistics.LABELS[task])) for task in tasks)
  config["released_label_prefix"] = collections.OrderedDict(
      (task, linguistics.RELEASED_PREFIX[task]) for task in tasks)
  config["tf_variables"] = collections.OrderedDict(
      (task, "cls/predictions/output_%s_layer/{kernel,bias}" % task) for task in tasks)
  if source:
    config["source"] = source
  return config


def check_heads_config(config, heads, source):
  """Checks a heads config against this code's inventories and the weights.

  Raises errors.UserError naming `source` and the task when an inventory differs
  (ids would mean other labels) or a weight has the wrong shape.
  """
  tasks = config.get("tasks")
  if not isinstance(tasks, list) or not tasks:
    raise errors.UserError("%s: no 'tasks' list" % source)
  for task in tasks:
    if task not in linguistics.LABELS:
      raise errors.UserError("%s: unknown task %r (known: %s)" % (
          source, task, ", ".join(linguistics.TASKS)))
    labels = list(config.get("labels", {}).get(task, []))
    if labels != list(linguistics.LABELS[task]):
      raise errors.UserError(
          "%s: the %s inventory %s differs from this code's %s (LERT's); the "
          "head's ids would mean other labels" % (
              source, task, labels, list(linguistics.LABELS[task])))
    expected = {"%s.weight" % task: (len(labels), config.get("hidden_size")),
                "%s.bias" % task: (len(labels),)}
    for key, shape in expected.items():
      if key not in heads:
        raise errors.UserError("%s: %s lists task %s but the weights have no %s" % (
            source, HEADS_CONFIG_FILE, task, key))
      if tuple(heads[key].shape) != shape:
        raise errors.UserError("%s: %s has shape %s, expected %s" % (
            source, key, list(heads[key].shape), list(shape)))
  extra = sorted(set(heads) - set("%s.%s" % (t, leaf) for t in tasks
                                  for leaf in ("weight", "bias")))
  if extra:
    raise errors.UserError("%s: weights %s are not described by %s" % (
        source, ", ".join(extra), HEADS_CONFIG_FILE))
