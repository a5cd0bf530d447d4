# coding=utf-8
"""Imports a Hugging Face BERT/LERT directory as a TF checkpoint with LERT's names.

  python convert_hf_to_lert.py --hf_dir chinese-lert-base --output_dir lert_tf
  python run_pretraining.py --init_checkpoint lert_tf/lert_model.ckpt \
    --bert_config_file lert_tf/lert_config.json ...

Reads config.json, vocab.txt and the weights (`model.safetensors`, a sharded
`model.safetensors.index.json`, or `pytorch_model.bin`, which needs torch),
plus `lert_heads.safetensors` / `lert_heads_config.json` when present (see
convert_lert_to_hf.py).  Writes `<output_dir>/lert_model.ckpt.*` (and its
`checkpoint` state file), `lert_config.json` and `vocab.txt`.

Works for BertForMaskedLM, BertForPreTraining and BertModel directories (HF's
`hfl/chinese-*` releases included); weights that are absent (the pooler of a
BertForMaskedLM, the MLM head of a BertModel, the linguistic heads) are
reported, and the scripts here initialise them freshly when the checkpoint is
used as `init_checkpoint`.
"""

import collections
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert import errors
from lert import fileio
from lert.checkpoints import formats
from lert.checkpoints import inventory
from lert import linguistics
from lert import settings
import modeling

# transformers' BertConfig defaults, used for fields a config.json leaves out.
_HF_DEFAULTS = collections.OrderedDict([
    ("vocab_size", 30522), ("hidden_size", 768), ("num_hidden_layers", 12),
    ("num_attention_heads", 12), ("intermediate_size", 3072), ("hidden_act", "gelu"),
    ("hidden_dropout_prob", 0.1), ("attention_probs_dropout_prob", 0.1),
    ("max_position_embeddings", 512), ("type_vocab_size", 2),
    ("initializer_range", 0.02)])
# transformers' activation names -> modeling.py's names of the same function.
_TF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_new",
                   "gelu_pytorch_tanh": "gelu_new", "relu": "relu", "tanh": "tanh",
                   "linear": "linear"}
CHECKPOINT_NAME = "lert_model.ckpt"


def bert_config_from_hf(hf_config, source):
  """A modeling.BertConfig from a transformers config.json dict.

  Fields the file leaves out take transformers' defaults.

  Raises:
    errors.UserError: naming `source` and the field, for what modeling.py
      cannot build (another model type, relative positions, another
      LayerNorm epsilon or activation) or a config that builds no model.
  """
  fields = dict(hf_config)
  for key, default in _HF_DEFAULTS.items():
    fields.setdefault(key, default)
  if fields["hidden_act"] not in _TF_ACTIVATIONS:
    raise errors.UserError("%s: hidden_act %r is not supported (supported: %s)" % (
        source, fields["hidden_act"], ", ".join(sorted(_TF_ACTIVATIONS))))
  fields["hidden_act"] = _TF_ACTIVATIONS[fields["hidden_act"]]
  config = modeling.BertConfig.from_dict(fields, source=source)
  modeling.check_config(config, source)
  return config


def read_hf_weights(model_dir):
  """({key: numpy array}, file description) of a Hugging Face model directory."""
  safetensors_path = os.path.join(model_dir, checkpoint_names.HF_WEIGHTS_FILE)
  index_path = os.path.join(model_dir, checkpoint_names.HF_WEIGHTS_INDEX_FILE)
  bin_path = os.path.join(model_dir, checkpoint_names.HF_BIN_FILE)
  if os.path.exists(safetensors_path):
    return formats.load_safetensors(safetensors_path), safetensors_path
  if os.path.exists(index_path):
    weight_map = fileio.read_json(index_path, "weights index", ordered=True).get("weight_map", {})
    weights = {}
    for shard in sorted(set(weight_map.values())):
      weights.update(formats.load_safetensors(os.path.join(model_dir, shard)))
    return weights, index_path
  if os.path.exists(bin_path):
    import torch  # only pickled PyTorch weights need torch
    state = torch.load(bin_path, map_location="cpu", weights_only=True)
    weights = {}
    for key, value in state.items():
      if value.dtype == torch.bfloat16:  # numpy has no bfloat16
        value = value.float()
      weights[key] = value.numpy()
    return weights, bin_path
  raise errors.UserError("%s: no %s, %s or %s" % (
      model_dir, checkpoint_names.HF_WEIGHTS_FILE,
      checkpoint_names.HF_WEIGHTS_INDEX_FILE, checkpoint_names.HF_BIN_FILE))


def read_heads(model_dir):
  """The linguistic heads {`pos.weight`: array, ...} of a directory ({} if none).

  Raises errors.UserError when the heads' inventories or shapes do not fit this code.
  """
  heads_path = os.path.join(model_dir, checkpoint_names.HEADS_FILE)
  config_path = os.path.join(model_dir, checkpoint_names.HEADS_CONFIG_FILE)
  if not os.path.exists(heads_path):
    return {}
  if not os.path.exists(config_path):
    raise errors.UserError("%s has no %s: without it the head's label inventories "
                           "are unknown" % (heads_path, checkpoint_names.HEADS_CONFIG_FILE))
  heads = formats.load_safetensors(heads_path)
  checkpoint_names.check_heads_config(
      fileio.read_json(config_path, "heads config", ordered=True), heads, config_path)
  return heads


def write_tf_checkpoint(variables, prefix):
  """Saves {name: numpy array} as a TF checkpoint at `prefix`; returns the prefix."""
  with tf.Graph().as_default():
    assigns, feeds, var_list = [], {}, {}
    for name in sorted(variables):
      value = np.asarray(variables[name])
      var = tf.get_variable(name, shape=value.shape, dtype=tf.as_dtype(value.dtype),
                            initializer=tf.zeros_initializer(), trainable=False)
      # Fed through placeholders: constants would make the graph as big as
      # the model and hit protobuf's 2 GB limit for large models.
      placeholder = tf.placeholder(var.dtype.base_dtype, value.shape)
      assigns.append(tf.assign(var, placeholder))
      feeds[placeholder] = value
      var_list[name] = var
    saver = tf.train.Saver(var_list=var_list)
    with tf.Session() as session:
      session.run(assigns, feed_dict=feeds)
      return saver.save(session, prefix, write_meta_graph=False)


def convert(hf_dir, output_dir, checkpoint_name=CHECKPOINT_NAME):
  """Writes a TF checkpoint, lert_config.json and vocab.txt; returns a ConversionReport.

  Raises:
    errors.UserError: a weight's shape differs from config.json (the message names
      the TF variable and the Hugging Face key), the vocabulary disagrees
      with config.json or the embeddings, or encoder weights are missing.
  """
  config_path = os.path.join(hf_dir, checkpoint_names.HF_CONFIG_FILE)
  vocab_path = os.path.join(hf_dir, "vocab.txt")
  for path in (config_path, vocab_path):
    if not os.path.exists(path):
      raise errors.UserError("%s: no %s" % (hf_dir, os.path.basename(path)))
  bert_config = bert_config_from_hf(fileio.read_json(config_path, "config", ordered=True),
                                    config_path)
  weights, weights_source = read_hf_weights(hf_dir)
  heads = read_heads(hf_dir)
  conversion = checkpoint_names.hf_to_tf(weights, heads)
  variables = conversion.variables

  source_names = {}
  for key in weights:
    mapping = checkpoint_names.hf_name_to_tf(key)
    if mapping is not None:
      source_names[mapping.name] = key
  for key in heads:
    source_names[checkpoint_names.hf_name_to_tf(key, heads=True).name] = (
        "%s in %s" % (key, checkpoint_names.HEADS_FILE))
  shapes = collections.OrderedDict(
      (name, list(value.shape)) for name, value in variables.items())
  embeddings = "bert/embeddings/word_embeddings"
  checkpoint_names.check_vocab(
      vocab_path, bert_config.vocab_size, shapes.get(embeddings), "%s (%s in %s)" % (
          embeddings, source_names.get(embeddings, "?"), weights_source))
  expected = inventory.model_variable_shapes(bert_config)
  missing = checkpoint_names.check_shapes(shapes, expected, weights_source,
                                          source_names)
  missing = checkpoint_names.missing_consequences(
      missing, "not in the TF checkpoint; initialised freshly when it is used "
      "as init_checkpoint")

  if not os.path.isdir(output_dir):
    os.makedirs(output_dir)
  prefix = write_tf_checkpoint(variables, os.path.join(output_dir, checkpoint_name))
  fileio.write_atomically(os.path.join(output_dir, "lert_config.json"),
                          bert_config.to_json_string().encode("utf-8"))
  vocab_out = os.path.join(output_dir, "vocab.txt")
  if os.path.abspath(vocab_out) != os.path.abspath(vocab_path):
    fileio.write_atomically(vocab_out, fileio.read_bytes(vocab_path))

  converted = [(source_names.get(name, name), name) for name in sorted(variables)]
  tasks = [task for task in linguistics.TASKS if "%s.weight" % task in heads]
  return checkpoint_names.ConversionReport(
      "%s -> %s" % (weights_source, prefix), converted, tasks, missing,
      conversion.skipped)


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--hf_dir", required=True,
                      help="Hugging Face directory: config.json, vocab.txt, weights")
  parser.add_argument("--output_dir", required=True, help="directory for the TF checkpoint")
  parser.add_argument("--checkpoint_name", default=CHECKPOINT_NAME,
                      help="checkpoint file prefix inside output_dir")
  args = parser.parse_args(argv)
  report = convert(args.hf_dir, args.output_dir, args.checkpoint_name)
  print(checkpoint_names.format_report(report))
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
