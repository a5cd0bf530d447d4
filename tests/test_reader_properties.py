# coding=utf-8
"""Property: the reader loses no character without counting it.

Random bytes, random Unicode and random document structures go through the
generator's reader (corpus_reader) and the tokenizer. Every character of the
input that is not whitespace (and not a UTF-8 byte-order mark) is either
covered by an output token or counted in a named statistic; or the file is
refused with a message that names it.
"""

import collections
import os
import tempfile

from hypothesis import given, settings, strategies as st

from lert.generator import annotation_cache
from lert.generator import annotators
from lert.generator import corpus_reader
from lert.generator import counters
from lert.generator import data_stats
from lert.generator import instance_builder
from lert import linguistics
from lert import errors
import tokenization

VOCAB_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "vocab.txt")
TOKENIZER = tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=True)
_, SPLIT = annotators.make_sentence_splitter("rules")
# Few examples, no example database: the suite stays fast and leaves no files.
EXAMPLES = settings(max_examples=60, deadline=None, database=None)


def read(data, input_format):
  """(documents, statistics) of `data` as one shard, or the UserError."""
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "input.txt")
    with open(path, "wb") as handle:
      handle.write(data)
    stats = counters.annotation_statistics()
    try:
      corpus_reader.check_input_files([path])
      lines = corpus_reader.read_shard_lines(path, 0, len(data), 1, stats)
    except errors.UserError as e:
      assert path in str(e)
      return None, e
    documents = list(corpus_reader.iter_documents(lines, input_format, SPLIT, stats,
                                                  path))
    return documents, stats


def content(text):
  """The characters that must survive: not whitespace, not removed by cleaning."""
  return [c for c in text if not c.isspace() and not tokenization.is_removed_char(c)]


def uncovered(sentence):
  """The characters of `sentence` (not whitespace) that no token covers."""
  _, starts, ends = TOKENIZER.tokenize_with_offsets(sentence)
  covered = [False] * len(sentence)
  for start, end in zip(starts, ends):
    covered[start:end] = [True] * (end - start)
  return [c for c, is_covered in zip(sentence, covered)
          if not is_covered and content(c)]


def check_nothing_lost(data, input_format):
  documents, stats = read(data, input_format)
  if documents is None:
    return
  decoded = data.decode("utf-8", "replace")
  if decoded.startswith(u"\ufeff"):
    decoded = decoded[1:]
  lines = [line[:-1] if line.endswith(u"\r") else line for line in decoded.split(u"\n")]
  # The reader: every character is in a sentence, or counted as removed.
  removed = sum(1 for line in lines for c in line if tokenization.is_removed_char(c))
  assert stats.counts["chars_removed"] == removed
  sentences = [sentence for _, document in documents for sentence in document]
  assert collections.Counter(c for s in sentences for c in content(s)) == (
      collections.Counter(c for line in lines for c in content(line)))
  # The tokenizer: every character is in a token, or counted by the build stage.
  for sentence in sentences:
    build = data_stats.BuildStatistics(4, ())
    record = [sentence, [len(sentence)], ["n"], []]  # the sentence as one word
    instance_builder.tokenize_sentence(annotation_cache.decode_sentence(record), TOKENIZER,
                                       linguistics.TagMapper(),
                                       {"pos", "ner"}, build)
    assert build.counts["chars_without_token"] == len(uncovered(sentence))


@EXAMPLES
@given(st.binary(max_size=400),
       st.sampled_from(["sentence_per_line", "doc_per_line"]))
def test_random_bytes(data, input_format):
  check_nothing_lost(data, input_format)


@EXAMPLES
@given(st.text(max_size=300), st.sampled_from(["sentence_per_line", "doc_per_line"]))
def test_random_unicode(text, input_format):
  check_nothing_lost(text.encode("utf-8"), input_format)


LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=u"\n"),
               max_size=40)


@EXAMPLES
@given(st.lists(st.lists(LINE, min_size=1, max_size=6), max_size=6),
       st.sampled_from([u"\n", u"\r\n"]))
def test_random_documents(documents, newline):
  text = (newline * 2).join(newline.join(document) for document in documents)
  check_nothing_lost(text.encode("utf-8"), "sentence_per_line")
