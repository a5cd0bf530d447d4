# coding=utf-8
"""Span extraction (reading comprehension): CMRC 2018 and DRCD.

SQuAD-style JSON is read into `SpanExample`s; each question and its context
become [CLS] question [SEP] window [SEP] features over doc_stride windows; the
head gives start/end scores per position, decoded into answer texts (only
from the context, each token scored in the window where it has most context)
and scored by the CMRC 2018 metric (EM and F1, cmrc2018_metric).

Two recipes (--span_recipe). `hfl`, the default, computes what HFL's CMRC 2018 /
DRCD baseline (ymcui/cmrc2018, run_cmrc2018_drcd_baseline.py), the code behind
the paper's reading-comprehension tables, computes:
  * tokenization lower-cases without stripping accents (NFD) and keeps control
    and format characters as [UNK] words, so Hangul, kana and accented Latin
    text tokenize as there and no position shifts;
  * only [CLS] and context positions can be an answer's start or end: the
    others get -10000 added to their logits, in training and prediction;
  * each window's scores are log-softmax over that window before candidates of
    different windows of one document are compared.
`google` is Google's run_squad: BERT's tokenizer, no mask, raw logits compared.
Both locate a training answer by its `answer_start` (the nearest occurrence of
its text when the offset is off) and print answers as the context spells them.
"""

import collections
import io
import json
import math
import os

import tensorflow.compat.v1 as tf

from lert import errors
from lert import fileio
from lert import settings
from lert.finetune import cmrc2018_metric
from lert.finetune import common
from lert.records import record_schema
import modeling
import tokenization

# answers: list of {"text": str, "answer_start": int}; empty for unlabeled data.
SpanExample = collections.namedtuple(
    "SpanExample", ["qas_id", "question", "context", "answers"])

HFL_RECIPE = "hfl"
GOOGLE_RECIPE = "google"
# -10000 on logits, as HFL's baseline: exp() of it is 0 in float32, yet it stays
# finite in float16 (mixed precision).
MASKED_LOGIT = -10000.0

# The settings only span extraction has (with common.DOC_STRIDE).
SETTINGS = (
    settings.Setting(
        "span_recipe", "enum:%s,%s" % (HFL_RECIPE, GOOGLE_RECIPE), HFL_RECIPE,
        "hfl (the paper's recipe, HFL's CMRC 2018 baseline): tokenize without "
        "stripping accents, control characters as [UNK]; question, [SEP] and padding "
        "positions masked (-10000) in training and prediction; per-window log-softmax "
        "scores compared across windows. google: Google run_squad's BERT tokenizer, "
        "no mask, raw logits."),
    common.HEAD_LAYOUT,
    common.DOC_STRIDE,
    settings.Setting("max_query_length", "integer", 64, "Question tokens kept."),
    settings.Setting("n_best_size", "integer", 20,
                     "Candidate answers kept per question (nbest_predictions.json)."),
    settings.Setting("max_answer_length", "integer", 30, "Longest answer, in tokens."),
)


# ---------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------


def read_squad_examples(path):
  """Reads SQuAD-style JSON (CMRC 2018, DRCD).

  An answer whose text differs from `context[answer_start:][:len(text)]` is kept
  (the metric only uses the text) and counted in `stats["answer_mismatch"]`;
  training finds it nearby or skips it (see `convert_span_examples`).
  """
  stats = common.new_stats("questions", "answers", "answer_mismatch",
                           "empty_context")
  data = fileio.read_json(path, "SQuAD-style data file")
  if not isinstance(data, dict) or not isinstance(data.get("data"), list):
    raise errors.UserError("%s: not SQuAD-style JSON (no top-level 'data' list)" %
                           path)
  examples = []
  for a, article in enumerate(data["data"]):
    for p, para in enumerate(article.get("paragraphs", [])):
      where = "%s: data[%d].paragraphs[%d]" % (path, a, p)
      if "context" not in para or "qas" not in para:
        raise errors.UserError("%s lacks 'context' or 'qas'" % where)
      context = para["context"]
      if not context.strip():
        stats["empty_context"] += len(para["qas"])
      for qa in para["qas"]:
        if "id" not in qa or "question" not in qa:
          raise errors.UserError("%s: a question lacks 'id' or 'question'" % where)
        answers = []
        for ans in qa.get("answers", []):
          if "text" not in ans or "answer_start" not in ans:
            raise errors.UserError("%s: question %s: an answer lacks 'text' or "
                                   "'answer_start'" % (where, qa["id"]))
          start = int(ans["answer_start"])
          text = ans["text"]
          if context[start:start + len(text)] != text:
            stats["answer_mismatch"] += 1
          answers.append({"text": text, "answer_start": start})
        stats["answers"] += len(answers)
        examples.append(SpanExample(qas_id=str(qa["id"]).strip(),
                                    question=qa["question"], context=context,
                                    answers=answers))
  stats["questions"] = len(examples)
  return examples, stats



# ---------------------------------------------------------------------------
# Features and decoding
# ---------------------------------------------------------------------------


class SpanFeature(object):
  """One doc_stride window of one question, and its map back to characters."""

  def __init__(self, unique_id, example_index, window_index, tokens,
               token_to_char, token_is_max_context, input_ids, input_mask,
               segment_ids, start_position=0, end_position=0):
    self.unique_id = unique_id
    self.example_index = example_index
    self.window_index = window_index
    self.tokens = tokens
    # position in the input -> (char_start, char_end) in the context; only
    # context tokens appear here, so answers can never come from the question.
    self.token_to_char = token_to_char
    self.token_is_max_context = token_is_max_context
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.start_position = start_position
    self.end_position = end_position

  def to_record(self, is_training):
    """The record_schema.SPAN (SPAN_TRAINING) record written to the TFRecord."""
    values = dict(unique_id=[self.unique_id], input_ids=self.input_ids,
                  input_mask=self.input_mask, segment_ids=self.segment_ids)
    if not is_training:
      return record_schema.SPAN.make_record(**values)
    return record_schema.SPAN_TRAINING.make_record(
        start_positions=[self.start_position], end_positions=[self.end_position],
        **values)


def locate_answer(context, answer):
  """Character offset of `answer` in `context`, or None.

  Its `answer_start` when the text is there; else the occurrence of its text
  nearest to `answer_start` (a few CMRC 2018 training answers are off by a
  character or two). HFL's baseline takes the first occurrence in the
  paragraph instead, which is another span for 14% of DRCD's dev answers.
  None when the text is empty or absent.
  """
  text = answer["text"]
  start = answer["answer_start"]
  if not text:
    return None
  if context[start:start + len(text)] == text:
    return start
  best = None
  found = context.find(text)
  while found != -1:
    if best is None or abs(found - start) < abs(best - start):
      best = found
    found = context.find(text, found + 1)
  return best


def _answer_token_span(context, answer, starts, ends):
  """(Token indexes [first, last] covering the answer, relocated), or None.

  None when the answer text is not in the context (locate_answer), or covers
  no token (e.g. only whitespace). `relocated`: it was not at answer_start.
  """
  s = locate_answer(context, answer)
  if s is None:
    return None
  e = s + len(answer["text"])
  first = last = None
  for i, (ts, te) in enumerate(zip(starts, ends)):
    if te > s and ts < e:
      if first is None:
        first = i
      last = i
  if first is None:
    return None
  return (first, last), s != answer["answer_start"]


def convert_span_examples(examples, tokenizer, max_seq_length, doc_stride,
                          max_query_length, is_training,
                          unique_id_start=1000000000):
  """Tokenizes questions and contexts into [CLS] q [SEP] window [SEP] features.

  Context tokens keep their character spans (`tokenize_with_offsets`), so the
  alignment holds for Chinese characters, English words and digits alike.
  Training uses each question's first answer found in its context
  (locate_answer; `stats["answer_relocated"]` counts those not at their
  answer_start); a question with none is skipped (`stats["skipped_mismatch"]`).
  A window that does not contain the whole answer points at [CLS] (0, 0).
  Empty contexts give no features (prediction: the empty string).
  """
  stats = common.new_stats("features", "skipped_mismatch", "answer_relocated",
                           "empty_context", "answer_outside_window", "truncated_query")
  features = []
  unique_id = unique_id_start
  for ex_index, ex in enumerate(examples):
    query_tokens = tokenizer.tokenize(ex.question)
    if len(query_tokens) > max_query_length:
      stats["truncated_query"] += 1
      query_tokens = query_tokens[:max_query_length]
    doc_tokens, starts, ends = tokenizer.tokenize_with_offsets(ex.context)
    if not doc_tokens:
      stats["empty_context"] += 1
      continue
    answer_span = None
    if is_training:
      for answer in ex.answers:
        located = _answer_token_span(ex.context, answer, starts, ends)
        if located is not None:
          answer_span, relocated = located
          stats["answer_relocated"] += int(relocated)
          break
      if answer_span is None:
        stats["skipped_mismatch"] += 1
        continue
    max_doc_tokens = max_seq_length - len(query_tokens) - 3
    if max_doc_tokens <= 0:
      raise ValueError("max_seq_length %d leaves no room for the context "
                       "after a %d-token question" %
                       (max_seq_length, len(query_tokens)))
    windows = common.make_windows(len(doc_tokens), max_doc_tokens, doc_stride)
    best = common.best_window_per_position(len(doc_tokens), windows)
    for w, (win_start, win_size) in enumerate(windows):
      tokens = ["[CLS]"] + query_tokens + ["[SEP]"]
      segment_ids = [0] * len(tokens)
      offset = len(tokens)
      token_to_char = {}
      token_is_max_context = {}
      for i in range(win_start, win_start + win_size):
        token_to_char[len(tokens)] = (starts[i], ends[i])
        token_is_max_context[len(tokens)] = best[i] == w
        tokens.append(doc_tokens[i])
        segment_ids.append(1)
      tokens.append("[SEP]")
      segment_ids.append(1)
      input_ids = tokenization.convert_tokens_to_ids(tokenizer.vocab, tokens)
      start_position = end_position = 0
      if is_training:
        first, last = answer_span
        if first >= win_start and last < win_start + win_size:
          start_position = first - win_start + offset
          end_position = last - win_start + offset
        else:
          stats["answer_outside_window"] += 1
      features.append(SpanFeature(
          unique_id=unique_id, example_index=ex_index, window_index=w,
          tokens=tokens, token_to_char=token_to_char,
          token_is_max_context=token_is_max_context,
          input_ids=common.pad(input_ids, max_seq_length),
          input_mask=common.pad([1] * len(input_ids), max_seq_length),
          segment_ids=common.pad(segment_ids, max_seq_length),
          start_position=start_position, end_position=end_position))
      unique_id += 1
  stats["features"] = len(features)
  return features, stats


def _top_indexes(logits, n):
  order = sorted(range(len(logits)), key=lambda i: logits[i], reverse=True)
  return order[:n]


def _softmax(scores):
  if not scores:
    return []
  top = max(scores)
  exps = [math.exp(s - top) for s in scores]
  total = sum(exps)
  return [e / total for e in exps]


def decode_spans(examples, features, results, n_best_size, max_answer_length):
  """Turns start/end logits into answer texts.

  Args:
    examples: SpanExamples.
    features: SpanFeatures of those examples.
    results: dict unique_id -> (start scores, end scores), each a list over
      the input positions: logits, or per-window log-probabilities (the hfl
      recipe), whose sum ranks the candidates.
    n_best_size: candidates kept per question (and start/end indexes tried
      per window).
    max_answer_length: longest answer, in tokens.

  Returns:
    (predictions, nbest): OrderedDicts keyed by question id; predictions maps
    to the best text ("" if no valid span), nbest to a list of dicts with
    text, probability, start_logit, end_logit (the scores, as run_squad names
    them).
  """
  by_example = collections.defaultdict(list)
  for feature in features:
    by_example[feature.example_index].append(feature)
  predictions = collections.OrderedDict()
  nbest = collections.OrderedDict()
  for ex_index, ex in enumerate(examples):
    candidates = []
    for feature in by_example.get(ex_index, []):
      if feature.unique_id not in results:
        raise KeyError("no model output for feature %d of question %s" %
                       (feature.unique_id, ex.qas_id))
      start_logits, end_logits = results[feature.unique_id]
      for s in _top_indexes(start_logits, n_best_size):
        if s not in feature.token_to_char:
          continue
        if not feature.token_is_max_context.get(s, False):
          continue
        for e in _top_indexes(end_logits, n_best_size):
          if e not in feature.token_to_char or e < s:
            continue
          if e - s + 1 > max_answer_length:
            continue
          candidates.append((start_logits[s] + end_logits[e],
                             start_logits[s], end_logits[e],
                             feature.token_to_char[s][0],
                             feature.token_to_char[e][1]))
    candidates.sort(key=lambda c: c[0], reverse=True)
    kept, seen = [], set()
    for _, start_logit, end_logit, char_start, char_end in candidates:
      text = ex.context[char_start:char_end]
      if text in seen:
        continue
      seen.add(text)
      kept.append((text, start_logit, end_logit))
      if len(kept) >= n_best_size:
        break
    if not kept:
      kept = [("", 0.0, 0.0)]
    probs = _softmax([s + e for _, s, e in kept])
    nbest[ex.qas_id] = [
        collections.OrderedDict([("text", t), ("probability", p),
                                 ("start_logit", float(s)),
                                 ("end_logit", float(e))])
        for (t, s, e), p in zip(kept, probs)]
    predictions[ex.qas_id] = kept[0][0]
  return predictions, nbest



# ---------------------------------------------------------------------------
# The family: head and outputs
# ---------------------------------------------------------------------------


def answer_position_mask(input_mask, segment_ids):
  """1.0 where an answer may start or end ([CLS] and the context), else 0.0: [B, S].

  HFL's baseline writes this mask into its records; it follows from the
  features' layout [CLS] question [SEP] context [SEP] padding: context positions
  have segment 1 and lie before the last real token (the final [SEP]).
  """
  input_mask = tf.cast(input_mask, tf.int32)  # [B, S]
  segment_ids = tf.cast(segment_ids, tf.int32)  # [B, S]
  length = tf.reduce_sum(input_mask, axis=1, keepdims=True)  # [B, 1]
  positions = tf.range(tf.shape(input_mask)[1])[tf.newaxis, :]  # [1, S]
  context = tf.logical_and(tf.equal(segment_ids, 1), positions < length - 1)
  return tf.cast(tf.logical_or(context, tf.equal(positions, 0)), tf.float32)


class SpanFamily(common.Family):
  """Sequence output -> dense(2) start/end scores; CMRC EM and F1."""

  name = common.SPAN
  main_metric = "F1"
  extra_settings = SETTINGS
  head_scope = "finetune/span"
  google_head = ("cls/squad/output_weights", "cls/squad/output_bias")  # run_squad's
  defaults = {"max_seq_length": 512, "learning_rate": 3e-5, "num_train_epochs": 2.0}

  def tokenizer_options(self, inputs):
    if inputs.span_recipe == HFL_RECIPE:
      return {"strip_accents": False, "split_control_chars": True}
    return {}

  def convert(self, task, examples, tokenizer, inputs, is_training):
    del task
    features, stats = convert_span_examples(
        examples, tokenizer, inputs.max_seq_length, inputs.doc_stride,
        inputs.max_query_length, is_training)
    return features, [f.to_record(is_training) for f in features], stats

  def record_type(self, is_training):
    return record_schema.SPAN_TRAINING if is_training else record_schema.SPAN

  def head(self, task, bert_config, model, features, is_training, inputs, layout):
    del task
    sequence = model.get_sequence_output()  # [B, S, H]
    logits = common.output_layer(sequence, 2, bert_config, self, layout)  # [B, S, 2]
    start_logits, end_logits = tf.unstack(logits, axis=-1)  # [B, S] each
    if inputs.span_recipe == HFL_RECIPE:
      mask = answer_position_mask(features["input_mask"], features["segment_ids"])
      adder = tf.cast((1.0 - mask) * MASKED_LOGIT, start_logits.dtype)  # [B, S]
      start_logits += adder
      end_logits += adder
    if not is_training:
      if inputs.span_recipe == HFL_RECIPE:
        # Scores comparable across the windows of one document.
        start_logits = tf.nn.log_softmax(start_logits, axis=-1)
        end_logits = tf.nn.log_softmax(end_logits, axis=-1)
      return None, {"unique_id": tf.reshape(features["unique_id"], [-1]),
                    "start_logits": start_logits, "end_logits": end_logits}
    seq_length = modeling.get_shape_list(sequence)[1]

    def position_loss(logits, positions):
      positions = tf.reshape(positions, [-1])  # [B]
      log_probs = tf.nn.log_softmax(logits, axis=-1)  # [B, S]
      return -tf.reduce_mean(tf.reduce_sum(
          tf.one_hot(positions, seq_length) * log_probs, axis=-1))

    loss = 0.5 * (position_loss(start_logits, features["start_positions"]) +
                  position_loss(end_logits, features["end_positions"]))
    return loss, {}

  def is_labelled(self, examples):
    return all(bool(ex.answers) for ex in examples)

  def write_outputs(self, task, examples, features, outputs, inputs,
                    out_dir):
    del task
    results = dict((uid, (list(o["start_logits"]), list(o["end_logits"])))
                   for uid, o in outputs.items())
    predictions, nbest = decode_spans(
        examples, features, results, inputs.n_best_size,
        inputs.max_answer_length)
    for name, obj in (("predictions.json", predictions),
                      ("nbest_predictions.json", nbest)):
      with fileio.atomic_text(os.path.join(out_dir, name)) as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    if not self.is_labelled(examples):
      return None
    references = [(ex.qas_id, [a["text"] for a in ex.answers])
                  for ex in examples]
    scores = cmrc2018_metric.evaluate_references(references, predictions,
                                                 log=io.StringIO())
    return collections.OrderedDict(
        [("EM", scores["EM"]), ("F1", scores["F1"]),
         ("AVERAGE", scores["AVERAGE"]), ("TOTAL", scores["TOTAL"]),
         ("SKIP", scores["SKIP"])])
