# coding=utf-8
"""Reading the generator's input: files, shards, clean lines, documents.

Input formats (`--input_format`): `sentence_per_line` (BERT's: one sentence a
line, a blank line between documents), `doc_per_line` (a document a line, split
into sentences), `wikiextractor` (`<doc ...>` ... `</doc>`, a paragraph a line,
the title line dropped, paragraphs split into sentences). Sentence splitting
is the caller's (annotators.make_sentence_splitter: LTP's StnSplit with English
rules off, or rules where ltp-extension is not installed).

A file is cut into shards of about `--shard_size_mb` at document boundaries
(the unit of work, resume and shuffling). A shard's lines are decoded as UTF-8
and cleaned of the characters BERT's tokenizer removes anyway
(tokenization.is_removed_char), so that annotators never see characters that
no token will carry; bad input is counted, with file:line examples, in the
shard's statistics (generator_stats).
"""

import glob
import os
import re

import tokenization
from generator_io import DataError

INPUT_FORMATS = ("sentence_per_line", "doc_per_line", "wikiextractor")


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


class _RemovalTable(dict):
  """str.translate table deleting what tokenization removes (LERT's control
  character rule), filled on first sight."""

  def __missing__(self, code):
    value = None if tokenization.is_removed_char(chr(code)) else code
    self[code] = value
    return value


_REMOVAL_TABLE = _RemovalTable()


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
        stats.add("bad_utf8_lines", example="%s:%d" % (path, first_line + offset))
  removed = 0
  numbered = []
  for offset, line in enumerate(lines):
    if line.endswith("\r"):
      line = line[:-1]
    if not line.isprintable() or u"\ufffd" in line:
      cleaned = line.translate(_REMOVAL_TABLE)
      removed += len(line) - len(cleaned)
      line = cleaned
    numbered.append((first_line + offset, line))
  if removed:
    stats.add("chars_removed", removed)
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
      stats.add("empty_documents", example="%s:%d" % (where, first))
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
          stats.add("unterminated_documents", example="%s:%d" % (where, first))
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
          stats.add("lines_outside_documents")
        inside, first, title, paragraphs = False, None, None, []
        continue
      text = line.strip()
      if not text:
        continue
      if not inside:
        stats.add("lines_outside_documents", example="%s:%d" % (where, number))
        continue
      if title is not None and not paragraphs and text == title.strip():
        continue  # WikiExtractor repeats the title as the first line
      paragraphs.append(text)
    if inside:
      stats.add("unterminated_documents", example="%s:%d" % (where, first))
      document = finish(first, paragraphs)
      if document:
        yield document
