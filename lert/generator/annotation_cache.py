# coding=utf-8
"""Stage 1's product: annotated documents, one JSON line each, per shard.

A cache shard (`annotations-SSSSS-of-NNNNN.jsonl`) holds one document a line:
  {"line": L, "sentences": [[text, word_lengths, pos, entities(, dep, heads)]]}
L is the document's first line in its input file; word_lengths cut `text`
into the annotator's words; pos and dep hold one tag per word, entities are
[type, first_word, last_word] triples. Tags are the annotator's (LTP's tag
sets); mapping into LERT's inventories happens when instances are built, where
it is counted. dep and heads are there only when the annotator labels DEP.

`sentence_record` writes a sentence's list and `decode_document` reads a
line back (a line that is not one is a UserError naming file:line); nothing
else knows the format. When a shard is written, its integrity record (lines,
bytes, sha256) goes into its `.progress/` file; the build stage reads a shard
only through `read_cache_shard`, which refuses one that was cut, emptied or
changed since.
"""

import collections
import hashlib
import json

from lert import errors
from lert import fileio
from lert.generator import annotation_types
from lert.generator import annotators
from lert.generator import counters

CACHE_FORMAT = "lert-annotation-cache/2"
# Sentences are annotated in groups of this many (LTP batches within a group).
ANNOTATION_GROUP = 1024


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


def sentence_record(text, annotation: annotation_types.SentenceAnnotation,
                    labelled_tasks):
  """The cache's list for one annotated sentence (see the module docstring)."""
  record = [text, [len(word) for word in annotation.words], list(annotation.pos),
            [[t, s, e] for t, s, e in annotation.entities]]
  if "dep" in labelled_tasks:
    record.append(list(annotation.dep))
    record.append([int(h) for h in annotation.heads])
  return record


def annotate_documents(documents, annotator: annotators.Annotator, where,
                       stats: counters.ShardStatistics, report=None):
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
      raise errors.UserError("annotator %s returned %d annotations for %d sentences" %
                             (annotator.name, len(results), len(texts)))
    results = iter(results)
    for first, sentences in pending:
      records = []
      for text in sentences:
        annotation = next(results)
        problem = _check_annotation(text, annotation, labelled)
        if problem:
          stats.add("sentences_dropped", example="%s:%d, document starting "
                    "there: %s" % (where, first, problem))
          continue
        records.append(sentence_record(text, annotation, labelled))
      if records:
        stats.add("documents")
        stats.add("sentences", len(records))
        stats.add("characters", sum(len(r[0]) for r in records))
        yield {"line": first, "sentences": records}
      else:
        stats.add("empty_documents")

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


def encode_cache_shard(records):
  """(bytes of a cache shard holding `records`, its integrity record)."""
  lines = [json.dumps(record, ensure_ascii=False, separators=(",", ":"))
           for record in records]
  data = ("\n".join(lines) + "\n" if lines else "").encode("utf-8")
  return data, {"lines": len(lines), "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}


# One cached sentence, as sentence_record wrote it (dep and heads None when absent).
CachedSentence = collections.namedtuple(
    "CachedSentence", ["text", "word_lengths", "pos", "entities", "dep", "heads"])


def _sentence_problem(sentence):
  """Why a decoded value is not a cached sentence, or None (may raise TypeError)."""
  if not isinstance(sentence, list) or len(sentence) not in (4, 6):
    return "a sentence is not a list of 4 or 6 fields"
  text, lengths, pos = sentence[0], sentence[1], sentence[2]
  if min(lengths or [1]) < 1 or sum(lengths) != len(text):
    return "the word lengths do not cut the text"
  if any(len(field) != len(lengths) for field in [pos] + sentence[4:]):
    return "the tags, relations or heads do not match the words"
  if any(not 0 <= first <= last < len(lengths) for _, first, last in sentence[3]):
    return "an entity lies outside the words"
  return None


def decode_sentence(record):
  """A cached sentence's list (sentence_record's) -> CachedSentence."""
  return CachedSentence(*(list(record) + [None, None])[:6])


def decode_document(raw, path, line_number):
  """The CachedSentences of one line (bytes) of the cache shard `path`."""
  try:
    sentences = json.loads(raw.decode("utf-8"))["sentences"]
    problem = next(filter(None, map(_sentence_problem, sentences)), None)
  except (ValueError, KeyError, IndexError, TypeError) as e:
    problem = "%s: %s" % (type(e).__name__, e)
  if problem:
    raise errors.UserError("%s:%d: not an annotation record (%s); %s" % (
        path, line_number, problem, reannotate_advice(path)))
  return [decode_sentence(sentence) for sentence in sentences]


def reannotate_advice(path):
  return ("delete %s and run create_pretraining_data.py again with --stage=annotate "
          "(or all) and the same --cache_dir to annotate that shard again" % path)


def read_cache_shard(path, integrity):
  """Yields (line number, raw line) of a cache shard that matches `integrity`.

  The size is checked first; lines and hash once the shard has been read (the
  caller must read to the end), so a shard that was cut (at a line boundary or
  not), emptied or edited is refused with its name instead of building fewer
  documents.
  """
  try:
    size = fileio.getsize(path)
  except OSError as e:
    raise errors.UserError("annotation cache shard %s cannot be read (%s); %s" %
                           (path, e.strerror or e, reannotate_advice(path)))
  if size != integrity["bytes"]:
    raise errors.UserError("annotation cache shard %s has %d bytes, but %d were written "
                           "when it was annotated (cut or changed since); %s" %
                           (path, size, integrity["bytes"], reannotate_advice(path)))
  digest = hashlib.sha256()
  lines = 0
  with fileio.open_file(path) as handle:
    for lines, raw in enumerate(handle, 1):
      digest.update(raw)
      yield lines, raw
  if lines != integrity["lines"] or digest.hexdigest() != integrity["sha256"]:
    raise errors.UserError("annotation cache shard %s differs from what was annotated "
                           "(%d lines, sha256 %s; recorded %d lines, sha256 %s); %s" % (
                        path, lines, digest.hexdigest()[:12], integrity["lines"],
                        integrity["sha256"][:12], reannotate_advice(path)))
