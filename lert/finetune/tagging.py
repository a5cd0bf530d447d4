# coding=utf-8
"""Token tagging (character-level NER): MSRA-NER and People's Daily.

Files of one `char TAG` a line (tab or space, a blank line between sentences;
BIO or BIOES tags) are read into `TaggingExample`s; a sentence longer than
max_seq_length - 2 is cut into overlapping windows, each character scored in
exactly one; the head gives a tag per character, written back in the input
format and scored by entity-level F1 (exact span and type, conlleval).
"""

import collections
import os

import tensorflow.compat.v1 as tf

from lert import errors
from lert import fileio
from lert import settings
from lert.finetune import common
from lert.records import record_schema
import modeling
import tokenization

# ---------------------------------------------------------------------------
# Label inventories
# ---------------------------------------------------------------------------

NER_TYPES = ("PER", "LOC", "ORG")


def bio_labels(types):
  """`O` then `B-T`, `I-T` for each entity type."""
  labels = ["O"]
  for t in types:
    labels += ["B-" + t, "I-" + t]
  return tuple(labels)


def bioes_labels(types):
  """`O` then `B-T`, `I-T`, `E-T`, `S-T` for each entity type."""
  labels = ["O"]
  for t in types:
    labels += ["B-" + t, "I-" + t, "E-" + t, "S-" + t]
  return tuple(labels)


TAG_SCHEMES = {"bio": bio_labels, "bioes": bioes_labels}


def tag_labels(types, scheme):
  """The label inventory of `scheme` ("bio" or "bioes") over entity types."""
  if scheme not in TAG_SCHEMES:
    raise ValueError("unknown tag scheme %r (choose from: %s)" %
                     (scheme, ", ".join(sorted(TAG_SCHEMES))))
  return TAG_SCHEMES[scheme](types)


def entity_types(labels):
  """Entity types of a tag inventory, in first-seen order."""
  types = []
  for label in labels:
    if label != "O":
      etype = label.partition("-")[2]
      if etype not in types:
        types.append(etype)
  return tuple(types)


# tokens: one string per character (the scored unit); labels: tags or None.
TaggingExample = collections.namedtuple(
    "TaggingExample", ["guid", "tokens", "labels", "separator"])

# The settings only tagging has (with common.DOC_STRIDE).
SETTINGS = (
    common.DOC_STRIDE,
    settings.Setting(
        "tag_scheme", "enum:" + ",".join(sorted(TAG_SCHEMES)), "bio",
        "Tags of the files: bio (B-, I-, O) or bioes (adds E- for the last and "
        "S- for single-character entities)."),
)


# ---------------------------------------------------------------------------
# Reader and writer (MSRA-NER, People's Daily)
# ---------------------------------------------------------------------------


def read_char_tag_file(path, labels):
  """Reads `char<TAB>TAG` or `char TAG` lines, a blank line between sentences.

  The separator is the last tab on the line, else the last space, so a space
  character itself (`"  O"`) is still a token.
  """
  examples = []
  stats = common.new_stats("sentences", "tokens")
  tokens, tags, seps = [], [], set()

  def flush():
    if tokens:
      sep = "\t" if "\t" in seps else " "
      examples.append(TaggingExample(
          guid="%s-%d" % (os.path.basename(path), len(examples)),
          tokens=list(tokens), labels=list(tags), separator=sep))
      del tokens[:], tags[:]
      seps.clear()

  with common.open_text(path) as f:
    for line_no, line in enumerate(f, 1):
      line = line.rstrip("\r\n")
      if not line.strip():
        flush()
        continue
      sep = "\t" if "\t" in line else " "
      token, _, tag = line.rpartition(sep)
      if not token or not tag:
        raise errors.UserError("%s: malformed line %r: expected a character, a tab "
                               "or space, and a tag" % (common.at(path, line_no), line))
      if sep in token and token != sep:
        # e.g. "工 B-PER O": more than two columns; which one is the tag is a guess.
        raise errors.UserError("%s: line %r has %d columns; expected a character and a tag" % (
            common.at(path, line_no), line, len(line.split(sep))))
      common.check_label(tag, labels, path, line_no)
      tokens.append(token)
      tags.append(tag)
      seps.add(sep)
  flush()
  stats["sentences"] = len(examples)
  stats["tokens"] = sum(len(e.tokens) for e in examples)
  return examples, stats


def format_char_tag_file(examples, predicted_tags):
  """Predictions in the input format, one `char<sep>TAG` a line (the caller
  writes them, through tf.gfile: output_dir may be gs://)."""
  lines = []
  for example, tags in zip(examples, predicted_tags):
    for token, tag in zip(example.tokens, tags):
      lines.append(u"%s%s%s\n" % (token, example.separator, tag))
    lines.append(u"\n")
  return u"".join(lines)


# ---------------------------------------------------------------------------
# Features, reassembly and entity F1
# ---------------------------------------------------------------------------


class TaggingFeature(object):
  """One window of one sentence: input position i+1 holds token start+i."""

  def __init__(self, unique_id, example_index, window_start, window_size,
               scored, input_ids, input_mask, segment_ids, label_ids,
               label_mask):
    self.unique_id = unique_id
    self.example_index = example_index
    self.window_start = window_start
    self.window_size = window_size
    # scored[i]: this window is the one that scores token window_start + i.
    self.scored = scored
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.segment_ids = segment_ids
    self.label_ids = label_ids
    self.label_mask = label_mask

  def to_record(self):
    """The record_schema.TAGGING record written to the TFRecord."""
    return record_schema.TAGGING.make_record(
        unique_id=[self.unique_id], input_ids=self.input_ids,
        input_mask=self.input_mask, segment_ids=self.segment_ids,
        label_ids=self.label_ids, label_mask=self.label_mask)


def token_to_wordpiece(tokenizer, token, cache=None):
  """The single vocabulary entry used for one scored character.

  Tagging needs exactly one input position per character; a character the
  tokenizer drops (whitespace, control) or splits into several pieces becomes
  [UNK].
  """
  if cache is not None and token in cache:
    return cache[token]
  pieces = tokenizer.tokenize(token)
  piece = pieces[0] if len(pieces) == 1 else "[UNK]"
  if cache is not None:
    cache[token] = piece
  return piece


def convert_tagging_examples(examples, labels, tokenizer, max_seq_length,
                             doc_stride, unique_id_start=0):
  """Cuts each sentence into [CLS] window [SEP] features.

  Sentences longer than max_seq_length - 2 get overlapping windows advancing by
  min(doc_stride, window); `TaggingFeature.scored` marks which window scores
  each character, so every character is predicted exactly once.
  """
  window = max_seq_length - 2
  stride = min(doc_stride, window)
  label_map = dict((label, i) for i, label in enumerate(labels))
  stats = common.new_stats("features", "windowed_sentences", "unk_tokens")
  features = []
  cache = {}
  unique_id = unique_id_start
  for ex_index, ex in enumerate(examples):
    pieces = [token_to_wordpiece(tokenizer, t, cache) for t in ex.tokens]
    stats["unk_tokens"] += sum(1 for p in pieces if p == "[UNK]")
    windows = common.make_windows(len(pieces), window, stride)
    if len(windows) > 1:
      stats["windowed_sentences"] += 1
    best = common.best_window_per_position(len(pieces), windows)
    for w, (start, size) in enumerate(windows):
      tokens = ["[CLS]"] + pieces[start:start + size] + ["[SEP]"]
      input_ids = tokenization.convert_tokens_to_ids(tokenizer.vocab, tokens)
      if ex.labels is not None:
        label_ids = [0] + [label_map[label] for label in
                           ex.labels[start:start + size]] + [0]
      else:
        label_ids = [0] * len(tokens)
      label_mask = [0] + [1] * size + [0]
      features.append(TaggingFeature(
          unique_id=unique_id, example_index=ex_index, window_start=start,
          window_size=size,
          scored=[best[i] == w for i in range(start, start + size)],
          input_ids=common.pad(input_ids, max_seq_length),
          input_mask=common.pad([1] * len(input_ids), max_seq_length),
          segment_ids=[0] * max_seq_length,
          label_ids=common.pad(label_ids, max_seq_length),
          label_mask=common.pad(label_mask, max_seq_length)))
      unique_id += 1
  stats["features"] = len(features)
  return features, stats


def assemble_tag_predictions(examples, features, results, labels):
  """Per-character tags from per-window predicted label ids.

  Args:
    results: dict unique_id -> list of predicted label ids over input
      positions (position 0 is [CLS]).

  Returns:
    A list (one per example) of tag strings, one per character.
  """
  out = [[None] * len(ex.tokens) for ex in examples]
  for f in features:
    ids = results[f.unique_id]
    for i in range(f.window_size):
      if f.scored[i]:
        out[f.example_index][f.window_start + i] = labels[ids[i + 1]]
  for ex, tags in zip(examples, out):
    if any(t is None for t in tags):
      raise ValueError("sentence %s: some characters got no prediction" %
                       ex.guid)
  return out


def _split_tag(tag):
  if tag == "O" or "-" not in tag:
    return tag[:1] or "O", ""
  prefix, _, etype = tag.partition("-")
  return prefix, etype


def _chunk_ends(prev_tag, tag, prev_type, etype):
  """conlleval's end-of-chunk rule (with S closing a chunk, for BIOES)."""
  if prev_tag in ("E", "S"):
    return True
  if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
    return True
  return prev_tag != "O" and prev_type != etype


def _chunk_starts(prev_tag, tag, prev_type, etype):
  """conlleval's start-of-chunk rule (with S opening a chunk, for BIOES)."""
  if tag in ("B", "S"):
    return True
  if prev_tag in ("E", "S", "O") and tag in ("I", "E"):
    return True
  return tag != "O" and prev_type != etype


def extract_entities(tags):
  """Set of (type, first, last) chunks of a tag sequence, as conlleval reads.

  Works for BIO and BIOES; an I- after O or after another type starts a chunk
  (conlleval's leniency), so invalid predicted sequences are still scored.
  """
  chunks = set()
  start = None
  prev_tag, prev_type = "O", ""
  for i, full in enumerate(list(tags) + ["O"]):
    tag, etype = _split_tag(full)
    if start is not None and _chunk_ends(prev_tag, tag, prev_type, etype):
      chunks.add((prev_type, start, i - 1))
      start = None
    if _chunk_starts(prev_tag, tag, prev_type, etype):
      start = i
    prev_tag, prev_type = tag, etype
  return chunks


def entity_f1(gold_sequences, pred_sequences):
  """Entity-level precision / recall / F1 (exact span and type).

  Returns an OrderedDict with precision, recall, f1 (fractions), the counts
  (gold, predicted, correct) and a per-type dict of the same.
  """
  if len(gold_sequences) != len(pred_sequences):
    raise ValueError("%d gold sequences but %d predicted" %
                     (len(gold_sequences), len(pred_sequences)))
  counts = collections.defaultdict(lambda: [0, 0, 0])  # gold, pred, correct
  for gold, pred in zip(gold_sequences, pred_sequences):
    if len(gold) != len(pred):
      raise ValueError("gold and predicted sequences differ in length "
                       "(%d vs %d)" % (len(gold), len(pred)))
    g = extract_entities(gold)
    p = extract_entities(pred)
    for etype, _, _ in g:
      counts[etype][0] += 1
    for etype, _, _ in p:
      counts[etype][1] += 1
    for etype, _, _ in g & p:
      counts[etype][2] += 1

  def prf(n_gold, n_pred, n_correct):
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = (2 * precision * recall / (precision + recall)
          if precision + recall else 0.0)
    return collections.OrderedDict([
        ("precision", precision), ("recall", recall), ("f1", f1),
        ("gold", n_gold), ("predicted", n_pred), ("correct", n_correct)])

  total = [sum(c[k] for c in counts.values()) for k in range(3)]
  result = prf(*total)
  result["per_type"] = collections.OrderedDict(
      (t, prf(*counts[t])) for t in sorted(counts))
  return result


# ---------------------------------------------------------------------------
# The family: head and outputs
# ---------------------------------------------------------------------------


class TaggingFamily(common.Family):
  """Sequence output -> dropout -> dense(num_labels) per character; entity F1."""

  name = common.TAGGING
  main_metric = "f1"
  extra_settings = SETTINGS
  head_scope = "finetune/tagger"  # Google published no tagging script: no Google layout
  defaults = {"max_seq_length": 256, "learning_rate": 3e-5, "num_train_epochs": 3.0}

  def convert(self, task, examples, tokenizer, inputs, is_training):
    del is_training
    features, stats = convert_tagging_examples(
        examples, task.labels, tokenizer, inputs.max_seq_length,
        inputs.doc_stride)
    return features, [f.to_record() for f in features], stats

  def record_type(self, is_training):
    del is_training
    return record_schema.TAGGING

  def head(self, task, bert_config, model, features, is_training, inputs, layout):
    del inputs
    sequence = model.get_sequence_output()  # [B, S, H]
    if is_training:
      sequence = modeling.dropout(sequence, bert_config.hidden_dropout_prob)
    logits = common.output_layer(sequence, len(task.labels), bert_config, self,
                                 layout)  # [B, S, L]
    predictions = {"unique_id": tf.reshape(features["unique_id"], [-1]),
                   "tag_ids": tf.argmax(logits, axis=-1, output_type=tf.int32)}
    if not is_training:
      return None, predictions
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # [B, S, L]
    per_token = -tf.reduce_sum(
        tf.one_hot(features["label_ids"], len(task.labels)) * log_probs,
        axis=-1)  # [B, S]
    # Only character positions count, not [CLS], [SEP] or padding.
    return common.masked_mean(per_token, features["label_mask"]), predictions

  def is_labelled(self, examples):
    return all(ex.labels is not None for ex in examples)

  def write_outputs(self, task, examples, features, outputs, inputs,
                    out_dir):
    del inputs
    results = dict((uid, list(o["tag_ids"])) for uid, o in outputs.items())
    tags = assemble_tag_predictions(examples, features, results, task.labels)
    with fileio.atomic_text(os.path.join(out_dir, "predictions.txt")) as f:
      f.write(format_char_tag_file(examples, tags))
    if not self.is_labelled(examples):
      return None
    scores = entity_f1([ex.labels for ex in examples], tags)
    metrics = collections.OrderedDict()
    for key in ("precision", "recall", "f1"):
      metrics[key] = 100.0 * scores[key]
    for key in ("gold", "predicted", "correct"):
      metrics["entities_" + key] = scores[key]
    for etype, s in scores["per_type"].items():
      metrics["f1_" + etype] = 100.0 * s["f1"]
    return metrics
