# coding=utf-8
"""`run_pretraining.py --do_predict`: [MASK]ed sentences in, JSON lines out.

read_prediction_windows reads --predict_input_file (read_prediction_instances:
literal [MASK]s, or each word masked in turn) and cuts sentences longer than
the model into windows (fit_windows); prediction_heads refuses a checkpoint
whose predictions would come from random weights and says which linguistic
heads it has; prediction_input_fn_builder feeds the instances to the
estimator, whose model_fn returns prediction_tensors; format_prediction makes
each result a JSON record.
"""

import io
import os

import numpy as np
import tensorflow.compat.v1 as tf

from lert.checkpoints import checkpoint_names
from lert import errors
from lert import linguistics
import modeling
import tokenization

MASK_TOKEN = "[MASK]"


def _tokens_with_masks(text, tokenizer):
  """Tokenizes `text`, keeping each literal [MASK] as one mask token."""
  tokens = []
  pieces = text.split(MASK_TOKEN)
  for i, piece in enumerate(pieces):
    tokens.extend(tokenizer.tokenize(piece))
    if i < len(pieces) - 1:
      tokens.append(MASK_TOKEN)
  return tokens


def _instance(text, tokens, original_tokens, masked, tokenizer):
  """A whole sentence with its masks; fit_windows fits it to the model."""
  tokens = ["[CLS]"] + tokens + ["[SEP]"]
  return {
      "text": text,
      "tokens": tokens,
      "input_ids": tokenization.convert_tokens_to_ids(tokenizer.vocab, tokens),
      "masked_lm_positions": [i + 1 for i in masked],
      "original_tokens": [original_tokens[i] for i in masked] if original_tokens else None,
  }


def read_prediction_instances(path, tokenizer, mask_each_word=False, segment=None):
  """Reads the sentences of `--predict_input_file`, whole (none is cut to a length).

  Without `mask_each_word` every line holds one or more literal [MASK] tokens.
  With it, every line is a plain sentence; it is segmented into words
  (`segment`, default jieba) and one instance is made per word, with all of
  that word's tokens masked (whole-word masking, as in pretraining).
  An instance holds `text`, `tokens` ([CLS] ... [SEP]) and their `input_ids`,
  `masked_lm_positions` (in `tokens`) and `original_tokens` (the masked
  word's tokens, or None).

  Raises errors.UserError for a missing, non-UTF-8 or empty file, and names
  the line of one without a [MASK] that needs one.
  """
  if not os.path.isfile(path):
    raise errors.UserError("--predict_input_file %s does not exist" % path)
  with io.open(path, encoding="utf-8") as reader:
    try:
      lines = list(reader)
    except UnicodeDecodeError as e:
      raise errors.UserError("%s: not UTF-8 text (%s)" % (path, e))
  instances = []
  for line_number, line in enumerate(lines, 1):
    text = line.strip()
    if not text:
      continue
    if not mask_each_word:
      if MASK_TOKEN not in text:
        raise errors.UserError("%s:%d: no %s (plain sentences need --mask_each_word)" %
                               (path, line_number, MASK_TOKEN))
      tokens = _tokens_with_masks(text, tokenizer)
      masked = [i for i, t in enumerate(tokens) if t == MASK_TOKEN]
      instances.append(_instance(text, tokens, None, masked, tokenizer))
      continue
    if segment is None:
      import jieba
      segment = jieba.lcut
    words = [w for w in segment(text) if w.strip()]
    word_tokens = [tokenizer.tokenize(w) for w in words]
    flat = [t for pieces in word_tokens for t in pieces]
    start = 0
    for word, pieces in zip(words, word_tokens):
      end = start + len(pieces)
      span = list(range(start, end))
      if span:  # else the tokenizer drops the whole word (control characters)
        tokens = flat[:start] + [MASK_TOKEN] * len(pieces) + flat[end:]
        instance = _instance(text, tokens, flat, span, tokenizer)
        instance["masked_word"] = word
        instances.append(instance)
      start = end
  if not instances:
    raise errors.UserError("--predict_input_file %s has no sentence to predict" % path)
  return instances


def read_prediction_windows(path, tokenizer, mask_each_word, max_seq_length,
                            max_predictions_per_seq):
  """The instances of `path` (read_prediction_instances) cut to what the model takes.

  Every [MASK] (every word, with `mask_each_word`) is predicted exactly once:
  a sentence longer than the model takes is cut into windows (fit_windows).
  """
  instances = []
  for instance in read_prediction_instances(path, tokenizer, mask_each_word):
    instances.extend(fit_windows(instance, max_seq_length, max_predictions_per_seq))
  windows = [i for i in instances if "window_start" in i]
  if windows:
    tf.logging.info("%s: %d sentence(s) longer than --max_seq_length=%d or with more "
                    "than --max_predictions_per_seq=%d masks were cut into %d windows",
                    path, len(set(i["text"] for i in windows)), max_seq_length,
                    max_predictions_per_seq, len(windows))
  return instances


def fit_windows(instance, max_seq_length, max_predictions_per_seq):
  """`instance` as instances the model takes, every masked position in one of them.

  An instance that fits comes back as it is.  Otherwise its masks are taken in
  order, as many per window as fit (max_predictions_per_seq, within
  max_seq_length - 2 tokens), and each window is centred on its masks, so
  they get context on both sides.  A window records its first token's index
  in the sentence ([CLS] not counted) as `window_start`.
  """
  body = instance["tokens"][1:-1]
  body_ids = instance["input_ids"][1:-1]
  positions = [p - 1 for p in instance["masked_lm_positions"]]
  width = max_seq_length - 2
  if len(body) <= width and len(positions) <= max_predictions_per_seq:
    return [instance]
  windows = []
  first = 0
  while first < len(positions):
    end = first + 1
    while (end < len(positions) and end - first < max_predictions_per_seq and
           positions[end] - positions[first] < width):
      end += 1
    span = positions[end - 1] - positions[first] + 1
    start = positions[first] - (width - span) // 2
    start = max(0, min(start, len(body) - width))
    window = dict(instance)
    window["tokens"] = instance["tokens"][:1] + body[start:start + width] + ["[SEP]"]
    window["input_ids"] = (instance["input_ids"][:1] + body_ids[start:start + width] +
                           instance["input_ids"][-1:])
    window["masked_lm_positions"] = [p - start + 1 for p in positions[first:end]]
    if instance.get("original_tokens"):
      window["original_tokens"] = instance["original_tokens"][first:end]
    window["window_start"] = start
    windows.append(window)
    first = end
  return windows


# Without these the MLM predictions (and the tags, which read the same
# transform) would come from freshly initialised weights.
_PREDICTION_VARIABLES = ("bert/embeddings/word_embeddings",
                         "cls/predictions/transform/dense/kernel",
                         "cls/predictions/output_bias")


def prediction_heads(checkpoint, output_dir):
  """The linguistic tasks whose heads `checkpoint` (what --do_predict reads) has.

  Raises errors.UserError when there is no checkpoint, or it lacks the
  encoder or the MLM head: the predictions would come from random weights.
  """
  if not checkpoint:
    raise errors.UserError(
        "--do_predict needs trained weights: %s holds no checkpoint and no "
        "--init_checkpoint is given" % output_dir)
  names = set(name for name, _ in tf.train.list_variables(checkpoint))
  missing = [name for name in _PREDICTION_VARIABLES if name not in names]
  if missing:
    raise errors.UserError("%s has no %s: its predictions would come from random "
                           "weights" % (checkpoint, ", ".join(missing)))
  untrained = checkpoint_names.untrained_heads(
      names, lambda name: tf.train.load_variable(checkpoint, name))
  heads = []
  for task in linguistics.TASKS:
    if checkpoint_names.heads_variable(task, "kernel") not in names:
      continue
    if task in untrained:
      tf.logging.warning("The %s head of %s was never trained (its data did not "
                         "label %s): no %s tags are written", task.upper(), checkpoint,
                         task.upper(), task.upper())
      continue
    heads.append(task)
  return heads


def prediction_tensors(logits, features, top_k):
  """MLM top-k and each linguistic head's best tag at every masked position."""
  batch_size, num_positions = modeling.get_shape_list(
      features["masked_lm_positions"], expected_rank=2)
  predictions = {"masked_lm_positions": features["masked_lm_positions"],
                 "masked_lm_weights": features["masked_lm_weights"],
                 "input_ids": features["input_ids"]}
  probs = tf.nn.softmax(logits["mlm"])
  top_probs, top_ids = tf.nn.top_k(probs, k=top_k)
  predictions["mlm_top_ids"] = tf.reshape(top_ids, [batch_size, num_positions, top_k])
  predictions["mlm_top_probs"] = tf.reshape(top_probs,
                                            [batch_size, num_positions, top_k])
  for task in linguistics.TASKS:
    task_probs = tf.nn.softmax(logits[task])
    predictions["%s_ids" % task] = tf.reshape(
        tf.argmax(task_probs, axis=-1, output_type=tf.int32),
        [batch_size, num_positions])
    predictions["%s_probs" % task] = tf.reshape(
        tf.reduce_max(task_probs, axis=-1), [batch_size, num_positions])
  return predictions


def prediction_input_fn_builder(instances, max_seq_length, max_predictions_per_seq,
                                pad_to_multiple=1):
  """An in-memory input_fn over prediction instances (padded to fixed shapes)."""
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
