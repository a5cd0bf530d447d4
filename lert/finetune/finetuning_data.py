"""Fine-tuning data: task readers, example-to-feature conversion, post-processing.

Pure Python (no TensorFlow), so it can be tested and run over real data quickly.
Three task families share the helpers here:

- sequence classification (ChnSentiCorp, TNEWS, XNLI, LCQMC, BQ, OCNLI),
- span extraction (CMRC 2018, DRCD: SQuAD-style JSON),
- token tagging (MSRA-NER, People's Daily: one `char TAG` per line).

Every reader returns `(examples, stats)`: `stats` is an ordered dict of counts
(e.g. dropped examples, answers that do not match their context) for the caller
to report. Bad input raises `DataError` naming the file and the line.
"""

import collections
import csv
import io
import json
import math
import os

from lert import errors
from lert.records import record_schema
class DataError(errors.UserError):
  """Malformed or inconsistent task data; the message names file and line."""


def _at(path, line_no=None):
  return "%s:%d" % (path, line_no) if line_no is not None else path


def _new_stats(*names):
  return collections.OrderedDict((n, 0) for n in names)


# ---------------------------------------------------------------------------
# Label inventories
# ---------------------------------------------------------------------------

# TNEWS label codes 100..116 without 105 and 111, mapped to class ids 0..14
# in sorted code order (CLUE's labels.json lists them in the same order).
TNEWS_LABELS = tuple(str(c) for c in range(100, 117) if c not in (105, 111))
NLI_LABELS = ("contradiction", "entailment", "neutral")
BINARY_LABELS = ("0", "1")
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


# ---------------------------------------------------------------------------
# Examples
# ---------------------------------------------------------------------------

ClassificationExample = collections.namedtuple(
    "ClassificationExample", ["guid", "text_a", "text_b", "label"])
# answers: list of {"text": str, "answer_start": int}; empty for unlabeled data.
SpanExample = collections.namedtuple(
    "SpanExample", ["qas_id", "question", "context", "answers"])
# tokens: one string per character (the scored unit); labels: tags or None.
TaggingExample = collections.namedtuple(
    "TaggingExample", ["guid", "tokens", "labels", "separator"])


def _check_label(label, labels, path, line_no):
  if label not in labels:
    raise DataError("%s: unknown label %r (expected one of %s)" %
                    (_at(path, line_no), label, ", ".join(labels)))


def _open_text(path, encoding="utf-8", newline="\n"):
  if not os.path.isfile(path):
    raise DataError("%s: file not found" % path)
  # Lines end at "\n" only, so a stray "\r" inside a text stays in the text
  # (the csv module wants newline="" and handles "\r\n" itself).
  return io.open(path, "r", encoding=encoding, newline=newline)


# ---------------------------------------------------------------------------
# Classification readers
# ---------------------------------------------------------------------------


def read_tsv_examples(path, labels, text_a="text_a", text_b=None,
                      label="label"):
  """Reads a TSV file with a header line naming the columns.

  Columns are found by name, so `label\\ttext_a` (ChnSentiCorp) and
  `text_a\\ttext_b\\tlabel` (XNLI) share this reader. A file without the label
  column (an unlabeled test split) gives examples whose label is None.
  """
  examples = []
  stats = _new_stats("examples")
  with _open_text(path, "utf-8-sig") as f:
    header = None
    for line_no, line in enumerate(f, 1):
      line = line.rstrip("\r\n")
      if header is None:
        header = line.split("\t")
        wanted = [c for c in (text_a, text_b) if c]
        missing = [c for c in wanted if c not in header]
        if missing:
          raise DataError("%s: header %r lacks column(s) %s" %
                          (_at(path, line_no), line, ", ".join(missing)))
        continue
      if not line.strip():
        continue
      fields = line.split("\t")
      if len(fields) != len(header):
        raise DataError("%s: malformed line: %d tab-separated fields, the "
                        "header has %d" % (_at(path, line_no), len(fields),
                                           len(header)))
      row = dict(zip(header, fields))
      value = row.get(label)
      if value is not None:
        value = value.strip()
        _check_label(value, labels, path, line_no)
      examples.append(ClassificationExample(
          guid="%s-%d" % (os.path.basename(path), line_no),
          text_a=row[text_a],
          text_b=row[text_b] if text_b else None,
          label=value))
    if header is None:
      raise DataError("%s: empty file (no header line)" % path)
  stats["examples"] = len(examples)
  return examples, stats


def read_csv_pair_examples(path, labels):
  """Reads LCQMC / BQ: CSV with BOM, header `sentence1,sentence2,label`."""
  examples = []
  stats = _new_stats("examples")
  with _open_text(path, "utf-8-sig", newline="") as f:
    reader = csv.reader(f)
    header = None
    for row in reader:
      line_no = reader.line_num
      if header is None:
        header = row
        missing = [c for c in ("sentence1", "sentence2") if c not in header]
        if missing:
          raise DataError("%s: header %r lacks column(s) %s" %
                          (_at(path, line_no), ",".join(row),
                           ", ".join(missing)))
        continue
      if not row:
        continue
      if len(row) != len(header):
        raise DataError("%s: malformed line: %d comma-separated fields, the "
                        "header has %d" % (_at(path, line_no), len(row),
                                           len(header)))
      rec = dict(zip(header, row))
      value = rec.get("label")
      if value is not None:
        value = value.strip()
        _check_label(value, labels, path, line_no)
      examples.append(ClassificationExample(
          guid="%s-%d" % (os.path.basename(path), line_no),
          text_a=rec["sentence1"], text_b=rec["sentence2"], label=value))
    if header is None:
      raise DataError("%s: empty file (no header line)" % path)
  stats["examples"] = len(examples)
  return examples, stats


def _read_json_lines(path):
  """Yields (line_no, dict) for each non-blank line of a JSON-lines file."""
  with _open_text(path, "utf-8-sig") as f:
    for line_no, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
      except ValueError as e:
        raise DataError("%s: malformed JSON line: %s" % (_at(path, line_no), e))
      if not isinstance(record, dict):
        raise DataError("%s: malformed line: expected a JSON object" %
                        _at(path, line_no))
      yield line_no, record


def read_json_lines_examples(path, labels, text_a, text_b=None,
                             label="label", no_label_value=None):
  """Reads JSON lines (TNEWS, OCNLI).

  Records whose label equals `no_label_value` (OCNLI's `-`: annotators did not
  agree) are dropped and counted in `stats["dropped_no_label"]`. A record
  without the label key (unlabeled test split) gets label None.
  """
  examples = []
  stats = _new_stats("examples", "dropped_no_label")
  for line_no, rec in _read_json_lines(path):
    for key in (text_a, text_b):
      if key and key not in rec:
        raise DataError("%s: malformed line: no %r field" %
                        (_at(path, line_no), key))
    value = rec.get(label)
    if value is not None:
      value = str(value).strip()
      if no_label_value is not None and value == no_label_value:
        stats["dropped_no_label"] += 1
        continue
      _check_label(value, labels, path, line_no)
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
# Span extraction reader (CMRC 2018, DRCD)
# ---------------------------------------------------------------------------


def read_squad_examples(path):
  """Reads SQuAD-style JSON (CMRC 2018, DRCD).

  An answer whose text differs from `context[answer_start:][:len(text)]` is kept
  (the metric only uses the text) and counted in `stats["answer_mismatch"]`;
  training skips it (see `convert_span_examples`).
  """
  stats = _new_stats("questions", "answers", "answer_mismatch",
                     "empty_context")
  if not os.path.isfile(path):
    raise DataError("%s: file not found" % path)
  with io.open(path, "r", encoding="utf-8-sig") as f:
    try:
      data = json.load(f)
    except ValueError as e:
      raise DataError("%s: malformed JSON: %s" % (path, e))
  if not isinstance(data, dict) or not isinstance(data.get("data"), list):
    raise DataError("%s: not SQuAD-style JSON (no top-level 'data' list)" %
                    path)
  examples = []
  for a, article in enumerate(data["data"]):
    for p, para in enumerate(article.get("paragraphs", [])):
      where = "%s: data[%d].paragraphs[%d]" % (path, a, p)
      if "context" not in para or "qas" not in para:
        raise DataError("%s lacks 'context' or 'qas'" % where)
      context = para["context"]
      if not context.strip():
        stats["empty_context"] += len(para["qas"])
      for qa in para["qas"]:
        if "id" not in qa or "question" not in qa:
          raise DataError("%s: a question lacks 'id' or 'question'" % where)
        answers = []
        for ans in qa.get("answers", []):
          if "text" not in ans or "answer_start" not in ans:
            raise DataError("%s: question %s: an answer lacks 'text' or "
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
# Tagging reader (MSRA-NER, People's Daily)
# ---------------------------------------------------------------------------


def read_char_tag_file(path, labels):
  """Reads `char<TAB>TAG` or `char TAG` lines, a blank line between sentences.

  The separator is the last tab on the line, else the last space, so a space
  character itself (`"  O"`) is still a token.
  """
  examples = []
  stats = _new_stats("sentences", "tokens")
  tokens, tags, seps = [], [], set()

  def flush():
    if tokens:
      sep = "\t" if "\t" in seps else " "
      examples.append(TaggingExample(
          guid="%s-%d" % (os.path.basename(path), len(examples)),
          tokens=list(tokens), labels=list(tags), separator=sep))
      del tokens[:], tags[:]
      seps.clear()

  with _open_text(path) as f:
    for line_no, line in enumerate(f, 1):
      line = line.rstrip("\r\n")
      if not line.strip():
        flush()
        continue
      sep = "\t" if "\t" in line else " "
      token, _, tag = line.rpartition(sep)
      if not token or not tag:
        raise DataError("%s: malformed line %r: expected a character, a tab "
                        "or space, and a tag" % (_at(path, line_no), line))
      if sep in token and token != sep:
        # e.g. "工 B-PER O": more than two columns; which one is the tag is a guess.
        raise DataError("%s: line %r has %d columns; expected a character and a tag" % (
            _at(path, line_no), line, len(line.split(sep))))
      _check_label(tag, labels, path, line_no)
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
# Windows over long inputs (shared by span extraction and tagging)
# ---------------------------------------------------------------------------


def make_windows(length, window, stride):
  """Splits range(length) into [(start, size)] windows advancing by `stride`.

  The last window ends at `length`; nothing is dropped. An empty input gives
  no windows.
  """
  if window <= 0:
    raise ValueError("window must be positive, got %d" % window)
  if stride <= 0:
    raise ValueError("stride must be positive, got %d" % stride)
  windows = []
  start = 0
  while start < length:
    size = min(window, length - start)
    windows.append((start, size))
    if start + size >= length:
      break
    start += min(size, stride)
  return windows


def best_window_per_position(length, windows):
  """For each position, the index of the window where it has most context.

  The score of a position in a window is min(left context, right context) plus
  0.01 * window size; ties go to the earlier window. Each position gets
  exactly one window, so overlapping windows score each position once.
  """
  best = [-1] * length
  best_score = [None] * length
  for w, (start, size) in enumerate(windows):
    for pos in range(start, start + size):
      score = min(pos - start, start + size - 1 - pos) + 0.01 * size
      if best_score[pos] is None or score > best_score[pos]:
        best_score[pos] = score
        best[pos] = w
  return best


def _pad(values, length, value=0):
  return values + [value] * (length - len(values))


# ---------------------------------------------------------------------------
# Classification features
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
  stats = _new_stats("features", "truncated")
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
    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    features.append(record_schema.CLASSIFICATION.make_record(
        unique_id=[unique_id_start + i],
        input_ids=_pad(input_ids, max_seq_length),
        input_mask=_pad([1] * len(input_ids), max_seq_length),
        segment_ids=_pad(segment_ids, max_seq_length),
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
# Span extraction features and decoding
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


def _answer_token_span(context, answer, starts, ends):
  """Token indexes [first, last] covering the answer, or None.

  None when the answer text does not match the context at its offset, or the
  answer covers no token (e.g. only whitespace).
  """
  s = answer["answer_start"]
  e = s + len(answer["text"])
  if not answer["text"] or context[s:e] != answer["text"]:
    return None
  first = last = None
  for i, (ts, te) in enumerate(zip(starts, ends)):
    if te > s and ts < e:
      if first is None:
        first = i
      last = i
  if first is None:
    return None
  return first, last


def convert_span_examples(examples, tokenizer, max_seq_length, doc_stride,
                          max_query_length, is_training,
                          unique_id_start=1000000000):
  """Tokenizes questions and contexts into [CLS] q [SEP] window [SEP] features.

  Context tokens keep their character spans (`tokenize_with_offsets`), so the
  alignment holds for Chinese characters, English words and digits alike.
  Training uses each question's first answer that matches its context; a
  question whose answers all mismatch is skipped (`stats["skipped_mismatch"]`).
  A window that does not contain the whole answer points at [CLS] (0, 0).
  Empty contexts give no features (prediction: the empty string).
  """
  stats = _new_stats("features", "skipped_mismatch", "empty_context",
                     "answer_outside_window", "truncated_query")
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
        answer_span = _answer_token_span(ex.context, answer, starts, ends)
        if answer_span is not None:
          break
      if answer_span is None:
        stats["skipped_mismatch"] += 1
        continue
    max_doc_tokens = max_seq_length - len(query_tokens) - 3
    if max_doc_tokens <= 0:
      raise ValueError("max_seq_length %d leaves no room for the context "
                       "after a %d-token question" %
                       (max_seq_length, len(query_tokens)))
    windows = make_windows(len(doc_tokens), max_doc_tokens, doc_stride)
    best = best_window_per_position(len(doc_tokens), windows)
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
      input_ids = tokenizer.convert_tokens_to_ids(tokens)
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
          input_ids=_pad(input_ids, max_seq_length),
          input_mask=_pad([1] * len(input_ids), max_seq_length),
          segment_ids=_pad(segment_ids, max_seq_length),
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
    results: dict unique_id -> (start_logits, end_logits), each a list over
      the input positions.
    n_best_size: candidates kept per question (and start/end indexes tried
      per window).
    max_answer_length: longest answer, in tokens.

  Returns:
    (predictions, nbest): OrderedDicts keyed by question id; predictions maps
    to the best text ("" if no valid span), nbest to a list of dicts with
    text, probability, start_logit, end_logit.
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
# Tagging features, reassembly and entity F1
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
  stats = _new_stats("features", "windowed_sentences", "unk_tokens")
  features = []
  cache = {}
  unique_id = unique_id_start
  for ex_index, ex in enumerate(examples):
    pieces = [token_to_wordpiece(tokenizer, t, cache) for t in ex.tokens]
    stats["unk_tokens"] += sum(1 for p in pieces if p == "[UNK]")
    windows = make_windows(len(pieces), window, stride)
    if len(windows) > 1:
      stats["windowed_sentences"] += 1
    best = best_window_per_position(len(pieces), windows)
    for w, (start, size) in enumerate(windows):
      tokens = ["[CLS]"] + pieces[start:start + size] + ["[SEP]"]
      input_ids = tokenizer.convert_tokens_to_ids(tokens)
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
          input_ids=_pad(input_ids, max_seq_length),
          input_mask=_pad([1] * len(input_ids), max_seq_length),
          segment_ids=[0] * max_seq_length,
          label_ids=_pad(label_ids, max_seq_length),
          label_mask=_pad(label_mask, max_seq_length)))
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
