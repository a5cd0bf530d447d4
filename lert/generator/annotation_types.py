# coding=utf-8
"""What the generator's stages pass each other: the input formats, the sentence
splitters, and a sentence's annotation.

A leaf module (it imports nothing of the generator), so that the reader, the
annotators, the pre-annotated parsers, the cache and the options all import
the types they use without importing each other.

Every annotator returns, per sentence, a `SentenceAnnotation`:
  words     the words; "".join(words) is exactly the input sentence
  pos       one tag per word, LTP's 863 set (may include tags outside LERT's
            inventory, e.g. `g`, `x`; linguistics.TagMapper maps and counts those)
  entities  (type, first_word, last_word) triples, type in Nh/Ns/Ni, inclusive
  dep       one relation per word (to its head), or None when DEP is not labelled
  heads     1-based head word per word, 0 = root, or None when DEP is not labelled
"""

import collections

SentenceAnnotation = collections.namedtuple(
    "SentenceAnnotation", ["words", "pos", "entities", "dep", "heads"])

# Input formats that carry annotations, and the tasks each labels.
PREANNOTATED_FORMATS = collections.OrderedDict(
    [("people_daily", ("pos", "ner")), ("ltp_jsonl", ("pos", "ner", "dep"))])

# `--input_format`s (corpus_reader.py reads them; preannotated.py parses the last two).
INPUT_FORMATS = ("sentence_per_line", "doc_per_line", "wikiextractor") + tuple(
    PREANNOTATED_FORMATS)

# `--sentence_splitter`s (annotators.make_sentence_splitter).
SPLITTERS = ("auto", "ltp", "rules")


class AnnotatedText(str):
  """A sentence of pre-annotated input that carries its SentenceAnnotation
  (`tag_set`: "pku" or "ltp" POS)."""

  def __new__(cls, text, annotation, tag_set):
    value = super(AnnotatedText, cls).__new__(cls, text)
    value.annotation = annotation
    value.tag_set = tag_set
    return value
