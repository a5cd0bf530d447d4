# coding=utf-8
"""The contract between create_pretraining_data.py and run_pretraining.py.

The TFRecord feature spec (declared in record_schema.PRETRAINING), the
sidecar JSON that says how the data was made (annotator, inventories, labelled
tasks, lengths), and the small pieces of prediction I/O (`--do_predict`): reading [MASK]ed sentences, feeding
them to the estimator, and formatting the results.
"""

import json
import os

import linguistics
import record_schema

SIDECAR_SUFFIX = ".json"
# Name of a sidecar that covers every file in its directory.
DIRECTORY_SIDECAR = "lert_data.json"
MASK_TOKEN = "[MASK]"


def feature_spec(max_seq_length, max_predictions_per_seq):
  """name -> tf.io.FixedLenFeature of one pretraining instance."""
  return record_schema.PRETRAINING.tf_spec(
      max_seq_length=max_seq_length,
      max_predictions_per_seq=max_predictions_per_seq)


# --- Sidecar ------------------------------------------------------------------------


def sidecar_candidates(input_file):
  """Where the sidecar of `input_file` may be: `<file>.json`, then the directory's."""
  return [input_file + SIDECAR_SUFFIX,
          os.path.join(os.path.dirname(input_file), DIRECTORY_SIDECAR)]


def _read_json(path):
  import tensorflow.compat.v1 as tf
  with tf.gfile.GFile(path, "r") as reader:
    try:
      return json.load(reader)
    except ValueError as e:
      raise ValueError("%s: not valid JSON (%s)" % (path, e))


def load_sidecar(input_files, explicit_path=None):
  """The sidecar describing `input_files`, or None when the data has none.

  All files must agree on it: training on a mix of, say, LTP data (DEP
  labelled) and jieba data (DEP absent) would silently train DEP on zeros.
  """
  import tensorflow.compat.v1 as tf
  if explicit_path:
    return _read_json(explicit_path)
  found = {}
  for path in input_files:
    for candidate in sidecar_candidates(path):
      if tf.gfile.Exists(candidate):
        found[path] = candidate
        break
  if not found:
    tf.logging.warning(
        "No sidecar JSON found beside %s: assuming every linguistic task is "
        "labelled. Pass --data_sidecar for data made elsewhere.", input_files[0])
    return None
  missing = [p for p in input_files if p not in found]
  if missing:
    raise ValueError("%s has no sidecar (%s) while other input files do" %
                     (missing[0], " or ".join(sidecar_candidates(missing[0]))))
  sidecars = {}
  for path in sorted(set(found.values())):
    sidecars[path] = _read_json(path)
  first_path = sorted(sidecars)[0]
  first = sidecars[first_path]
  for path, sidecar in sidecars.items():
    for key in ("labelled_tasks", "max_seq_length", "max_predictions_per_seq",
                "inventories"):
      if sidecar.get(key) != first.get(key):
        raise ValueError("sidecars disagree on %r: %s has %r, %s has %r" % (
            key, first_path, first.get(key), path, sidecar.get(key)))
  first = dict(first)
  first["_path"] = first_path
  return first


def check_sidecar(sidecar, max_seq_length, max_predictions_per_seq):
  """Raises if the data was made for other lengths or other label inventories."""
  if sidecar is None:
    return
  where = sidecar.get("_path", "sidecar")
  for key, value in (("max_seq_length", max_seq_length),
                     ("max_predictions_per_seq", max_predictions_per_seq)):
    if key in sidecar and sidecar[key] != value:
      raise ValueError("%s: the data was made with %s=%s but --%s=%s" %
                       (where, key, sidecar[key], key, value))
  inventories = sidecar.get("inventories")
  if inventories is not None:
    for task in linguistics.TASKS:
      if list(inventories.get(task, [])) != list(linguistics.LABELS[task]):
        raise ValueError("%s: the %s inventory differs from this code's (%s)" %
                         (where, task, ", ".join(linguistics.LABELS[task])))
  unknown = [t for t in sidecar.get("labelled_tasks", []) if t not in linguistics.TASKS]
  if unknown:
    raise ValueError("%s: unknown labelled task(s) %s" % (where, ", ".join(unknown)))


# --- Prediction I/O -------------------------------------------------------------------


def _tokens_with_masks(text, tokenizer):
  """Tokenizes `text`, keeping each literal [MASK] as one mask token."""
  tokens = []
  pieces = text.split(MASK_TOKEN)
  for i, piece in enumerate(pieces):
    tokens.extend(tokenizer.tokenize(piece))
    if i < len(pieces) - 1:
      tokens.append(MASK_TOKEN)
  return tokens


def _instance(text, tokens, original_tokens, masked, max_seq_length,
              max_predictions_per_seq, tokenizer, where):
  tokens = tokens[:max_seq_length - 2]
  masked = [i for i in masked if i < len(tokens)]
  if not masked:
    raise ValueError("%s: no [MASK] within the first %d tokens" %
                     (where, max_seq_length - 2))
  if len(masked) > max_predictions_per_seq:
    raise ValueError("%s: %d masks, more than max_predictions_per_seq=%d" %
                     (where, len(masked), max_predictions_per_seq))
  return {
      "text": text,
      "tokens": ["[CLS]"] + tokens + ["[SEP]"],
      "input_ids": tokenizer.convert_tokens_to_ids(["[CLS]"] + tokens + ["[SEP]"]),
      "masked_lm_positions": [i + 1 for i in masked],
      "original_tokens": [original_tokens[i] for i in masked] if original_tokens else None,
  }


def read_prediction_instances(path, tokenizer, max_seq_length,
                              max_predictions_per_seq, mask_each_word=False,
                              segment=None):
  """Reads sentences for `--do_predict`.

  Without `mask_each_word` every line holds one or more literal [MASK] tokens.
  With it, every line is a plain sentence; it is segmented into words
  (`segment`, default jieba) and one instance is made per word, with all of
  that word's tokens masked (whole-word masking, as in pretraining).
  """
  instances = []
  with open(path, encoding="utf-8") as reader:
    for line_number, line in enumerate(reader, 1):
      text = line.strip()
      if not text:
        continue
      where = "%s:%d" % (path, line_number)
      if not mask_each_word:
        tokens = _tokens_with_masks(text, tokenizer)
        masked = [i for i, t in enumerate(tokens) if t == MASK_TOKEN]
        instances.append(_instance(text, tokens, None, masked, max_seq_length,
                                   max_predictions_per_seq, tokenizer, where))
        continue
      if segment is None:
        import jieba
        segment = jieba.lcut
      words = [w for w in segment(text) if w.strip()]
      word_tokens = [tokenizer.tokenize(w) for w in words]
      flat = [t for pieces in word_tokens for t in pieces]
      start = 0
      for word, pieces in zip(words, word_tokens):
        span = list(range(start, start + len(pieces)))
        start += len(pieces)
        if not span or span[-1] >= max_seq_length - 2:
          continue
        tokens = [MASK_TOKEN if i in span else t for i, t in enumerate(flat)]
        instance = _instance(text, tokens, flat, span, max_seq_length,
                             max_predictions_per_seq, tokenizer, where)
        instance["masked_word"] = word
        instances.append(instance)
  if not instances:
    raise ValueError("%s: no sentence to predict" % path)
  return instances


def prediction_input_fn_builder(instances, max_seq_length, max_predictions_per_seq,
                                pad_to_multiple=1):
  """An in-memory input_fn over prediction instances (padded to fixed shapes)."""
  import numpy as np
  import tensorflow.compat.v1 as tf
  count = len(instances)
  padded_count = -(-count // pad_to_multiple) * pad_to_multiple
  arrays = {name: np.zeros([padded_count, length], dtype=np.int32)
            for name, length in (("input_ids", max_seq_length),
                                 ("input_mask", max_seq_length),
                                 ("segment_ids", max_seq_length),
                                 ("masked_lm_positions", max_predictions_per_seq))}
  arrays["masked_lm_weights"] = np.zeros([padded_count, max_predictions_per_seq],
                                         dtype=np.float32)
  for row, instance in enumerate(instances):
    ids, positions = instance["input_ids"], instance["masked_lm_positions"]
    arrays["input_ids"][row, :len(ids)] = ids
    arrays["input_mask"][row, :len(ids)] = 1
    arrays["masked_lm_positions"][row, :len(positions)] = positions
    arrays["masked_lm_weights"][row, :len(positions)] = 1.0

  def input_fn(params):
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    return dataset.batch(params["batch_size"], drop_remainder=pad_to_multiple > 1)

  return input_fn


def format_prediction(instance, result, tokenizer):
  """One JSON record: per masked position, MLM top-k and the POS/NER/DEP tags."""
  masks = []
  for slot, position in enumerate(instance["masked_lm_positions"]):
    entry = {"position": position,
             "top_k": [{"token": tokenizer.inv_vocab[int(token_id)],
                        "prob": round(float(prob), 6)}
                       for token_id, prob in zip(result["mlm_top_ids"][slot],
                                                 result["mlm_top_probs"][slot])]}
    if instance.get("original_tokens"):
      entry["original"] = instance["original_tokens"][slot]
    for task in linguistics.TASKS:
      entry[task] = linguistics.LABELS[task][int(result["%s_ids" % task][slot])]
      entry["%s_prob" % task] = round(float(result["%s_probs" % task][slot]), 6)
    masks.append(entry)
  record = {"text": instance["text"], "tokens": instance["tokens"], "masks": masks}
  if "masked_word" in instance:
    record["masked_word"] = instance["masked_word"]
  return record

