# coding=utf-8
"""Pre-annotated input: People's Daily `word/TAG` lines and LTP JSON lines.

Two `--input_format`s carry their own annotation (`--annotator=preannotated`
returns it; jieba or ltp annotate the plain text again):

- `people_daily`: the People's Daily 1998 (PKU) format, one paragraph a line,
  items `word/TAG` separated by spaces. An optional first item is the id
  (`19980101-01-001-001/m`, not text); `[w1/t1  w2/t2]nt` is a compound.
  A sentence ends after a word of sentence-final punctuation (SENTENCE_END)
  and the closing quotes or brackets right after it, never inside a compound.
  POS stays in PKU tags here (the annotator translates and counts them);
  NER: nr -> Nh, ns -> Ns, nt -> Ni, consecutive nr words are one person
  (江/nr 泽民/nr), and a compound tagged nr/ns/nt is one entity over its words
  (the names inside it are then not entities of their own).
- `ltp_jsonl`: one sentence a line, what LTP 4's pipeline(tasks=["cws",
  "pos", "ner", "dep"]) returns for it: {"cws": [words], "pos": [tags],
  "ner": [[type, text, first_word, last_word]], "dep": {"head": [1-based, 0
  root], "label": [relations]}}; other keys are ignored.

A malformed line is a UserError naming the file:line the caller gives and
what is wrong. The caller's `clean` (word -> word) removes the characters the
tokenizer removes; a word left empty is dropped (indexes and heads follow) and
counted.
"""

import collections
import json
import re

from lert import errors
from lert import linguistics
from lert.generator import annotation_types
from lert.generator import counters

# What splits the sentences of a pre-annotated format (recorded in the manifest).
FORMAT_SPLITTING = {"people_daily": "after_sentence_end_words",
                    "ltp_jsonl": "one_sentence_a_line"}


def _malformed(where, input_format):
  """problem -> the UserError of a line (`where`: file:line) not in `input_format`."""
  def error(problem):
    return errors.UserError("%s: not a %s line: %s" % (where, input_format, problem))
  return error


# --- People's Daily -------------------------------------------------------------

# Words that end a sentence (every character one of these), and the closing
# quotes and brackets that stay with it.
SENTENCE_END = u"。！？；…!?"
CLOSERS = u"”’」』）》〉】)\""
_TAG = re.compile(r"^[A-Za-z]+$")
_ARTICLE_ID = re.compile(r"^(\d{8}-\d{2}-\d{3})-\d{3}$")
_ARTICLE_ID_BYTES = re.compile(rb"^(?:\xef\xbb\xbf)?(\d{8}-\d{2}-\d{3})-\d{3}/m(?:\s|$)")
_ITEM_SEPARATOR = re.compile(r"[ \t]+")
# The last item of a compound: word/TAG]COMPOUND_TAG.
_CLOSE = re.compile(r"^(.*/[A-Za-z]+)\]([A-Za-z]+)$")

PeopleDailyLine = collections.namedtuple(
    "PeopleDailyLine", ["article", "sentences", "words_emptied"])


def people_daily_article(raw_line):
  """The article (first three id fields, bytes) of a raw line, or None."""
  match = _ARTICLE_ID_BYTES.match(raw_line)
  return match.group(1) if match else None


def same_article(previous, line):
  """Are two raw People's Daily lines of one article (no boundary between)?"""
  article = people_daily_article(previous)
  return article is not None and article == people_daily_article(line)


def _word_tag(item, position, malformed):
  word, slash, tag = item.rpartition("/")
  if not slash or not _TAG.match(tag):
    raise malformed("item %d %r is not word/TAG" % (position, item))
  if not word:
    raise malformed("item %d %r has no word" % (position, item))
  return word, tag


def _is_sentence_end(word):
  return all(char in SENTENCE_END for char in word)


def _people_daily_entities(tags, groups, group_tags):
  """(type, first, last) of one sentence's words (see the module docstring)."""
  def group_type(index):
    group = groups[index]
    return None if group is None else linguistics.PKU_TO_LTP_ENTITY.get(group_tags[group])

  entities = []
  index = 0
  while index < len(tags):
    entity_type = group_type(index)
    last = index
    if entity_type is not None:  # the compound is the entity
      while last + 1 < len(tags) and groups[last + 1] == groups[index]:
        last += 1
    else:
      entity_type = linguistics.PKU_TO_LTP_ENTITY.get(tags[index])
      if entity_type is None:
        index += 1
        continue
      if tags[index] == "nr":  # surname + given name: one person
        while (last + 1 < len(tags) and tags[last + 1] == "nr" and
               group_type(last + 1) is None):
          last += 1
    entities.append((entity_type, index, last))
    index = last + 1
  return entities


def parse_people_daily_line(line, where, clean=None):
  """One People's Daily line -> PeopleDailyLine(article, sentences, words_emptied).

  `article` is the id's first three fields ("19980101-01-001") or None;
  `sentences` are annotation_types.SentenceAnnotation with PKU POS tags,
  entities in LTP types and no DEP. A malformed line is a UserError naming
  `where` (file:line).
  """
  malformed = _malformed(where, "people_daily")
  items = [item for item in _ITEM_SEPARATOR.split(line.strip(" \t\r\n")) if item]
  article = None
  if items:
    word, slash, tag = items[0].rpartition("/")
    match = _ARTICLE_ID.match(word)
    if slash and tag == "m" and match:
      article = match.group(1)
      items = items[1:]
  words, tags, groups, group_tags = [], [], [], []
  group = None  # index of the open compound
  emptied = 0
  for position, item in enumerate(items, 1 if article is None else 2):
    opens = item.startswith("[") and len(item) > 1 and not item.startswith("[/")
    if opens:
      if group is not None:
        raise malformed("item %d %r opens a compound inside another" % (position, item))
      group_tags.append(None)
      group = len(group_tags) - 1
      item = item[1:]
    closes = None
    match = _CLOSE.match(item)
    if match:
      if group is None:
        raise malformed("item %d %r closes a compound that was not opened" %
                        (position, item))
      item, closes = match.group(1), match.group(2)
    word, tag = _word_tag(item, position, malformed)
    if clean is not None:
      word = clean(word)
    if word:
      words.append(word)
      tags.append(tag)
      groups.append(group)
    else:
      emptied += 1
    if closes is not None:
      group_tags[group] = closes
      group = None
  if group is not None:
    raise malformed("a compound opened with '[' is not closed with ']TAG'")
  sentences = []
  start = index = 0
  while index < len(words):
    if groups[index] is None and _is_sentence_end(words[index]):
      end = index + 1
      while end < len(words) and groups[end] is None and (
          _is_sentence_end(words[end]) or all(c in CLOSERS for c in words[end])):
        end += 1
      sentences.append((start, end))
      start = index = end
      continue
    index += 1
  if start < len(words):
    sentences.append((start, len(words)))
  annotations = []
  for start, end in sentences:
    annotations.append(annotation_types.SentenceAnnotation(
        words[start:end], tags[start:end],
        _people_daily_entities(tags[start:end], groups[start:end], group_tags),
        None, None))
  return PeopleDailyLine(article, annotations, emptied)


# --- Documents ------------------------------------------------------------------


def iter_documents(lines, input_format, clean, stats: counters.ShardStatistics, where):
  """corpus_reader.iter_documents for people_daily and ltp_jsonl: yields
  (first_line, sentences), each sentence an annotation_types.AnnotatedText.

  `lines` are (line_number, text) read without cleaning; `clean` (word ->
  word) cleans each word. Documents end at a blank line; People's Daily's also
  where a line's article id differs from the previous line's, or has none
  (corpus_reader's docstring says why).
  """
  def finish(first, sentences):
    if not sentences:
      stats.add("empty_documents", example="%s:%d" % (where, first))
      return None
    return first, sentences

  first, sentences, article = None, [], None
  for number, line in lines:
    if not line.strip():
      if first is not None:
        document = finish(first, sentences)
        if document:
          yield document
      first, sentences, article = None, [], None
      continue
    line_where = "%s:%d" % (where, number)
    if input_format == "ltp_jsonl":
      annotation, emptied = parse_ltp_json_line(line, line_where, clean)
      line_article, found, tag_set = None, [annotation] if annotation else [], "ltp"
    else:
      parsed = parse_people_daily_line(line, line_where, clean)
      line_article, found, emptied = parsed.article, parsed.sentences, parsed.words_emptied
      tag_set = "pku"
    if emptied:
      stats.add("words_emptied", emptied, example=line_where)
    # People's Daily: a line without an id is a document, an id of another
    # article starts one.
    if (input_format == "people_daily" and first is not None and
        (article is None or line_article != article)):
      document = finish(first, sentences)
      if document:
        yield document
      first, sentences = None, []
    if first is None:
      first = number
    article = line_article
    sentences.extend(annotation_types.AnnotatedText(u"".join(a.words), a, tag_set)
                     for a in found)
  if first is not None:
    document = finish(first, sentences)
    if document:
      yield document


# --- LTP JSON lines ---------------------------------------------------------------

LTP_JSON_KEYS = ("cws", "pos", "ner", "dep")


def _string_list(value, what, malformed):
  if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
    raise malformed("%s is not a list of strings" % what)
  return value


def _is_int(value):
  return isinstance(value, int) and not isinstance(value, bool)


def _drop_empty_words(words, pos, entities, dep, heads):
  """Removes the empty words; entities shrink to the words left, heads of a
  removed word pass to its own head."""
  kept = [i for i, word in enumerate(words) if word]
  new_index = {old: new for new, old in enumerate(kept)}
  moved = []
  for entity_type, first, last in entities:
    inside = [new_index[i] for i in range(first, last + 1) if i in new_index]
    if inside:
      moved.append((entity_type, inside[0], inside[-1]))
  new_heads = None
  if heads is not None:
    new_heads = []
    for old in kept:
      head, steps = heads[old], 0
      while head and (head - 1) not in new_index and steps <= len(words):
        head, steps = heads[head - 1], steps + 1
      new_heads.append(new_index[head - 1] + 1 if head and (head - 1) in new_index else 0)
  return ([words[i] for i in kept], [pos[i] for i in kept], moved,
          None if dep is None else [dep[i] for i in kept], new_heads)


def parse_ltp_json_line(line, where, clean=None):
  """One JSON line -> (annotation_types.SentenceAnnotation or None, words_emptied).

  None when cleaning empties every word. A line that is not LTP's output for
  one sentence is a UserError naming `where` (file:line).
  """
  malformed = _malformed(where, "ltp_jsonl")
  try:
    # strict=False: a raw control character in a string is cleaned below.
    value = json.loads(line, strict=False)
  except ValueError as e:
    raise malformed("not JSON (%s)" % e)
  if not isinstance(value, dict):
    raise malformed("not a JSON object")
  missing = [key for key in LTP_JSON_KEYS if key not in value]
  if missing:
    raise malformed("missing key(s) %s (LTP's pipeline output has %s)" %
                    (", ".join(missing), ", ".join(LTP_JSON_KEYS)))
  words = _string_list(value["cws"], "cws", malformed)
  if not words:
    raise malformed("cws has no words")
  for index, word in enumerate(words):
    if not word:
      raise malformed("cws word %d is empty" % index)
  count = len(words)
  pos = _string_list(value["pos"], "pos", malformed)
  if len(pos) != count:
    raise malformed("%d pos tags for %d cws words" % (len(pos), count))
  dep = value["dep"]
  if not isinstance(dep, dict) or "head" not in dep or "label" not in dep:
    raise malformed("dep is not an object with head and label")
  labels = _string_list(dep["label"], "dep.label", malformed)
  heads = dep["head"]
  if not isinstance(heads, list) or not all(_is_int(h) for h in heads):
    raise malformed("dep.head is not a list of integers")
  if len(labels) != count or len(heads) != count:
    raise malformed("%d dep labels and %d heads for %d cws words" %
                    (len(labels), len(heads), count))
  for index, head in enumerate(heads):
    if not 0 <= head <= count:
      raise malformed("dep.head of word %d is %d, outside 0..%d" % (index, head, count))
  if not isinstance(value["ner"], list):
    raise malformed("ner is not a list")
  entities = []
  for entity in value["ner"]:
    if not (isinstance(entity, list) and len(entity) == 4 and
            isinstance(entity[0], str) and isinstance(entity[1], str) and
            _is_int(entity[2]) and _is_int(entity[3])):
      raise malformed("ner entry %s is not [type, text, first_word, last_word]" %
                      json.dumps(entity, ensure_ascii=False))
    entity_type, text, first, last = entity
    if not 0 <= first <= last < count:
      raise malformed("ner entry %s: words %d..%d outside the %d words" % (
          json.dumps(entity, ensure_ascii=False), first, last, count))
    if text != u"".join(words[first:last + 1]):
      raise malformed("ner entry %s: its text is not words %d..%d (%r)" % (
          json.dumps(entity, ensure_ascii=False), first, last,
          u"".join(words[first:last + 1])))
    entities.append((entity_type, first, last))
  words = list(words)
  if clean is not None:
    words = [clean(word) for word in words]
  emptied = sum(1 for word in words if not word)
  if emptied:
    words, pos, entities, labels, heads = _drop_empty_words(
        words, pos, entities, labels, heads)
    if not words:
      return None, emptied
  return annotation_types.SentenceAnnotation(words, list(pos), entities, list(labels),
                                       list(heads)), emptied


def ltp_json_line(annotation):
  """The JSON line (no newline) of an annotation_types.SentenceAnnotation with DEP."""
  words = list(annotation.words)
  return json.dumps({
      "cws": words, "pos": list(annotation.pos),
      "ner": [[t, u"".join(words[first:last + 1]), first, last]
              for t, first, last in annotation.entities],
      "dep": {"head": [int(h) for h in annotation.heads],
              "label": list(annotation.dep)}}, ensure_ascii=False)
