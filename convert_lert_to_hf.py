# coding=utf-8
"""Converts a LERT (or Google-BERT-family) TF checkpoint to a Hugging Face directory.

  python convert_lert_to_hf.py --checkpoint chinese_lert_base/lert_model.ckpt \
    --output_dir chinese-lert-base-hf

`--config` and `--vocab` default to `lert_config.json` (or `bert_config.json`)
and `vocab.txt` next to the checkpoint, as in HFL's release zips.

The directory gets:
  config.json, vocab.txt, tokenizer_config.json, special_tokens_map.json
  model.safetensors        encoder + pooler + MLM head: loads into
                           transformers' BertForMaskedLM / BertModel / Bert*
  lert_heads.safetensors   the POS/NER/DEP heads, with their label inventories;
  lert_heads_config.json   lert_heads_torch.py loads and applies them. A head
                           a training checkpoint never updated (its data
                           labelled no such tags) is left out and reported.

Needs TensorFlow, numpy and the safetensors package (no torch): safetensors
files are written by lert.checkpoints.formats.  Optimizer slots, the global
step and Google's NSP head are left out and reported.
"""

import argparse
import collections
import os
import sys

from lert.checkpoints import checkpoint_names
from lert import errors
from lert import fileio
from lert.checkpoints import formats
from lert.checkpoints import inventory
from lert import linguistics
import modeling
from lert import settings
from lert.checkpoints import tf_checkpoints
# TF activation names -> transformers' names of the same function.
_HF_ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_new", "gelu_tanh": "gelu_new",
                   "relu": "relu", "tanh": "tanh", "linear": "linear"}
SPECIAL_TOKENS = collections.OrderedDict([
    ("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"),
    ("cls_token", "[CLS]"), ("mask_token", "[MASK]")])

def hf_config_dict(bert_config):
  """transformers' config.json for BertForMaskedLM from a BertConfig."""
  act = bert_config.hidden_act
  if act not in _HF_ACTIVATIONS:
    raise errors.UserError("hidden_act %r has no transformers equivalent (supported: %s)"
                           % (act, ", ".join(sorted(_HF_ACTIVATIONS))))
  config = collections.OrderedDict([
      ("architectures", ["BertForMaskedLM"]),
      ("model_type", "bert"),
      ("attention_probs_dropout_prob", bert_config.attention_probs_dropout_prob),
      ("classifier_dropout", None),
      ("hidden_act", _HF_ACTIVATIONS[act]),
      ("hidden_dropout_prob", bert_config.hidden_dropout_prob),
      ("hidden_size", bert_config.hidden_size),
      ("initializer_range", bert_config.initializer_range),
      ("intermediate_size", bert_config.intermediate_size),
      ("layer_norm_eps", 1e-12),  # modeling.layer_norm's epsilon
      ("max_position_embeddings", bert_config.max_position_embeddings),
      ("num_attention_heads", bert_config.num_attention_heads),
      ("num_hidden_layers", bert_config.num_hidden_layers),
      ("pad_token_id", 0),
      ("position_embedding_type", "absolute"),
      ("type_vocab_size", bert_config.type_vocab_size),
      ("use_cache", True),
      ("vocab_size", bert_config.vocab_size),
  ])
  # HFL's own HF configs keep the (unused) pooler_* and directionality fields.
  for key, value in sorted(getattr(bert_config, "ignored_fields", {}).items()):
    config[key] = value
  return config


def tokenizer_files(do_lower_case, max_length):
  """(tokenizer_config.json, special_tokens_map.json) contents for BertTokenizer."""
  config = collections.OrderedDict([
      ("tokenizer_class", "BertTokenizer"),
      ("do_lower_case", do_lower_case),
      ("tokenize_chinese_chars", True),
      ("strip_accents", None),
      ("model_max_length", max_length),
      ("clean_up_tokenization_spaces", True)])
  config.update(SPECIAL_TOKENS)
  return config, collections.OrderedDict(SPECIAL_TOKENS)


def _default_next_to(prefix, names, what):
  directory = os.path.dirname(prefix)
  for name in names:
    path = os.path.join(directory, name)
    if os.path.exists(path):
      return path
  raise errors.UserError("no %s given and none next to the checkpoint (tried %s)" % (
      what, ", ".join(os.path.join(directory, n) for n in names)))


def convert(checkpoint, output_dir, config_file=None, vocab_file=None,
            do_lower_case=True):
  """Writes the Hugging Face directory for a TF checkpoint; returns a ConversionReport.

  Args:
    checkpoint: checkpoint prefix, or a directory holding one.
    output_dir: created if needed; files in it are overwritten.
    config_file: lert_config.json / bert_config.json (default: next to the checkpoint).
    vocab_file: vocab.txt (default: next to the checkpoint).
    do_lower_case: written into tokenizer_config.json.

  Raises:
    ValueError: a variable's shape differs from the config (named), the
      vocabulary disagrees with the config or the embeddings, or encoder
      variables are missing.
  """
  prefix = tf_checkpoints.find_checkpoint(checkpoint)
  config_file = config_file or _default_next_to(
      prefix, ("lert_config.json", "bert_config.json"), "config")
  vocab_file = vocab_file or _default_next_to(prefix, ("vocab.txt",), "vocab")
  bert_config = modeling.BertConfig.from_json_file(config_file)

  shapes = tf_checkpoints.checkpoint_shapes(prefix)
  expected = inventory.model_variable_shapes(bert_config)
  checkpoint_names.check_vocab(
      vocab_file, bert_config.vocab_size, shapes.get("bert/embeddings/word_embeddings"),
      "bert/embeddings/word_embeddings (checkpoint %s)" % prefix)
  missing = checkpoint_names.check_shapes(shapes, expected, "checkpoint %s" % prefix)
  missing = checkpoint_names.missing_consequences(
      missing, "not written; transformers initialises missing MLM weights "
      "randomly, and lert_heads_torch has no head for such a task")

  tf_vars = tf_checkpoints.read_checkpoint(prefix)
  conversion = checkpoint_names.tf_to_hf(tf_vars)
  # A head that was never trained holds its random initialisation: exporting it
  # would hand out random tags as LERT's.
  untrained = checkpoint_names.untrained_heads(tf_vars, tf_vars.__getitem__)
  skipped = list(conversion.skipped)
  for task in untrained:
    for leaf, hf_leaf in (("kernel", "weight"), ("bias", "bias")):
      if conversion.heads.pop("%s.%s" % (task, hf_leaf), None) is not None:
        skipped.append((checkpoint_names.heads_variable(task, leaf),
                        "the %s head was never trained (its optimizer slot is absent "
                        "or zero: the data labelled no %s); not exported"
                        % (task.upper(), task.upper())))
  heads = [task for task in linguistics.TASKS
           if "%s.weight" % task in conversion.heads]
  for task in linguistics.TASKS:
    if ("%s.weight" % task in conversion.heads) != ("%s.bias" % task in conversion.heads):
      raise errors.UserError("%s: the %s head has only one of %s, %s" % (
          prefix, task, checkpoint_names.heads_variable(task, "kernel"),
          checkpoint_names.heads_variable(task, "bias")))

  if not os.path.isdir(output_dir):
    os.makedirs(output_dir)
  formats.save_safetensors(
      os.path.join(output_dir, checkpoint_names.HF_WEIGHTS_FILE), conversion.weights)
  heads_path = os.path.join(output_dir, checkpoint_names.HEADS_FILE)
  heads_config_path = os.path.join(output_dir, checkpoint_names.HEADS_CONFIG_FILE)
  if heads:
    formats.save_safetensors(heads_path, conversion.heads)
    formats.write_json(heads_config_path, checkpoint_names.heads_config(
        bert_config.hidden_size, heads, source=os.path.basename(prefix)))
  else:
    # A stale heads file from an earlier conversion would pair with other weights.
    for path in (heads_path, heads_config_path):
      if os.path.exists(path):
        os.remove(path)
  formats.write_json(os.path.join(output_dir, checkpoint_names.HF_CONFIG_FILE),
                     hf_config_dict(bert_config))
  tokenizer_config, special_tokens = tokenizer_files(
      do_lower_case, bert_config.max_position_embeddings)
  formats.write_json(os.path.join(output_dir, "tokenizer_config.json"),
                     tokenizer_config)
  formats.write_json(os.path.join(output_dir, "special_tokens_map.json"),
                     special_tokens)
  vocab_out = os.path.join(output_dir, "vocab.txt")
  if os.path.abspath(vocab_file) != os.path.abspath(vocab_out):
    fileio.write_atomically(vocab_out, fileio.read_bytes(vocab_file))

  converted = []
  for name in sorted(tf_vars):
    mapping = checkpoint_names.tf_name_to_hf(name)
    if mapping is None or checkpoint_names.is_training_state(name):
      continue
    if mapping.group == checkpoint_names.HEADS:
      if mapping.name not in conversion.heads:
        continue  # never trained, reported as skipped
      converted.append((name, "%s:%s" % (checkpoint_names.HEADS_FILE, mapping.name)))
    elif mapping.group != checkpoint_names.NSP:
      converted.append((name, mapping.name))
  return checkpoint_names.ConversionReport(prefix, converted, heads, missing, skipped)


def _bool(text):
  if text.lower() in ("true", "1", "yes"):
    return True
  if text.lower() in ("false", "0", "no"):
    return False
  raise argparse.ArgumentTypeError("expected true or false, got %r" % text)


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--checkpoint", required=True,
                      help="TF checkpoint prefix, or a directory holding one")
  parser.add_argument("--output_dir", required=True, help="Hugging Face directory to write")
  parser.add_argument("--config", default=None,
                      help="model config JSON (default: next to the checkpoint)")
  parser.add_argument("--vocab", default=None,
                      help="vocab.txt (default: next to the checkpoint)")
  parser.add_argument("--do_lower_case", type=_bool, default=True,
                      help="tokenizer lower-cases input (true for LERT); true/false")
  args = parser.parse_args(argv)
  report = convert(args.checkpoint, args.output_dir, config_file=args.config,
                   vocab_file=args.vocab, do_lower_case=args.do_lower_case)
  print(checkpoint_names.format_report(report))
  print("wrote %s" % args.output_dir)
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
