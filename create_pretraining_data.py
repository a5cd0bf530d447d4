# coding=utf-8
"""Creates LERT pretraining data: annotate once, then mask many times.

Two stages (`--stage=annotate|build|all`), each sharded and resumable:

1. annotate: raw text -> annotation cache (`--cache_dir`). The input is cut into
   shards of about `--shard_size_mb` at document boundaries; every shard is read,
   cleaned, split into sentences, annotated (`--annotator=jieba|ltp`, see
   annotators.py) and stored as JSON lines, one document a line:
     {"line": L, "sentences": [[text, word_lengths, pos, entities(, dep, heads)]]}
   Tags are LTP's; mapping into LERT's inventories happens in stage 2, where
   it is counted. This is the expensive step (LTP on GPUs at corpus scale).
2. build: cache -> TFRecords (`--output_dir`), one output shard per cache shard.
   Each document is tokenized once, then `--dupe_factor` times cut into
   instances and masked with different random choices.

Input formats (`--input_format`): `sentence_per_line` (BERT's: one sentence a
line, a blank line between documents), `doc_per_line` (a document a line, split
into sentences), `wikiextractor` (`<doc ...>` ... `</doc>`, a paragraph a line,
the title line dropped, paragraphs split into sentences). Sentence splitting
uses LTP's StnSplit with English rules off, or a rule-based fallback where
ltp-extension is not installed (`--sentence_splitter`, annotators.py).

Labels (SPEC §4): every character gets its word's POS and DEP relation and BIES
NER over entity spans (linguistics.character_labels); a word piece takes the
labels of its first character. An annotator that does not label a task (jieba:
DEP) writes 0 for it; the sidecar's `labelled_tasks` says so and training must
give that head zero weight.

Instances (SPEC §7, no NSP): consecutive sentences of one document fill
[CLS] ... [SEP] up to max_seq_length (with `--short_seq_prob` a shorter random
target, as in BERT). A sentence that does not fit an empty instance is cut at a
word boundary and continues in the next one; a word is only ever cut when it is
alone longer than the sequence (counted). Nothing is dropped.

Masking: whole words of the annotator, N-grams of whole words. The number of
predictions is round(tokens * masked_lm_prob) (at least 1, at most
max_predictions_per_seq). Word starts are visited in random order; n is drawn
from `--ngram_probs`, and the n words from the current start are masked if the
instance has them and none is masked yet (else n waits for the next start).
When an N-gram would exceed what is left of the budget, drawing stops and the
rest is filled with the longest free runs of up to N words that fit, in random
order. N-grams are never shortened; on Chinese Wikipedia with 0.4/0.3/0.2/0.1
their shares are 0.41/0.30/0.19/0.10 at 512/75 (0.43/0.29/0.19/0.09 with the
fill) and 0.45/0.30/0.18/0.07 at 128/20, where only ~4 N-grams fit a budget of
19 and the one that no longer fits is more often long. The statistics report
both shares. An instance whose every word is longer than the budget gets its
shortest word masked. A word is never partly masked. Each masked token becomes
[MASK], a random token or stays, per `--replacement_probs` (BERT's 80/10/10);
random tokens are drawn uniformly from the vocabulary without its [bracketed]
special entries.

Output: `pretraining-SSSSS-of-NNNNN.tfrecord` with tf.train.Examples exactly as
SPEC §6 (written by this module's own TFRecord writer, so no process of the
generator imports TensorFlow; the tests read the files back with TensorFlow),
instances shuffled within a shard, and `lert_data.json` (the sidecar read by
run_pretraining.py: annotator, labelled_tasks, inventories, lengths, flags,
statistics, mapped tags).

Scale and safety: `--num_workers` processes work on whole shards; every random
choice comes from a seed derived from `--random_seed` and the shard number, so
the output is byte-identical whatever the number of workers. Files are written
under a temporary name and renamed; a shard counts as done when its statistics
file in `.progress/` exists, so a re-run after an interruption redoes only
unfinished shards (one run per directory at a time). Memory per worker is
bounded by one shard (its instances are shuffled in memory), not by the
corpus. Progress with rate and ETA goes to stderr, and a statistics report at
the end.
"""

import bisect
import collections
import concurrent.futures
import concurrent.futures.process
import glob
import hashlib
import json
import multiprocessing
import os
import random
import re
import struct
import sys
import threading
import time
import unicodedata

import annotators
import linguistics
import pretraining_data
import tokenization

try:
  import resource
except ImportError:  # not on Windows; peak memory is then not reported
  resource = None

INPUT_FORMATS = ("sentence_per_line", "doc_per_line", "wikiextractor")
STAGES = ("annotate", "build", "all")
CACHE_FORMAT = "lert-annotation-cache/1"
DATA_FORMAT = "lert-pretraining-data/1"
MANIFEST = "manifest.json"
PROGRESS_DIR = ".progress"
BUILD_CONFIG = "build.json"
SIDECAR = pretraining_data.DIRECTORY_SIDECAR
CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"
# Sentences are annotated in groups of this many (LTP batches within a group).
ANNOTATION_GROUP = 1024
# Up to this many file:line examples are kept per kind of bad input.
MAX_EXAMPLES = 5


class DataError(Exception):
  """Bad input, options or files: the message is for the user (no traceback)."""


# --- Options -----------------------------------------------------------------------


class Options(object):
  """Every setting of a run; main() fills it from flags, tests build it directly."""

  DEFAULTS = collections.OrderedDict([
      ("stage", "all"),
      ("input_file", ""),
      ("input_format", "sentence_per_line"),
      ("cache_dir", ""),
      ("output_dir", ""),
      ("vocab_file", ""),
      ("do_lower_case", True),
      ("max_seq_length", 128),
      ("max_predictions_per_seq", 20),
      ("random_seed", 12345),
      ("dupe_factor", 10),
      ("masked_lm_prob", 0.15),
      ("short_seq_prob", 0.1),
      ("ngram_probs", (0.4, 0.3, 0.2, 0.1)),
      ("replacement_probs", (0.8, 0.1, 0.1)),
      ("annotator", "jieba"),
      ("ltp_model", ""),
      ("ltp_batch_size", 32),
      ("ltp_device", ""),
      ("sentence_splitter", "auto"),
      ("num_workers", 1),
      ("shard_size_mb", 1.0),
  ])

  def __init__(self, **kwargs):
    unknown = sorted(set(kwargs) - set(self.DEFAULTS))
    if unknown:
      raise TypeError("unknown option(s): %s" % ", ".join(unknown))
    for name, default in self.DEFAULTS.items():
      setattr(self, name, kwargs.get(name, default))
    self.ngram_probs = tuple(float(p) for p in self.ngram_probs)
    self.replacement_probs = tuple(float(p) for p in self.replacement_probs)

  def annotator_options(self):
    return {"ltp_model": self.ltp_model, "ltp_batch_size": self.ltp_batch_size,
            "ltp_device": self.ltp_device or None}

  def resolved_cache_dir(self):
    """--cache_dir, or `<output_dir>/.annotations` for --stage=all."""
    if self.cache_dir:
      return self.cache_dir
    return os.path.join(self.output_dir, ".annotations")


def validate_options(options):
  """Raises DataError for settings that cannot work (before any work starts)."""
  def need(condition, message):
    if not condition:
      raise DataError(message)
  need(options.stage in STAGES, "--stage must be one of %s, got %r" %
       (", ".join(STAGES), options.stage))
  need(options.input_format in INPUT_FORMATS, "--input_format must be one of "
       "%s, got %r" % (", ".join(INPUT_FORMATS), options.input_format))
  need(options.sentence_splitter in annotators.SPLITTERS,
       "--sentence_splitter must be one of %s, got %r" %
       (", ".join(annotators.SPLITTERS), options.sentence_splitter))
  if options.stage in ("annotate", "all"):
    need(options.input_file, "--input_file is required for --stage=%s" % options.stage)
  if options.stage in ("annotate", "build"):
    need(options.cache_dir, "--cache_dir is required for --stage=%s" % options.stage)
  if options.stage in ("build", "all"):
    need(options.output_dir, "--output_dir is required for --stage=%s" % options.stage)
    need(options.vocab_file, "--vocab_file is required for --stage=%s" % options.stage)
    need(os.path.isfile(options.vocab_file),
         "--vocab_file %s: no such file" % options.vocab_file)
  need(options.max_seq_length >= 3, "--max_seq_length must be >= 3 ([CLS], a "
       "token, [SEP]), got %d" % options.max_seq_length)
  need(options.max_predictions_per_seq >= 1,
       "--max_predictions_per_seq must be >= 1, got %d" %
       options.max_predictions_per_seq)
  need(options.dupe_factor >= 1, "--dupe_factor must be >= 1, got %d" %
       options.dupe_factor)
  need(0.0 < options.masked_lm_prob <= 1.0, "--masked_lm_prob must be in (0, 1], "
       "got %s" % options.masked_lm_prob)
  need(0.0 <= options.short_seq_prob <= 1.0, "--short_seq_prob must be in "
       "[0, 1], got %s" % options.short_seq_prob)
  need(options.ngram_probs and all(p >= 0 for p in options.ngram_probs) and
       sum(options.ngram_probs) > 0, "--ngram_probs must be non-negative "
       "weights of 1..N-grams with a positive sum, got %r" % (options.ngram_probs,))
  need(len(options.replacement_probs) == 3 and
       all(p >= 0 for p in options.replacement_probs) and
       abs(sum(options.replacement_probs) - 1.0) < 1e-6,
       "--replacement_probs must be three probabilities (mask, random, keep) "
       "summing to 1, got %r" % (options.replacement_probs,))
  need(options.num_workers >= 1, "--num_workers must be >= 1, got %d" %
       options.num_workers)
  need(options.shard_size_mb > 0, "--shard_size_mb must be > 0, got %s" %
       options.shard_size_mb)
  need(options.ltp_batch_size >= 1, "--ltp_batch_size must be >= 1, got %d" %
       options.ltp_batch_size)


# --- Small helpers -------------------------------------------------------------------


def _log(message):
  sys.stderr.write("[create_pretraining_data] %s\n" % message)
  sys.stderr.flush()


def _write_atomically(path, data):
  """Writes bytes (or an iterable of bytes) to `path` via a temporary file and
  a rename, so that `path` either does not exist or is complete."""
  tmp = "%s.tmp-%d" % (path, os.getpid())
  with open(tmp, "wb") as handle:
    if isinstance(data, bytes):
      handle.write(data)
    else:
      for chunk in data:
        handle.write(chunk)
    handle.flush()
    os.fsync(handle.fileno())
  os.replace(tmp, path)


def _json_bytes(value):
  return (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) +
          "\n").encode("utf-8")


def _read_json(path):
  try:
    with open(path, encoding="utf-8") as handle:
      return json.load(handle)
  except ValueError as e:
    raise DataError("%s: not valid JSON (%s); delete it to start that part over"
                    % (path, e))


def _ensure_writable_dir(path, flag):
  """Creates `path` and proves a file can be written there, or raises DataError."""
  try:
    os.makedirs(os.path.join(path, PROGRESS_DIR), exist_ok=True)
    probe = os.path.join(path, PROGRESS_DIR, ".write-test-%d" % os.getpid())
    with open(probe, "wb") as handle:
      handle.write(b"ok")
    os.remove(probe)
  except OSError as e:
    raise DataError("--%s %s is not writable: %s" % (flag, path, e))


def _remove_stale_temporaries(path):
  """Deletes the temporary files a killed run left (they never look finished)."""
  for directory in (path, os.path.join(path, PROGRESS_DIR)):
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
      if ".tmp-" in name:
        os.remove(os.path.join(directory, name))


def _add_counts(total, counts):
  """Adds nested dicts of numbers (and lists of examples) into `total`."""
  for key, value in counts.items():
    if isinstance(value, dict):
      _add_counts(total.setdefault(key, {}), value)
    elif isinstance(value, list):
      examples = total.setdefault(key, [])
      examples.extend(value[:max(0, MAX_EXAMPLES - len(examples))])
    else:
      total[key] = total.get(key, 0) + value
  return total


def _peak_rss_mb():
  if resource is None:
    return None
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def shard_seed(random_seed, shard_index):
  """A stable 64-bit seed of (random_seed, shard): independent of worker order."""
  digest = hashlib.sha256(b"lert-data:%d:%d" % (random_seed, shard_index)).digest()
  return int.from_bytes(digest[:8], "big")


def file_sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as handle:
    for block in iter(lambda: handle.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


# --- Reading input -------------------------------------------------------------------


def expand_input_patterns(patterns):
  """Comma-separated globs -> sorted existing files; DataError if one matches none."""
  files = []
  for pattern in [p.strip() for p in patterns.split(",") if p.strip()]:
    matches = sorted(glob.glob(os.path.expanduser(pattern)))
    if not matches:
      raise DataError("--input_file %s: no such file (the pattern matched nothing)"
                      % pattern)
    for match in matches:
      if os.path.isdir(match):
        raise DataError("--input_file %s is a directory; give files or globs "
                        "such as %s/*.txt" % (match, match))
      path = os.path.abspath(match)
      if path not in files:
        files.append(path)
  if not files:
    raise DataError("--input_file names no file")
  return files


def _is_document_boundary(line, input_format):
  """May a shard end after this raw line?"""
  if input_format == "doc_per_line":
    return True
  if input_format == "wikiextractor":
    return line.startswith(b"</doc>")
  return not line.strip()


def plan_shards(files, input_format, shard_bytes):
  """Cuts each file into shards of about `shard_bytes` at document boundaries.

  Returns [(file_index, start, end, first_line)] byte ranges. One pass over the
  bytes; the plan depends only on the files and the size, never on workers.
  """
  shards = []
  for file_index, path in enumerate(files):
    offset = start = 0
    line_number, first_line = 0, 1
    with open(path, "rb") as handle:
      for line in handle:
        line_number += 1
        offset += len(line)
        if (offset - start >= shard_bytes and
            _is_document_boundary(line, input_format)):
          shards.append((file_index, start, offset, first_line))
          start, first_line = offset, line_number + 1
    if offset > start or start == 0:
      shards.append((file_index, start, offset, first_line))
  return shards


class _ControlTable(dict):
  """str.translate table deleting what BERT's tokenizer drops anyway (category
  C characters except tab, as LERT's rule says, and U+FFFD), so that the
  annotators never see characters that no token will carry."""

  def __missing__(self, code):
    char = chr(code)
    drop = code == 0xFFFD or (char != "\t" and
                              unicodedata.category(char).startswith("C"))
    value = None if drop else code
    self[code] = value
    return value


_CONTROL_TABLE = _ControlTable()


def _example(counts, key, where):
  examples = counts.setdefault(key, [])
  if len(examples) < MAX_EXAMPLES:
    examples.append(where)


def read_shard_lines(path, start, end, first_line, stats):
  """Returns [(line_number, text)] of a byte range, cleaned of control characters.

  Invalid UTF-8 is replaced by U+FFFD (then removed, as BERT's tokenizer does)
  and the lines are counted with the file:line of the first few.
  """
  with open(path, "rb") as handle:
    handle.seek(start)
    data = handle.read(end - start)
  if start == 0 and data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
  raw_lines = data.split(b"\n")
  if raw_lines and raw_lines[-1] == b"":
    raw_lines.pop()
  try:
    lines = data.decode("utf-8").split("\n")
    if lines and lines[-1] == "":
      lines.pop()
    strict = len(lines) == len(raw_lines)
  except UnicodeDecodeError:
    strict = False
  if not strict:
    lines = []
    for offset, raw in enumerate(raw_lines):
      try:
        lines.append(raw.decode("utf-8"))
      except UnicodeDecodeError:
        lines.append(raw.decode("utf-8", "replace"))
        stats["bad_utf8_lines"] = stats.get("bad_utf8_lines", 0) + 1
        _example(stats, "bad_utf8_examples", "%s:%d" % (path, first_line + offset))
  removed = 0
  numbered = []
  for offset, line in enumerate(lines):
    if line.endswith("\r"):
      line = line[:-1]
    if not line.isprintable() or u"\ufffd" in line:
      cleaned = line.translate(_CONTROL_TABLE)
      removed += len(line) - len(cleaned)
      line = cleaned
    numbered.append((first_line + offset, line))
  if removed:
    stats["chars_removed"] = stats.get("chars_removed", 0) + removed
  return numbered


_DOC_TITLE = re.compile(r'\btitle="([^"]*)"')


def iter_documents(lines, input_format, split_sentences, stats, where):
  """Groups (line_number, text) into documents: yields (first_line, paragraphs).

  For sentence_per_line every paragraph is one sentence; for the other formats
  paragraphs are split into sentences by the caller's `split_sentences` here.
  """
  def finish(first, paragraphs):
    sentences = []
    for paragraph in paragraphs:
      if input_format == "sentence_per_line":
        sentences.append(paragraph)
      else:
        sentences.extend(split_sentences(paragraph))
    if not sentences:
      stats["empty_documents"] = stats.get("empty_documents", 0) + 1
      _example(stats, "empty_document_examples", "%s:%d" % (where, first))
      return None
    return first, sentences

  if input_format == "sentence_per_line":
    # A blank line (or one left blank by cleaning) ends a document; runs of
    # blank lines are just separators.
    first, paragraphs = None, []
    for number, line in lines:
      text = line.strip()
      if text:
        if first is None:
          first = number
        paragraphs.append(text)
      elif first is not None:
        yield finish(first, paragraphs)  # never None: it has paragraphs
        first, paragraphs = None, []
    if first is not None:
      yield finish(first, paragraphs)
  elif input_format == "doc_per_line":
    for number, line in lines:
      text = line.strip()
      if text:
        document = finish(number, [text])
        if document:
          yield document
      else:
        finish(number, [])  # a blank line is an empty document: counted
  else:
    inside, first, title, paragraphs = False, None, None, []
    for number, line in lines:
      if line.startswith("<doc"):
        match = _DOC_TITLE.search(line)
        if inside:
          stats["unterminated_documents"] = stats.get("unterminated_documents", 0) + 1
          _example(stats, "unterminated_document_examples", "%s:%d" % (where, first))
          document = finish(first, paragraphs)
          if document:
            yield document
        inside, first, paragraphs = True, number, []
        title = match.group(1) if match and match.group(1) else None
        continue
      if line.startswith("</doc>"):
        if inside:
          document = finish(first, paragraphs)
          if document:
            yield document
        else:
          stats["lines_outside_documents"] = stats.get("lines_outside_documents", 0) + 1
        inside, first, title, paragraphs = False, None, None, []
        continue
      text = line.strip()
      if not text:
        continue
      if not inside:
        stats["lines_outside_documents"] = stats.get("lines_outside_documents", 0) + 1
        _example(stats, "lines_outside_documents_examples", "%s:%d" % (where, number))
        continue
      if title is not None and not paragraphs and text == title.strip():
        continue  # WikiExtractor repeats the title as the first line
      paragraphs.append(text)
    if inside:
      stats["unterminated_documents"] = stats.get("unterminated_documents", 0) + 1
      _example(stats, "unterminated_document_examples", "%s:%d" % (where, first))
      document = finish(first, paragraphs)
      if document:
        yield document


# --- Stage 1: annotation ------------------------------------------------------------


def _check_annotation(text, annotation, labelled_tasks):
  """Why `annotation` does not fit `text`, or None if it does."""
  if annotation is None:
    return "the annotator failed on it"
  words = annotation.words
  if "".join(words) != text:
    return "its words do not spell the sentence"
  if any(not word for word in words):
    return "it has an empty word"
  if len(annotation.pos) != len(words):
    return "%d POS tags for %d words" % (len(annotation.pos), len(words))
  for entity in annotation.entities:
    if not (len(entity) == 3 and 0 <= entity[1] <= entity[2] < len(words)):
      return "entity %r outside its %d words" % (entity, len(words))
  if "dep" in labelled_tasks:
    if annotation.dep is None or len(annotation.dep) != len(words):
      return "the dependency relations do not match its words"
    if annotation.heads is None or len(annotation.heads) != len(words):
      return "the dependency heads do not match its words"
  return None


def _sentence_record(text, annotation, labelled_tasks):
  record = [text, [len(word) for word in annotation.words], list(annotation.pos),
            [[t, s, e] for t, s, e in annotation.entities]]
  if "dep" in labelled_tasks:
    record.append(list(annotation.dep))
    record.append([int(h) for h in annotation.heads])
  return record


def annotate_documents(documents, annotator, where, stats, report=None):
  """Annotates (first_line, sentences) documents in groups; yields cache records.

  A sentence the annotator cannot annotate consistently is dropped, counted and
  its file:line kept as an example; nothing else is lost.
  """
  labelled = set(annotator.labelled_tasks)
  pending, pending_sentences = [], 0

  def flush():
    texts = [text for _, sentences in pending for text in sentences]
    results = annotator.annotate(texts)
    if len(results) != len(texts):
      raise DataError("annotator %s returned %d annotations for %d sentences" %
                      (annotator.name, len(results), len(texts)))
    results = iter(results)
    for first, sentences in pending:
      records = []
      for text in sentences:
        annotation = next(results)
        problem = _check_annotation(text, annotation, labelled)
        if problem:
          stats["sentences_dropped"] = stats.get("sentences_dropped", 0) + 1
          _example(stats, "sentences_dropped_examples",
                   "%s:%d, document starting there: %s" % (where, first, problem))
          continue
        records.append(_sentence_record(text, annotation, labelled))
      if records:
        stats["documents"] = stats.get("documents", 0) + 1
        stats["sentences"] = stats.get("sentences", 0) + len(records)
        stats["characters"] = stats.get("characters", 0) + sum(
            len(r[0]) for r in records)
        yield {"line": first, "sentences": records}
      else:
        stats["empty_documents"] = stats.get("empty_documents", 0) + 1

  for first, sentences in documents:
    pending.append((first, sentences))
    pending_sentences += len(sentences)
    if pending_sentences >= ANNOTATION_GROUP:
      for record in flush():
        yield record
      if report:
        report(first)
      pending, pending_sentences = [], 0
  if pending:
    for record in flush():
      yield record


# --- Stage 2: instances and masks -----------------------------------------------------


class Segment(object):
  """A tokenized sentence: ids, label ids per token (None: task unlabelled) and
  the token indexes where the annotator's words start."""

  __slots__ = ("ids", "pos", "ner", "dep", "word_starts")

  def __init__(self, ids, pos, ner, dep, word_starts):
    self.ids, self.pos, self.ner, self.dep = ids, pos, ner, dep
    self.word_starts = word_starts


def tokenize_sentence(record, tokenizer, mapper, labelled_tasks):
  """A cached sentence -> Segment (SPEC §4 alignment: a piece takes the labels
  and the word of its first character)."""
  text, lengths, pos_tags, entities = record[0], record[1], record[2], record[3]
  dep = record[4] if len(record) > 4 and "dep" in labelled_tasks else None
  words, char_word, offset = [], [], 0
  for index, length in enumerate(lengths):
    words.append(text[offset:offset + length])
    char_word.extend([index] * length)
    offset += length
  labels = linguistics.character_labels(
      words,
      pos_tags if "pos" in labelled_tasks else None,
      dep,
      entities if "ner" in labelled_tasks else None,
      mapper)
  tokens, starts, _ = tokenizer.tokenize_with_offsets(text)
  vocab = tokenizer.vocab
  ids = [vocab[token] for token in tokens]
  token_words = [char_word[start] for start in starts]
  word_starts = [i for i in range(len(token_words))
                 if i == 0 or token_words[i] != token_words[i - 1]]

  def per_token(task):
    values = labels.get(task)
    return None if values is None else [values[start] for start in starts]
  return Segment(ids, per_token("pos"), per_token("ner"), per_token("dep"),
                 word_starts)


class Instance(object):
  """One training sequence before serialization (tests inspect these)."""

  __slots__ = ("input_ids", "num_tokens", "positions", "original_ids", "pos",
               "ner", "dep", "word_starts", "ngram_lengths", "fill_lengths",
               "replacements")

  def __init__(self, **kwargs):
    for name in self.__slots__:
      setattr(self, name, kwargs.get(name))


class InstanceBuilder(object):
  """Cuts a document's segments into instances and masks them (one rng per shard)."""

  def __init__(self, options, vocab):
    self.max_seq_length = options.max_seq_length
    self.max_tokens = options.max_seq_length - 2
    self.max_predictions = options.max_predictions_per_seq
    self.masked_lm_prob = options.masked_lm_prob
    self.short_seq_prob = options.short_seq_prob
    total = float(sum(options.ngram_probs))
    self.ngram_cumulative = []
    running = 0.0
    for p in options.ngram_probs:
      running += p / total
      self.ngram_cumulative.append(running)
    self.ngram_cumulative[-1] = 1.0
    self.mask_prob = options.replacement_probs[0]
    self.random_prob = options.replacement_probs[0] + options.replacement_probs[1]
    self.cls_id, self.sep_id, self.mask_id = vocab[CLS], vocab[SEP], vocab[MASK]
    # Random replacements: real tokens only, never [PAD], [unusedN], [CLS]...
    self.random_ids = [i for token, i in vocab.items()
                       if not (token.startswith("[") and token.endswith("]"))]

  def _target_length(self, rng):
    if self.short_seq_prob and rng.random() < self.short_seq_prob:
      return 2 + int(rng.random() * (self.max_tokens - 1))  # 2..max_tokens
    return self.max_tokens

  def _cut(self, segment, start, room, stats):
    """End of the piece of `segment` from `start` holding at most `room` tokens
    (not cutting a word, unless a single word is longer than a sequence)."""
    starts = segment.word_starts
    limit = start + room
    index = bisect.bisect_right(starts, limit) - 1
    if index >= 0 and starts[index] > start:
      return starts[index]
    # The first word alone exceeds `room`: take it whole if it fits a sequence.
    index = bisect.bisect_right(starts, start)
    word_end = starts[index] if index < len(starts) else len(segment.ids)
    if word_end - start <= self.max_tokens:
      return word_end
    stats["words_cut"] = stats.get("words_cut", 0) + 1
    return start + self.max_tokens

  def create_instances(self, segments, rng, stats):
    """All instances of one document (one pass: call once per dupe)."""
    instances = []
    pieces, length = [], 0
    target = self._target_length(rng)
    for segment in segments:
      size = len(segment.ids)
      start = 0
      while start < size:
        rest = size - start
        if rest <= target - length:
          pieces.append((segment, start, size))
          length += rest
          break
        if pieces:
          instances.append(self._instance(pieces, length, rng, stats))
          pieces, length = [], 0
          target = self._target_length(rng)
          continue
        end = self._cut(segment, start, target, stats)
        stats["sentences_split"] = stats.get("sentences_split", 0) + 1
        instances.append(self._instance([(segment, start, end)], end - start,
                                        rng, stats))
        target = self._target_length(rng)
        start = end
    if pieces:
      instances.append(self._instance(pieces, length, rng, stats))
    return instances

  def _instance(self, pieces, length, rng, stats):
    ids = [self.cls_id]
    pos, ner, dep = [0], [0], [0]
    has = {"pos": True, "ner": True, "dep": True}
    word_starts = []
    for segment, start, end in pieces:
      base = len(ids) - start
      ids.extend(segment.ids[start:end])
      for task, values in (("pos", pos), ("ner", ner), ("dep", dep)):
        source = getattr(segment, task)
        if source is None:
          has[task] = False
        else:
          values.extend(source[start:end])
      first = bisect.bisect_left(segment.word_starts, start)
      if first == len(segment.word_starts) or segment.word_starts[first] != start:
        word_starts.append(start + base)  # a piece starting inside a word
      for word_start in segment.word_starts[first:]:
        if word_start >= end:
          break
        word_starts.append(word_start + base)
    ids.append(self.sep_id)
    return self._mask(ids, length, word_starts,
                      pos if has["pos"] else None,
                      ner if has["ner"] else None,
                      dep if has["dep"] else None, rng, stats)

  def _mask(self, ids, num_tokens, word_starts, pos, ner, dep, rng, stats):
    """Whole-word N-gram masking of one instance (the hot loop)."""
    budget = min(self.max_predictions,
                 max(1, int(num_tokens * self.masked_lm_prob + 0.5)))
    num_words = len(word_starts)
    bounds = word_starts + [num_tokens + 1]  # token positions ([CLS] = 0)
    order = list(range(num_words))
    covered = bytearray(num_words)
    cumulative = self.ngram_cumulative
    positions, ngram_lengths, fill_lengths = [], [], []
    random_value = rng.random
    step = 0
    n = 0
    while budget > 0 and step < num_words:
      # Lazy Fisher-Yates: the next word of a random order, without shuffling all.
      swap = step + int(random_value() * (num_words - step))
      order[step], order[swap] = order[swap], order[step]
      first = order[step]
      step += 1
      if covered[first]:
        continue
      if not n:
        n = bisect.bisect_right(cumulative, random_value()) + 1
      end = first + n
      if end > num_words or any(covered[first:end]):
        # n waits for the next start where it fits: placing N-grams whole,
        # never shortened, keeps their shares those of the flag.
        continue
      if bounds[end] - bounds[first] > budget:
        break  # the budget is nearly spent: the fill below completes it
      n = 0
      for word in range(first, end):
        covered[word] = 1
      positions.extend(range(bounds[first], bounds[end]))
      budget -= bounds[end] - bounds[first]
      ngram_lengths.append(end - first)
    if budget > 0:
      # What the drawn N-grams could not fill (the end of the budget, dense
      # masking): the longest free runs of up to N words that fit, in random
      # order (the rest of the lazy shuffle).
      for rest in range(step, num_words):
        swap = rest + int(random_value() * (num_words - rest))
        order[rest], order[swap] = order[swap], order[rest]
      max_n = len(cumulative)
      for first in order:
        if budget <= 0:
          break
        end = first
        while (end < num_words and end - first < max_n and not covered[end] and
               bounds[end + 1] - bounds[first] <= budget):
          end += 1
        if end > first:
          for word in range(first, end):
            covered[word] = 1
          positions.extend(range(bounds[first], bounds[end]))
          budget -= bounds[end] - bounds[first]
          fill_lengths.append(end - first)
      if not positions and num_words:
        # Every word is longer than the budget: mask the shortest one that fits
        # max_predictions_per_seq, so that the instance still teaches something.
        sizes = [(bounds[w + 1] - bounds[w], w) for w in range(num_words)]
        size, word = min(sizes)
        if size <= self.max_predictions:
          positions.extend(range(bounds[word], bounds[word + 1]))
          fill_lengths.append(1)
        else:
          stats["instances_without_masks"] = stats.get("instances_without_masks", 0) + 1
    positions.sort()
    original = [ids[p] for p in positions]
    replaced = list(ids)
    replacements = [0, 0, 0]
    for p in positions:
      r = random_value()
      if r < self.mask_prob:
        replaced[p] = self.mask_id
        replacements[0] += 1
      elif r < self.random_prob:
        replaced[p] = self.random_ids[int(random_value() * len(self.random_ids))]
        replacements[1] += 1
      else:
        replacements[2] += 1
    return Instance(
        input_ids=replaced, num_tokens=num_tokens, positions=positions,
        original_ids=original,
        pos=[pos[p] for p in positions] if pos is not None else None,
        ner=[ner[p] for p in positions] if ner is not None else None,
        dep=[dep[p] for p in positions] if dep is not None else None,
        word_starts=word_starts, ngram_lengths=ngram_lengths,
        fill_lengths=fill_lengths, replacements=replacements)


# --- TFRecords without TensorFlow -------------------------------------------------------


def _varint(value):
  out = bytearray()
  while True:
    bits = value & 0x7F
    value >>= 7
    if value:
      out.append(bits | 0x80)
    else:
      out.append(bits)
      return bytes(out)


_SMALL_VARINTS = [_varint(i) for i in range(1 << 14)]


def _field(number, payload):
  """A length-delimited protobuf field."""
  length = len(payload)
  return (_SMALL_VARINTS[number << 3 | 2] +
          (_SMALL_VARINTS[length] if length < 16384 else _varint(length)) + payload)


class ExampleEncoder(object):
  """Serializes pretraining instances as tf.train.Example protos (SPEC §6).

  Byte-identical to `tf.train.Example.SerializeToString(deterministic=True)`
  (map entries in key order), which the tests check.
  """

  INT64_FEATURES = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions",
                    "masked_lm_ids", "pos_labels", "ner_labels", "dep_labels")

  def __init__(self, max_seq_length, max_predictions, vocab_size):
    self.max_seq_length = max_seq_length
    self.max_predictions = max_predictions
    self._varints = [_varint(i) for i in range(max(vocab_size, max_seq_length) + 1)]
    self._mask_cache = {}
    self._weights_cache = {}
    self._segment_entry = self._int64_entry("segment_ids", [0] * max_seq_length)

  def _packed(self, values, length):
    varints = self._varints
    return (b"".join([varints[v] for v in values]) +
            b"\x00" * (length - len(values)))

  @staticmethod
  def _entry(name, feature):
    key = name.encode("ascii")
    return _field(1, _field(1, key) + _field(2, feature))

  def _int64_entry(self, name, values, length=None):
    packed = self._packed(values, length or len(values))
    # Feature.int64_list (field 3) -> Int64List.value (field 1, packed).
    return self._entry(name, _field(3, _field(1, packed) if packed else b""))

  def encode(self, instance):
    seq, preds = self.max_seq_length, self.max_predictions
    count = len(instance.positions)
    entries = {}
    entries["input_ids"] = self._int64_entry("input_ids", instance.input_ids, seq)
    mask = self._mask_cache.get(len(instance.input_ids))
    if mask is None:
      mask = self._int64_entry("input_mask", [1] * len(instance.input_ids), seq)
      self._mask_cache[len(instance.input_ids)] = mask
    entries["input_mask"] = mask
    entries["segment_ids"] = self._segment_entry
    entries["masked_lm_positions"] = self._int64_entry(
        "masked_lm_positions", instance.positions, preds)
    entries["masked_lm_ids"] = self._int64_entry(
        "masked_lm_ids", instance.original_ids, preds)
    weights = self._weights_cache.get(count)
    if weights is None:
      values = struct.pack("<%df" % preds, *([1.0] * count + [0.0] * (preds - count)))
      # Feature.float_list (field 2) -> FloatList.value (field 1, packed).
      weights = self._entry("masked_lm_weights", _field(2, _field(1, values)))
      self._weights_cache[count] = weights
    entries["masked_lm_weights"] = weights
    for task in linguistics.TASKS:
      values = getattr(instance, task)
      entries[task + "_labels"] = self._int64_entry(
          task + "_labels", values if values is not None else [], preds)
    features = b"".join(entries[name] for name in sorted(entries))
    return _field(1, features)


class Crc32c(object):
  """CRC-32C (Castagnoli) with NumPy, for TFRecord framing.

  CRC is linear: crc(m) = C[n] xor (xor over i of T[n-1-i][m_i]), where T[k][b]
  is the register after byte b followed by k zero bytes and C[n] the effect of
  the initial value over n bytes. One table lookup per byte, done by NumPy.
  """

  _POLY = 0x82F63B78

  def __init__(self):
    import numpy as np
    self._np = np
    table = []
    for byte in range(256):
      crc = byte
      for _ in range(8):
        crc = (crc >> 1) ^ (self._POLY if crc & 1 else 0)
      table.append(crc)
    self._table = np.array(table, dtype=np.uint32)
    self._python_table = table
    self._flat = np.zeros(0, dtype=np.uint32)
    self._rows = 0
    self._constants = [0]
    self._grow(4096)

  def _step_zero(self, values):
    np = self._np
    return (values >> np.uint32(8)) ^ self._table[values & np.uint32(0xFF)]

  def _grow(self, length):
    np = self._np
    rows = max(length, 2 * self._rows)
    flat = np.empty(rows * 256, dtype=np.uint32)
    flat[:self._rows * 256] = self._flat
    row = (self._table.copy() if self._rows == 0 else
           self._step_zero(self._flat[(self._rows - 1) * 256:]))
    for k in range(self._rows, rows):
      flat[k * 256:(k + 1) * 256] = row
      row = self._step_zero(row)
    register = 0xFFFFFFFF
    constants = [0]
    for _ in range(rows):
      register = (register >> 8) ^ self._python_table[register & 0xFF]
      constants.append(register ^ 0xFFFFFFFF)
    self._flat, self._rows, self._constants = flat, rows, constants
    # Row offsets, last row first: byte i of n comes n-1-i bytes before the end.
    self._descending = np.arange(rows - 1, -1, -1, dtype=np.int64) * 256

  def __call__(self, data):
    n = len(data)
    if n == 0:
      return 0
    if n > self._rows:
      self._grow(n)
    np = self._np
    index = self._descending[self._rows - n:] + np.frombuffer(data, dtype=np.uint8)
    return int(np.bitwise_xor.reduce(self._flat[index])) ^ self._constants[n]

  def masked(self, data):
    crc = self(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_chunks(records, crc):
  """Yields the TFRecord framing of each record: length, masked CRC, data, CRC."""
  for data in records:
    header = struct.pack("<Q", len(data))
    yield (header + struct.pack("<I", crc.masked(header)) + data +
           struct.pack("<I", crc.masked(data)))


# --- Shard jobs (run in workers) ----------------------------------------------------------


class _Worker(object):
  """Per-process state: built lazily, so a build-only worker never loads jieba."""

  def __init__(self, config, report=None):
    self.config = config
    self.report = report or (lambda job, fraction: None)
    self._annotator = None
    self._splitter = None
    self._tokenizer = None
    self._builder = None
    self._encoder = None
    self._crc = None

  def annotator(self):
    if self._annotator is None:
      try:
        self._annotator = annotators.create_annotator(
            self.config["annotator"], self.config["annotator_options"])
      except annotators.AnnotatorError as e:
        raise DataError(str(e))
    return self._annotator

  def splitter(self):
    if self._splitter is None:
      _, self._splitter = annotators.make_sentence_splitter(
          self.config["sentence_splitter"])
    return self._splitter

  def build_tools(self):
    if self._tokenizer is None:
      options = self.config["options"]
      self._tokenizer = tokenization.FullTokenizer(options.vocab_file,
                                                   options.do_lower_case)
      self._builder = InstanceBuilder(options, self._tokenizer.vocab)
      self._encoder = ExampleEncoder(options.max_seq_length,
                                     options.max_predictions_per_seq,
                                     len(self._tokenizer.vocab))
      self._crc = Crc32c()
    return self._tokenizer, self._builder, self._encoder, self._crc


def _annotate_job(worker, job):
  """Stage 1 for one shard: input bytes -> cache shard; returns its statistics."""
  stats = {}
  started = time.time()
  path, start, end, first_line = job["input"]
  if start == end == 0:
    stats["empty_input_files"] = 1
    _example(stats, "empty_input_files_examples", path)
  lines = read_shard_lines(path, start, end, first_line, stats)
  documents = iter_documents(lines, job["input_format"], worker.splitter(), stats, path)
  annotator = worker.annotator()
  share = job["annotate_share"]

  def report(line):
    worker.report(job, share * (line - first_line) / float(max(1, len(lines))))
  out = []
  for record in annotate_documents(documents, annotator, path, stats, report):
    out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
  _add_counts(stats, annotator.take_statistics())
  data = ("\n".join(out) + "\n" if out else "").encode("utf-8")
  _write_atomically(job["cache_file"], data)
  stats["seconds"] = time.time() - started
  stats["input_bytes"] = end - start
  _write_atomically(job["cache_done"], _json_bytes(stats))
  return stats


def _build_job(worker, job):
  """Stage 2 for one shard: cache shard -> TFRecords; returns its statistics."""
  tokenizer, builder, encoder, crc = worker.build_tools()
  options = worker.config["options"]
  labelled = set(worker.config["labelled_tasks"])
  stats = {}
  started = time.time()
  rng = random.Random(shard_seed(options.random_seed, job["index"]))
  mapper = linguistics.TagMapper()
  counts = {"instances": 0, "tokens": 0, "masked_tokens": 0, "documents": 0,
            "sentences": 0, "documents_without_tokens": 0}
  ngram_counts = [0] * len(options.ngram_probs)
  fill_counts = [0] * len(options.ngram_probs)
  replacement_counts = [0, 0, 0]
  label_counts = {task: [0] * linguistics.num_labels(task) for task in labelled}
  serialized = []
  cache_file = job["cache_file"]
  total = float(max(1, os.path.getsize(cache_file)))
  done_bytes = 0
  last_report = time.time()
  with open(cache_file, "rb") as handle:
    for line_number, raw in enumerate(handle, 1):
      done_bytes += len(raw)
      if not raw.strip():
        continue
      try:
        document = json.loads(raw.decode("utf-8"))
        segments = [tokenize_sentence(record, tokenizer, mapper, labelled)
                    for record in document["sentences"]]
      except (ValueError, KeyError, IndexError, TypeError) as e:
        raise DataError("%s:%d: not an annotation record (%s: %s); delete the "
                        "cache shard to annotate it again" %
                        (cache_file, line_number, type(e).__name__, e))
      counts["documents"] += 1
      counts["sentences"] += len(segments)
      segments = [segment for segment in segments if segment.ids]
      if not segments:
        counts["documents_without_tokens"] += 1
        continue
      for _ in range(options.dupe_factor):
        for instance in builder.create_instances(segments, rng, stats):
          serialized.append(encoder.encode(instance))
          counts["instances"] += 1
          counts["tokens"] += instance.num_tokens
          counts["masked_tokens"] += len(instance.positions)
          for n in instance.ngram_lengths:
            ngram_counts[n - 1] += 1
          for n in instance.fill_lengths:
            fill_counts[n - 1] += 1
          for k in range(3):
            replacement_counts[k] += instance.replacements[k]
          for task in labelled:
            task_counts = label_counts[task]
            for label in getattr(instance, task):
              task_counts[label] += 1
      if time.time() - last_report > 1.0:
        worker.report(job, job["build_base"] + (1.0 - job["build_base"]) *
                      done_bytes / total)
        last_report = time.time()
  rng.shuffle(serialized)
  _write_atomically(job["output_file"], tfrecord_chunks(serialized, crc))
  _add_counts(stats, counts)
  stats["ngram_lengths"] = {str(n + 1): c for n, c in enumerate(ngram_counts)}
  stats["fill_ngram_lengths"] = {str(n + 1): c for n, c in enumerate(fill_counts)}
  stats["replacements"] = {"mask": replacement_counts[0],
                           "random": replacement_counts[1],
                           "keep": replacement_counts[2]}
  stats["masked_label_counts"] = {
      task: {linguistics.LABELS[task][i]: c for i, c in enumerate(values) if c}
      for task, values in label_counts.items()}
  stats["mapped_tags"] = mapper.report()
  stats["seconds"] = time.time() - started
  _write_atomically(job["output_done"], _json_bytes(stats))
  return stats


def _run_job(worker, job):
  result = {"index": job["index"], "annotate": None, "build": None}
  if job["annotate"]:
    result["annotate"] = _annotate_job(worker, job)
  if job["build"]:
    result["build"] = _build_job(worker, job)
  result["peak_rss_mb"] = _peak_rss_mb()
  worker.report(job, 1.0)
  return result


_PROCESS_WORKER = None


def _init_pool_worker(config, queue, parent_pid):
  global _PROCESS_WORKER
  state = {"last": 0.0}

  def report(job, fraction):
    # An orphan (the parent was killed) stops instead of racing a re-run.
    if os.getppid() != parent_pid:
      os._exit(1)
    now = time.time()
    if fraction >= 1.0 or now - state["last"] > 0.5:
      state["last"] = now
      queue.put((job["index"], fraction))
  _PROCESS_WORKER = _Worker(config, report)


def _pool_job(job):
  try:
    return _run_job(_PROCESS_WORKER, job)
  except (DataError, OSError) as e:
    return {"index": job["index"], "error": str(e)}


# --- The driver -------------------------------------------------------------------------


class _Progress(object):
  """Rate and ETA on stderr, in input megabytes."""

  def __init__(self, label, jobs, interval=5.0):
    self.label = label
    self.sizes = {job["index"]: job["bytes"] for job in jobs}
    self.total = float(max(1, sum(self.sizes.values())))
    self.fractions = {}
    self.done = 0
    self.count = len(jobs)
    self.started = time.time()
    self.interval = interval
    self.last_print = 0.0
    self.lock = threading.Lock()

  def update(self, index, fraction):
    with self.lock:
      self.fractions[index] = max(self.fractions.get(index, 0.0), fraction)
      if fraction >= 1.0:
        self.done += 1
      now = time.time()
      if now - self.last_print >= self.interval or self.done == self.count:
        self.last_print = now
        self._print(now)

  def _print(self, now):
    done_bytes = sum(self.sizes[i] * f for i, f in self.fractions.items())
    elapsed = max(1e-6, now - self.started)
    rate = done_bytes / elapsed
    remaining = (self.total - done_bytes) / rate if rate > 0 else float("inf")
    eta = ("%d:%02d:%02d" % (remaining // 3600, remaining % 3600 // 60,
                             remaining % 60)) if remaining != float("inf") else "?"
    speed = ("%.2f MB/s" % (rate / 1e6)) if rate >= 1e5 else ("%.1f KB/s" % (rate / 1e3))
    _log("%s: %d/%d shards, %.2f/%.2f MB (%.0f%%), %s, ETA %s" % (
        self.label, self.done, self.count, done_bytes / 1e6, self.total / 1e6,
        100.0 * done_bytes / self.total, speed, eta))


def _manifest_identity(options, files, description, splitter_name):
  return {
      "format": CACHE_FORMAT,
      "annotator": description,
      "input_format": options.input_format,
      "sentence_splitter": splitter_name,
      "shard_size_mb": options.shard_size_mb,
      "inputs": [{"path": path, "size": os.path.getsize(path),
                  "mtime_ns": os.stat(path).st_mtime_ns} for path in files],
  }


def prepare_cache(options):
  """Validates the cache side and returns its manifest (planning shards if new)."""
  cache_dir = options.resolved_cache_dir()
  manifest_path = os.path.join(cache_dir, MANIFEST)
  if options.stage == "build":
    if not os.path.isfile(manifest_path):
      raise DataError("--cache_dir %s holds no annotation cache (%s is missing); "
                      "run --stage=annotate first" % (cache_dir, MANIFEST))
    return _read_json(manifest_path)
  files = expand_input_patterns(options.input_file)
  try:
    description = annotators.annotator_class(options.annotator).describe(
        options.annotator_options())
    splitter_name, _ = annotators.make_sentence_splitter(options.sentence_splitter)
  except annotators.AnnotatorError as e:
    raise DataError(str(e))
  identity = _manifest_identity(options, files, description, splitter_name)
  _ensure_writable_dir(cache_dir, "cache_dir")
  if os.path.isfile(manifest_path):
    manifest = _read_json(manifest_path)
    stored = {key: manifest.get(key) for key in identity}
    if stored != identity:
      differing = [key for key in identity if stored[key] != identity[key]]
      raise DataError(
          "--cache_dir %s holds annotations made with other %s; use another "
          "--cache_dir (or delete it) to annotate again" %
          (cache_dir, ", ".join(differing)))
    return manifest
  shard_bytes = int(options.shard_size_mb * 1024 * 1024)
  plan = plan_shards(files, options.input_format, shard_bytes)
  manifest = dict(identity)
  manifest["shards"] = [
      {"file": file_index, "start": start, "end": end, "first_line": first_line,
       "name": "annotations-%05d-of-%05d" % (index, len(plan))}
      for index, (file_index, start, end, first_line) in enumerate(plan)]
  _write_atomically(manifest_path, _json_bytes(manifest))
  return manifest


def _build_identity(options, manifest):
  return {
      "format": DATA_FORMAT,
      "annotation_cache": {key: manifest[key] for key in (
          "annotator", "input_format", "sentence_splitter", "inputs",
          "shard_size_mb")},
      "vocab_sha256": file_sha256(options.vocab_file),
      "do_lower_case": bool(options.do_lower_case),
      "max_seq_length": options.max_seq_length,
      "max_predictions_per_seq": options.max_predictions_per_seq,
      "random_seed": options.random_seed,
      "dupe_factor": options.dupe_factor,
      "masked_lm_prob": options.masked_lm_prob,
      "short_seq_prob": options.short_seq_prob,
      "ngram_probs": list(options.ngram_probs),
      "replacement_probs": {"mask": options.replacement_probs[0],
                            "random": options.replacement_probs[1],
                            "keep": options.replacement_probs[2]},
  }


def _output_name(index, count):
  return "pretraining-%05d-of-%05d.tfrecord" % (index, count)


def make_jobs(options, manifest):
  """One job per shard, for the parts not done yet."""
  cache_dir = options.resolved_cache_dir()
  jobs = []
  shards = manifest["shards"]
  for index, shard in enumerate(shards):
    path = manifest["inputs"][shard["file"]]["path"]
    cache_file = os.path.join(cache_dir, shard["name"] + ".jsonl")
    cache_done = os.path.join(cache_dir, PROGRESS_DIR, shard["name"] + ".json")
    job = {"index": index, "input": (path, shard["start"], shard["end"],
                                     shard["first_line"]),
           "bytes": shard["end"] - shard["start"],
           "input_format": manifest["input_format"],
           "cache_file": cache_file, "cache_done": cache_done,
           "annotate": (options.stage in ("annotate", "all") and
                        not os.path.isfile(cache_done)),
           "build": False, "build_base": 0.0}
    if options.stage in ("build", "all"):
      name = _output_name(index, len(shards))
      job["output_file"] = os.path.join(options.output_dir, name)
      job["output_done"] = os.path.join(options.output_dir, PROGRESS_DIR,
                                        name + ".json")
      job["build"] = not os.path.isfile(job["output_done"])
      if options.stage == "build" and not os.path.isfile(cache_done):
        raise DataError("the annotation cache in %s is incomplete (%s not "
                        "annotated); finish --stage=annotate first" %
                        (cache_dir, shard["name"]))
    # Progress: annotation and building each count for half of a shard.
    job["annotate_share"] = 0.5 if job["build"] else 1.0
    job["build_base"] = 0.5 if job["annotate"] else 0.0
    if job["annotate"] or job["build"]:
      jobs.append(job)
  return jobs


def execute_jobs(jobs, worker_config, num_workers, label):
  """Runs jobs in-process (1 worker) or in worker processes; returns results."""
  progress = _Progress(label, jobs)
  results = []
  if num_workers == 1 or len(jobs) <= 1:
    worker = _Worker(worker_config, lambda job, fraction: progress.update(
        job["index"], fraction))
    for job in jobs:
      results.append(_run_job(worker, job))
    return results
  # Spawned, not forked: the parent may hold threads (TF in a test, the
  # progress thread), and a fresh interpreter is the same on every platform.
  context = multiprocessing.get_context("spawn")
  queue = context.Queue()
  stop = threading.Event()

  def drain():
    while not stop.is_set():
      try:
        index, fraction = queue.get(timeout=0.2)
      except Exception:  # pylint: disable=broad-except
        continue  # queue.Empty
      progress.update(index, fraction)
  thread = threading.Thread(target=drain)
  thread.daemon = True
  thread.start()
  # ProcessPoolExecutor, unlike multiprocessing.Pool, notices a worker that
  # dies (e.g. killed for memory) instead of waiting for it forever.
  executor = concurrent.futures.ProcessPoolExecutor(
      min(num_workers, len(jobs)), mp_context=context,
      initializer=_init_pool_worker, initargs=(worker_config, queue, os.getpid()))
  futures = {executor.submit(_pool_job, job): job for job in jobs}
  try:
    for future in concurrent.futures.as_completed(futures):
      try:
        result = future.result()
      except concurrent.futures.process.BrokenProcessPool:
        raise DataError("a worker process died (killed, or out of memory?) "
                        "while making shard %d; finished shards are kept: run "
                        "again to resume" % futures[future]["index"])
      if "error" in result:
        raise DataError(result["error"])
      results.append(result)
  finally:
    for future in futures:
      future.cancel()
    executor.shutdown(wait=True)
    stop.set()
    thread.join()
  return results


def _fraction(numerator, denominator):
  return round(float(numerator) / denominator, 6) if denominator else 0.0


def collect_statistics(options, manifest, count):
  """Sums every shard's statistics files (this run's and earlier runs')."""
  cache_dir = options.resolved_cache_dir()
  annotation, build = {}, {}
  for shard in manifest["shards"]:
    stats = _read_json(os.path.join(cache_dir, PROGRESS_DIR, shard["name"] + ".json"))
    stats.pop("seconds", None)
    _add_counts(annotation, stats)
  for index in range(count):
    stats = _read_json(os.path.join(options.output_dir, PROGRESS_DIR,
                                    _output_name(index, count) + ".json"))
    stats.pop("seconds", None)
    _add_counts(build, stats)
  return annotation, build


def write_sidecar(options, manifest, identity):
  """Writes `<output_dir>/lert_data.json` from every shard's statistics."""
  count = len(manifest["shards"])
  annotation, build = collect_statistics(options, manifest, count)
  description = manifest["annotator"]
  labelled = [task for task in linguistics.TASKS
              if task in description["labelled_tasks"]]
  mapped = build.pop("mapped_tags", {})
  translated = annotation.pop("jieba_pos_translated", None)
  if translated:
    mapped["jieba_pos_translated"] = translated
  tokens = build.get("tokens", 0)
  build["masked_fraction"] = _fraction(build.get("masked_tokens", 0), tokens)
  ngrams = build.get("ngram_lengths", {})
  total_ngrams = sum(ngrams.values())
  build["ngram_length_shares"] = {n: _fraction(c, total_ngrams)
                                  for n, c in ngrams.items()}
  fills = build.get("fill_ngram_lengths", {})
  all_ngrams = total_ngrams + sum(fills.values())
  build["ngram_length_shares_with_fill"] = {
      n: _fraction(c + fills.get(n, 0), all_ngrams) for n, c in ngrams.items()}
  sidecar = {
      "format": DATA_FORMAT,
      "files": [_output_name(i, count) for i in range(count)],
      "num_instances": build.get("instances", 0),
      "annotator": description["name"],
      "annotator_config": description,
      "labelled_tasks": labelled,
      "unlabelled_tasks": [t for t in linguistics.TASKS if t not in labelled],
      "unlabelled_label_value": 0,
      "inventories": {task: list(linguistics.LABELS[task])
                      for task in linguistics.TASKS},
      "max_seq_length": options.max_seq_length,
      "max_predictions_per_seq": options.max_predictions_per_seq,
      "vocab_file": os.path.abspath(options.vocab_file),
      "vocab_size": len(tokenization.load_vocab(options.vocab_file)),
      "feature_spec": dict(
          [(name, {"shape": [options.max_seq_length], "dtype": "int64"})
           for name in ("input_ids", "input_mask", "segment_ids")] +
          [(name, {"shape": [options.max_predictions_per_seq], "dtype": "int64"})
           for name in ("masked_lm_positions", "masked_lm_ids", "pos_labels",
                        "ner_labels", "dep_labels")] +
          [("masked_lm_weights", {"shape": [options.max_predictions_per_seq],
                                  "dtype": "float32"})]),
      "input": {"files": [entry["path"] for entry in manifest["inputs"]],
                "input_format": manifest["input_format"],
                "sentence_splitter": manifest["sentence_splitter"]},
      "statistics": {"annotation": annotation, "build": build},
      "mapped_tags": mapped,
  }
  for key in ("vocab_sha256", "do_lower_case", "random_seed", "dupe_factor",
              "masked_lm_prob", "short_seq_prob", "ngram_probs",
              "replacement_probs"):
    sidecar[key] = identity[key]
  _write_atomically(os.path.join(options.output_dir, SIDECAR), _json_bytes(sidecar))
  return sidecar


# Counters of problems in the input, with the key of their file:line examples.
_ISSUES = (
    ("empty_input_files", "empty_input_files_examples"),
    ("bad_utf8_lines", "bad_utf8_examples"),
    ("chars_removed", None),
    ("empty_documents", "empty_document_examples"),
    ("unterminated_documents", "unterminated_document_examples"),
    ("lines_outside_documents", "lines_outside_documents_examples"),
    ("sentences_dropped", "sentences_dropped_examples"),
    ("sentences_split", None),
    ("words_cut", None),
    ("documents_without_tokens", None),
    ("instances_without_masks", None),
)


def format_report(sidecar):
  """The human-readable statistics report of a finished run."""
  annotation = sidecar["statistics"]["annotation"]
  build = sidecar["statistics"]["build"]
  lines = ["statistics:"]
  lines.append("  annotator %s, labelled tasks %s, unlabelled (written as 0) %s" % (
      sidecar["annotator"], ",".join(sidecar["labelled_tasks"]),
      ",".join(sidecar["unlabelled_tasks"]) or "none"))
  lines.append("  documents %d, sentences %d, characters %d, input bytes %d" % (
      annotation.get("documents", 0), annotation.get("sentences", 0),
      annotation.get("characters", 0), annotation.get("input_bytes", 0)))
  lines.append("  instances %d, tokens %d, masked %d (%.2f%%)" % (
      build.get("instances", 0), build.get("tokens", 0),
      build.get("masked_tokens", 0), 100.0 * build.get("masked_fraction", 0.0)))
  for key, what in (("ngram_length_shares", "as drawn"),
                    ("ngram_length_shares_with_fill", "with the budget fill")):
    lines.append("  n-gram shares %s (words: share) %s" % (what, ", ".join(
        "%s: %.3f" % (n, share) for n, share in sorted(
            build.get(key, {}).items(), key=lambda kv: int(kv[0])))))
  replacements = build.get("replacements", {})
  total = float(max(1, sum(replacements.values())))
  lines.append("  replacements: [MASK] %.3f, random %.3f, kept %.3f" % tuple(
      replacements.get(k, 0) / total for k in ("mask", "random", "keep")))
  for task, counts in sorted(build.get("masked_label_counts", {}).items()):
    task_total = float(max(1, sum(counts.values())))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    lines.append("  %s at masked positions: %s" % (task, ", ".join(
        "%s %.3f" % (label, count / task_total) for label, count in top)))
  for task, counts in sorted(sidecar.get("mapped_tags", {}).items()):
    if counts:
      lines.append("  mapped %s: %s" % (task, ", ".join(
          "%s %d" % kv for kv in sorted(counts.items(),
                                        key=lambda kv: (-kv[1], kv[0]))[:12])))
  for counts in (annotation.get("annotator_counts", {}),):
    for key, value in sorted(counts.items()):
      lines.append("  %s %d" % (key, value))
  for key, examples_key in _ISSUES:
    value = annotation.get(key, 0) + build.get(key, 0)
    if value:
      examples = annotation.get(examples_key, []) if examples_key else []
      lines.append("  %s %d%s" % (key, value, (" (e.g. %s)" % "; ".join(
          examples[:3])) if examples else ""))
  return "\n".join(lines)


def run(options):
  """Runs the stage(s) `options` asks for; returns the sidecar (None for annotate)."""
  validate_options(options)
  started = time.time()
  if options.stage in ("annotate", "all"):
    expand_input_patterns(options.input_file)  # missing input: fail first
  if options.stage in ("build", "all"):
    _ensure_writable_dir(options.output_dir, "output_dir")
  manifest = prepare_cache(options)
  cache_dir = options.resolved_cache_dir()
  if options.stage == "build" and options.input_file:
    _log("note: --input_file is not used by --stage=build; the inputs are those "
         "the cache was annotated from (%s)" % os.path.join(cache_dir, MANIFEST))
  _remove_stale_temporaries(cache_dir)
  identity = None
  if options.stage in ("build", "all"):
    _remove_stale_temporaries(options.output_dir)
    identity = _build_identity(options, manifest)
    config_path = os.path.join(options.output_dir, PROGRESS_DIR, BUILD_CONFIG)
    if os.path.isfile(config_path):
      stored = _read_json(config_path)
      if stored != identity:
        differing = sorted(k for k in identity if stored.get(k) != identity[k])
        raise DataError("--output_dir %s holds data made with other %s; use "
                        "another --output_dir (or delete it)" %
                        (options.output_dir, ", ".join(differing)))
    else:
      _write_atomically(config_path, _json_bytes(identity))
  jobs = make_jobs(options, manifest)
  skipped = len(manifest["shards"]) - len(jobs)
  label = {"annotate": "annotate", "build": "build", "all": "annotate+build"}[
      options.stage]
  _log("%s: %d shard(s), %d already done, %d to do, %d worker(s)" % (
      label, len(manifest["shards"]), skipped, len(jobs), options.num_workers))
  worker_config = {
      "options": options,
      "annotator": options.annotator,
      "annotator_options": options.annotator_options(),
      "sentence_splitter": manifest["sentence_splitter"],
      "labelled_tasks": manifest["annotator"]["labelled_tasks"],
  }
  try:
    results = execute_jobs(jobs, worker_config, options.num_workers, label)
  except OSError as e:
    raise DataError(str(e))
  elapsed = time.time() - started
  processed = sum(job["bytes"] for job in jobs)
  peaks = [r["peak_rss_mb"] for r in results if r.get("peak_rss_mb")]
  _log("%s: %.2f MB of input in %.1f s (%.2f MB/s); peak RSS %s MB per worker, "
       "%s MB in this process" % (
           label, processed / 1e6, elapsed, processed / 1e6 / max(elapsed, 1e-6),
           ("%.0f" % max(peaks)) if peaks else "?",
           ("%.0f" % _peak_rss_mb()) if resource else "?"))
  if options.stage == "annotate":
    return None
  sidecar = write_sidecar(options, manifest, identity)
  _log(format_report(sidecar))
  return sidecar


# --- Command line ---------------------------------------------------------------------------


def define_flags(flag_values=None):
  """Defines this script's flags (on absl's global FLAGS unless given others).

  Not done at import, so other scripts can import this module for its library
  functions without their flags colliding.
  """
  from absl import flags
  fv = flag_values if flag_values is not None else flags.FLAGS
  d = Options.DEFAULTS
  flags.DEFINE_enum("stage", d["stage"], list(STAGES),
                    "annotate: text -> annotation cache; build: cache -> "
                    "TFRecords; all: both.", flag_values=fv)
  flags.DEFINE_string("input_file", d["input_file"],
                      "Input text files, comma-separated globs.", flag_values=fv)
  flags.DEFINE_enum("input_format", d["input_format"], list(INPUT_FORMATS),
                    "sentence_per_line: BERT's (blank line between documents); "
                    "doc_per_line: a document a line; wikiextractor: <doc> "
                    "blocks, a paragraph a line.", flag_values=fv)
  flags.DEFINE_string("cache_dir", d["cache_dir"],
                      "Annotation cache directory (default for --stage=all: "
                      "<output_dir>/.annotations).", flag_values=fv)
  flags.DEFINE_string("output_dir", d["output_dir"],
                      "Directory for the TFRecord shards and lert_data.json.",
                      flag_values=fv)
  flags.DEFINE_string("vocab_file", os.path.join(
      os.path.dirname(os.path.abspath(__file__)), "vocab.txt"),
                      "WordPiece vocabulary (default: the repository's vocab.txt).",
                      flag_values=fv)
  flags.DEFINE_bool("do_lower_case", d["do_lower_case"],
                    "Lower-case and strip accents (True for LERT).", flag_values=fv)
  flags.DEFINE_integer("max_seq_length", d["max_seq_length"],
                       "Tokens per instance, [CLS] and [SEP] included.",
                       flag_values=fv)
  flags.DEFINE_integer("max_predictions_per_seq", d["max_predictions_per_seq"],
                       "Most masked tokens per instance (75 at 512, 20 at 128).",
                       flag_values=fv)
  flags.DEFINE_integer("random_seed", d["random_seed"], "Seed of every random "
                       "choice (with the shard number).", flag_values=fv)
  flags.DEFINE_integer("dupe_factor", d["dupe_factor"],
                       "Times each document is masked (different masks).",
                       flag_values=fv)
  flags.DEFINE_float("masked_lm_prob", d["masked_lm_prob"],
                     "Share of tokens to predict.", flag_values=fv)
  flags.DEFINE_float("short_seq_prob", d["short_seq_prob"],
                     "Probability of a shorter, random target length.",
                     flag_values=fv)
  flags.DEFINE_list("ngram_probs", [str(p) for p in d["ngram_probs"]],
                    "Weights of masking 1..N whole words at once (MacBERT's "
                    "0.4,0.3,0.2,0.1).", flag_values=fv)
  flags.DEFINE_list("replacement_probs", [str(p) for p in d["replacement_probs"]],
                    "Probabilities that a masked token becomes [MASK], a random "
                    "token, or stays (sum 1).", flag_values=fv)
  flags.DEFINE_string("annotator", d["annotator"],
                      "jieba (offline, POS+NER), ltp (POS+NER+DEP), or a "
                      "package.module.Class implementing annotators.Annotator.",
                      flag_values=fv)
  flags.DEFINE_string("ltp_model", d["ltp_model"],
                      "LTP 4 model: a local directory or a hub name (LTP/small).",
                      flag_values=fv)
  flags.DEFINE_integer("ltp_batch_size", d["ltp_batch_size"],
                       "Sentences per LTP batch.", flag_values=fv)
  flags.DEFINE_string("ltp_device", d["ltp_device"],
                      "torch device for LTP (default: cuda when available).",
                      flag_values=fv)
  flags.DEFINE_enum("sentence_splitter", d["sentence_splitter"],
                    list(annotators.SPLITTERS),
                    "For doc_per_line/wikiextractor: ltp (StnSplit), rules, or "
                    "auto (ltp when installed).", flag_values=fv)
  flags.DEFINE_integer("num_workers", d["num_workers"],
                       "Worker processes (each takes whole shards).",
                       flag_values=fv)
  flags.DEFINE_float("shard_size_mb", d["shard_size_mb"],
                     "Input megabytes per shard: the unit of work, resume and "
                     "shuffling; memory per worker grows with it.",
                     flag_values=fv)
  return fv


def options_from_flags(fv):
  """Options from parsed flags; DataError for values that do not parse."""
  values = {}
  for name in Options.DEFAULTS:
    values[name] = getattr(fv, name)
  for name in ("ngram_probs", "replacement_probs"):
    try:
      values[name] = tuple(float(v) for v in values[name])
    except ValueError:
      raise DataError("--%s must be comma-separated numbers, got %s" %
                      (name, ",".join(values[name])))
  return Options(**values)


def main(argv):
  from absl import flags
  if len(argv) > 1:
    raise DataError("unexpected arguments: %s" % " ".join(argv[1:]))
  run(options_from_flags(flags.FLAGS))


def _entry_point():
  from absl import app
  define_flags()

  def guarded(argv):
    try:
      main(argv)
    except DataError as e:
      _log("error: %s" % e)
      sys.exit(1)
  app.run(guarded)


if __name__ == "__main__":
  _entry_point()
