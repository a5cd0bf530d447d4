# coding=utf-8
"""Sequence classification: ChnSentiCorp, TNEWS, XNLI, LCQMC, BQ, OCNLI.

The official files (TSV, CSV or JSON lines) are read into
`ClassificationExample`s, converted to one record_schema.CLASSIFICATION record
per example, and scored by accuracy; the head is the pooled [CLS] output
through dropout and a dense layer.
"""

import collections
import csv
import json
import os

import tensorflow.compat.v1 as tf

from lert import errors
from lert import fileio
from lert.finetune import common
from lert.records import record_schema
import modeling
import tokenization


# TNEWS label codes 100..116 without 105 and 111, mapped to class ids 0..14
# in sorted code order (CLUE's labels.json lists them in the same order).
TNEWS_LABELS = tuple(str(c) for c in range(100, 117) if c not in (105, 111))
NLI_LABELS = ("contradiction", "entailment", "neutral")
BINARY_LABELS = ("0", "1")

ClassificationExample = collections.namedtuple(
    "ClassificationExample", ["guid", "text_a", "text_b", "label"])


# ---------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------


def read_tsv_examples(path, labels, text_a="text_a", text_b=None,
                      label="label"):
  """Reads a TSV file with a header line naming the columns.

  Columns are found by name, so `label\\ttext_a` (ChnSentiCorp) and
  `text_a\\ttext_b\\tlabel` (XNLI) share this reader. A file without the label
  column (an unlabeled test split) gives examples whose label is None.
  """
  examples = []
  stats = common.new_stats("examples")
  with common.open_text(path, "utf-8-sig") as f:
    header = None
    for line_no, line in enumerate(f, 1):
      line = line.rstrip("\r\n")
      if header is None:
        header = line.split("\t")
        wanted = [c for c in (text_a, text_b) if c]
        missing = [c for c in wanted if c not in header]
        if missing:
          raise errors.UserError("%s: header %r lacks column(s) %s" %
                                 (common.at(path, line_no), line, ", ".join(missing)))
        continue
      if not line.strip():
        continue
      fields = line.split("\t")
      if len(fields) != len(header):
        raise errors.UserError("%s: malformed line: %d tab-separated fields, the "
                               "header has %d" % (common.at(path, line_no), len(fields),
                                                  len(header)))
      row = dict(zip(header, fields))
      value = row.get(label)
      if value is not None:
        value = value.strip()
        common.check_label(value, labels, path, line_no)
      examples.append(ClassificationExample(
          guid="%s-%d" % (os.path.basename(path), line_no),
          text_a=row[text_a],
          text_b=row[text_b] if text_b else None,
          label=value))
    if header is None:
      raise errors.UserError("%s: empty file (no header line)" % path)
  stats["examples"] = len(examples)
  return examples, stats


def read_csv_pair_examples(path, labels):
  """Reads LCQMC / BQ: CSV with BOM, header `sentence1,sentence2,label`."""
  examples = []
  stats = common.new_stats("examples")
  with common.open_text(path, "utf-8-sig", newline="") as f:
    reader = csv.reader(f)
    header = None
    for row in reader:
      line_no = reader.line_num
      if header is None:
        header = row
        missing = [c for c in ("sentence1", "sentence2") if c not in header]
        if missing:
          raise errors.UserError("%s: header %r lacks column(s) %s" %
                                 (common.at(path, line_no), ",".join(row),
                                  ", ".join(missing)))
        continue
      if not row:
        continue
      if len(row) != len(header):
        raise errors.UserError("%s: malformed line: %d comma-separated fields, the "
                               "header has %d" % (common.at(path, line_no), len(row),
                                                  len(header)))
      rec = dict(zip(header, row))
      value = rec.get("label")
      if value is not None:
        value = value.strip()
        common.check_label(value, labels, path, line_no)
      examples.append(ClassificationExample(
          guid="%s-%d" % (os.path.basename(path), line_no),
          text_a=rec["sentence1"], text_b=rec["sentence2"], label=value))
    if header is None:
      raise errors.UserError("%s: empty file (no header line)" % path)
  stats["examples"] = len(examples)
  return examples, stats


def _read_json_lines(path):
  """Yields (line_no, dict) for each non-blank line of a JSON-lines file."""
  with common.open_text(path, "utf-8-sig") as f:
    for line_no, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except ValueError as e:
        raise errors.UserError("%s: malformed JSON line: %s" % (common.at(path, line_no), e))
      if not isinstance(record, dict):
        raise errors.UserError("%s: malformed line: expected a JSON object" %
                               common.at(path, line_no))
      yield line_no, record


def read_json_lines_examples(path, labels, text_a, text_b=None,
                             label="label", no_label_value=None):
  """Reads JSON lines (TNEWS, OCNLI).

  Records whose label equals `no_label_value` (OCNLI's `-`: annotators did not
  agree) are dropped and counted in `stats["dropped_no_label"]`. A record
  without the label key (unlabeled test split) gets label None.
  """
  examples = []
  stats = common.new_stats("examples", "dropped_no_label")
  for line_no, rec in _read_json_lines(path):
    for key in (text_a, text_b):
      if key and key not in rec:
        raise errors.UserError("%s: malformed line: no %r field" %
                               (common.at(path, line_no), key))
    value = rec.get(label)
    if value is not None:
      value = str(value).strip()
      if no_label_value is not None and value == no_label_value:
        stats["dropped_no_label"] += 1
        continue
      common.check_label(value, labels, path, line_no)
    guid = rec.get("id", "%s-%d" % (os.path.basename(path), line_no))
    examples.append(ClassificationExample(
        guid=str(guid), text_a=rec[text_a],
        text_b=rec[text_b] if text_b else None, label=value))
  stats["examples"] = len(examples)
  return examples, stats


def read_chnsenticorp(path):
  return read_tsv_examples(path, BINARY_LABELS, text_a="text_a")


def read_tnews(path):
  return read_json_lines_examples(path, TNEWS_LABELS, text_a="sentence")


def read_xnli(path):
  return read_tsv_examples(path, NLI_LABELS, text_a="text_a", text_b="text_b")


def read_lcqmc(path):
  return read_csv_pair_examples(path, BINARY_LABELS)


read_bq = read_lcqmc


def read_ocnli(path):
  return read_json_lines_examples(path, NLI_LABELS, text_a="sentence1",
                                  text_b="sentence2", no_label_value="-")


# ---------------------------------------------------------------------------
# Features and metric
# ---------------------------------------------------------------------------


def _truncate_pair(tokens_a, tokens_b, max_length):
  """Trims the longer sequence one token at a time; True if anything went."""
  truncated = False
  while len(tokens_a) + len(tokens_b) > max_length:
    truncated = True
    longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
    longer.pop()
  return truncated


def convert_classification_examples(examples, labels, tokenizer,
                                    max_seq_length, unique_id_start=0):
  """Returns (features, stats): one record_schema.CLASSIFICATION record per
  example (label_ids 0 for unlabeled examples)."""
  label_map = dict((label, i) for i, label in enumerate(labels))
  stats = common.new_stats("features", "truncated")
  features = []
  for i, ex in enumerate(examples):
    tokens_a = tokenizer.tokenize(ex.text_a)
    tokens_b = tokenizer.tokenize(ex.text_b) if ex.text_b is not None else []
    # [CLS] a [SEP] (b [SEP])
    budget = max_seq_length - (3 if ex.text_b is not None else 2)
    if _truncate_pair(tokens_a, tokens_b, budget):
      stats["truncated"] += 1
    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    segment_ids = [0] * len(tokens)
    if ex.text_b is not None:
      tokens += tokens_b + ["[SEP]"]
      segment_ids += [1] * (len(tokens_b) + 1)
    input_ids = tokenization.convert_tokens_to_ids(tokenizer.vocab, tokens)
    features.append(record_schema.CLASSIFICATION.make_record(
        unique_id=[unique_id_start + i],
        input_ids=common.pad(input_ids, max_seq_length),
        input_mask=common.pad([1] * len(input_ids), max_seq_length),
        segment_ids=common.pad(segment_ids, max_seq_length),
        label_ids=[label_map[ex.label] if ex.label is not None else 0],
        is_real_example=[1]))
  stats["features"] = len(features)
  return features, stats


def classification_accuracy(examples, predicted_ids, labels):
  """Fraction of examples whose predicted class id is the gold label's id."""
  if not examples:
    return 0.0
  label_map = dict((label, i) for i, label in enumerate(labels))
  correct = sum(1 for ex, p in zip(examples, predicted_ids)
                if label_map[ex.label] == p)
  return correct / len(examples)


# ---------------------------------------------------------------------------
# The family: head and outputs
# ---------------------------------------------------------------------------


class ClassificationFamily(common.Family):
  """[CLS] pooled output -> dropout -> dense(num_labels); accuracy."""

  name = common.CLASSIFICATION
  main_metric = "accuracy"
  extra_settings = (common.HEAD_LAYOUT,)
  head_scope = "finetune/classifier"
  google_head = ("output_weights", "output_bias")  # Google's run_classifier
  defaults = {"max_seq_length": 128, "learning_rate": 2e-5, "num_train_epochs": 3.0}

  def convert(self, task, examples, tokenizer, inputs, is_training):
    del is_training
    features, stats = convert_classification_examples(
        examples, task.labels, tokenizer, inputs.max_seq_length)
    return features, features, stats

  def record_type(self, is_training):
    del is_training
    return record_schema.CLASSIFICATION

  def head(self, task, bert_config, model, features, is_training, inputs, layout):
    del inputs
    pooled = model.get_pooled_output()  # [B, H]
    if is_training:
      pooled = modeling.dropout(pooled, bert_config.hidden_dropout_prob)
    logits = common.output_layer(pooled, len(task.labels), bert_config, self,
                                 layout)  # [B, C]
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    labels = tf.reshape(features["label_ids"], [-1])  # [B]
    per_example = -tf.reduce_sum(
        tf.one_hot(labels, len(task.labels)) * log_probs, axis=-1)  # [B]
    loss = common.masked_mean(per_example,
                              tf.reshape(features["is_real_example"], [-1]))
    predictions = {"unique_id": tf.reshape(features["unique_id"], [-1]),
                   "probabilities": tf.exp(log_probs)}
    return loss, predictions

  def is_labelled(self, examples):
    return all(ex.label is not None for ex in examples)

  def write_outputs(self, task, examples, features, outputs, inputs,
                    out_dir):
    del inputs
    probs = [outputs[f["unique_id"][0]]["probabilities"] for f in features]
    predicted = [int(max(range(len(p)), key=lambda i: p[i])) for p in probs]
    with fileio.atomic_text(os.path.join(out_dir, "predictions.tsv")) as f:
      f.write("id\tlabel\tprobability\n")
      for ex, pred, p in zip(examples, predicted, probs):
        f.write("%s\t%s\t%.6f\n" % (ex.guid, task.labels[pred], p[pred]))
    if not self.is_labelled(examples):
      return None
    accuracy = classification_accuracy(examples, predicted, task.labels)
    return collections.OrderedDict([("accuracy", 100.0 * accuracy),
                                    ("examples", len(examples))])
