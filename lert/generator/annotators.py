# coding=utf-8
"""Annotators: sentences in, words + POS + NER (+ DEP) in LTP's tag sets out.

One small interface (`Annotator`) with three implementations, chosen by name:

- `jieba` (`JiebaAnnotator`, offline, CPU): jieba's segmentation and part of
  speech, translated into LTP's tag sets; labels POS and NER, not DEP (jieba has
  no parser, so `labelled_tasks` says DEP is absent and training must give the
  DEP head zero weight).
- `ltp` (`LtpAnnotator`): LTP 4.x neural models (cws, pos, ner, dep), batched,
  on a GPU when there is one; labels all three tasks.
- `preannotated` (`PreannotatedAnnotator`): the annotation the input carries
  (`--input_format=people_daily|ltp_jsonl`, preannotated.py); labels the
  tasks of the format (annotation_types.PREANNOTATED_FORMATS). People's
  Daily's PKU POS tags are translated into LTP's set here
  (linguistics.PKU_TO_LTP_POS) and counted.

`create_annotator(name, options)` builds one from the registry; a dotted path
`package.module.ClassName` names a user's own `Annotator` subclass instead.

Every annotator returns, per sentence, a `SentenceAnnotation`
(annotation_types.py says what its fields hold).

jieba, fast on Traditional text: `jieba.posseg`'s HMM decodes unknown words over
all 256 (position, tag) states for every character it has not seen, which drops
it to ~1.3-1.7k chars/s on Chinese Wikipedia (mixed Simplified/Traditional). We
segment with `jieba.Tokenizer.cut` (its prefix dictionary plus the 4-state HMM
for new words, 120-210k chars/s everywhere; with the tagging below the
annotator does 80-150k chars/s, on one core), take each dictionary word's tag from
jieba's dictionary, and tag a word that is not in it with posseg's own HMM
*given* the word boundary: the tag t maximising
start(B,t) + trans(B,t -> M,t -> ... -> E,t) + sum of emissions (S,t for one
character), characters the HMM has never seen counting for no tag. That costs
O(length x 64) per unknown word instead of O(length x 256^2).
Non-Chinese words are tagged by their characters: numbers `m`, letters `eng`
(LTP `ws`), punctuation and symbols `w` (LTP `wp`). jieba tags ~370 bound
characters (咐, 咙, ...) `x`, its tag for punctuation too; for a Chinese word we
read it as LTP's `g` (morpheme), which TagMapper maps to `n` and counts.
NER comes from the name tags (linguistics.JIEBA_TO_LTP_ENTITY): every word
tagged nr/nrt/nrfg is a person (Nh), ns a place (Ns), nt an organisation (Ni).
Each translated jieba tag is counted (`take_statistics()`), so the report shows
how much of the POS signal went through the table. On dictionary words the tags
are posseg's own; where posseg's segmentation is the same (most sentences of
the Wikipedia sample), 98.8% of the tags agree with posseg's.

LTP facts this relies on (ltp 4.2.14): `ltp.LTP(path)` loads a local directory
(its `LTP.from_pretrained` passes arguments out of place in 4.2.14); tasks are
passed explicitly; the tokenizer call is `batch_encode_plus`, gone in
transformers 5, hence the version check; dep heads are 1-based with 0 = root;
inputs are truncated at 512 tokens, so a longer sentence is annotated in pieces
of at most 500 characters (cut after a comma where possible) whose annotations
are joined (each piece has its own root; counted as `ltp_sentences_cut`).
"""

import collections
import contextlib
import importlib
import importlib.util
import logging
import os
import re
import sys

from lert import errors
from lert import linguistics
from lert.generator import annotation_types

# BERT's CJK ideograph blocks (tokenization.py): a word with one of these is Chinese.
_CJK_CLASS = (u"\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff"
              u"\U00020000-\U0002a6df\U0002a700-\U0002ceaf\U0002f800-\U0002fa1f")
_HAS_CJK = re.compile(u"[%s]" % _CJK_CLASS)
# Numbers: ASCII or full-width digits, with decimal points, commas, signs, %.
_DIGIT = u"0-9\uff10-\uff19"
_NUMBER = re.compile(u"^[%s.,\uff0e%%\uff05+\\-]*[%s][%s.,\uff0e%%\uff05]*$" %
                     (_DIGIT, _DIGIT, _DIGIT))


class Annotator(object):
  """Interface: annotate a list of sentences in one call (batched annotators batch).

  Subclasses set `name` and `labelled_tasks` (a subset of linguistics.TASKS)
  and implement `annotate`; sentences of any length must be accepted.
  """

  name = None
  labelled_tasks = ()

  @classmethod
  def from_options(cls, options):
    """Builds the annotator from the generator's options dict (flag values)."""
    del options  # most annotators take none
    return cls()

  def annotate(self, sentences):
    """Returns one SentenceAnnotation per sentence (non-empty, stripped strings)."""
    raise NotImplementedError

  @classmethod
  def describe(cls, options):
    """What identifies this annotator's output, recorded with the cache.

    Cheap (no model is loaded): the generator calls it before any work, so it
    should also reject options that cannot work (raise errors.UserError).
    """
    del options
    return {"name": cls.name, "labelled_tasks": list(cls.labelled_tasks)}

  def take_statistics(self):
    """Counters gathered since the last call ({name: {key: count}}), then resets."""
    return {}


_REGISTRY = collections.OrderedDict()


def register(name):
  """Class decorator: makes an Annotator subclass available as `--annotator=name`."""
  def decorator(cls):
    _REGISTRY[name] = cls
    return cls
  return decorator


def annotator_names():
  return list(_REGISTRY)


def annotator_class(name):
  """The class registered as `name`, or the `package.module.Class` it names."""
  if name in _REGISTRY:
    return _REGISTRY[name]
  if "." not in name:
    raise errors.UserError("unknown annotator %r; known: %s, or a dotted path "
                           "package.module.ClassName" % (name, ", ".join(annotator_names())))
  module_name, class_name = name.rsplit(".", 1)
  try:
    cls = getattr(importlib.import_module(module_name), class_name)
  except (ImportError, AttributeError) as e:
    raise errors.UserError("cannot import annotator %r: %s" % (name, e))
  if not (isinstance(cls, type) and issubclass(cls, Annotator)):
    raise errors.UserError("%r is not an annotators.Annotator subclass" % name)
  return cls


def create_annotator(name, options=None):
  """Builds the annotator `name` (registry name or dotted path) from `options`."""
  return annotator_class(name).from_options(dict(options or {}))


# --- jieba ---------------------------------------------------------------------

_NEEDS_JIEBA = "the jieba annotator needs jieba (pip install jieba==0.42.1)"

# jieba's dictionary tags ~370 bound characters (咐, 咙...) `x`, its tag for
# punctuation too; such a Chinese word gets this pseudo-tag, LTP's `g` (morpheme).
BOUND_CHARACTER = "x(bound)"


def jieba_tag_to_ltp(tag):
  """jieba tag -> LTP tag: linguistics.JIEBA_TO_LTP_POS, else the tag's first
  letter when that is an LTP tag, else `n`."""
  if tag == BOUND_CHARACTER:
    return "g"
  target = linguistics.JIEBA_TO_LTP_POS.get(tag)
  if target is None:
    target = tag[:1] if tag[:1] in linguistics.LABEL_TO_ID["pos"] else "n"
  return target


@register("jieba")
class JiebaAnnotator(Annotator):
  """jieba segmentation + POS in LTP's tag set + NER from name tags; no DEP."""

  name = "jieba"
  labelled_tasks = ("pos", "ner")
  # Memo of tags of words outside jieba's dictionary (they repeat in a corpus).
  _UNKNOWN_CACHE_LIMIT = 200000

  def __init__(self):
    try:
      import jieba
      import jieba.posseg
    except ImportError as e:
      raise errors.UserError("%s: %s" % (_NEEDS_JIEBA, e))
    jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" chatter
    self._tokenizer = jieba.dt
    self._tokenizer.initialize()
    self._word_tags = jieba.posseg.dt.word_tag_tab
    self._start = jieba.posseg.start_P
    self._trans = jieba.posseg.trans_P
    self._emit = jieba.posseg.emit_P
    self._hmm_tags = sorted(set(tag for _, tag in self._start))
    # char -> position (B/M/E/S) -> tag -> emission log-probability; characters
    # the HMM never emits carry no evidence for any tag.
    self._char_emissions = {}
    for (position, tag), emissions in self._emit.items():
      for char, log_prob in emissions.items():
        self._char_emissions.setdefault(char, {}).setdefault(
            position, {})[tag] = log_prob
    self._base_cache = {}
    self._unknown_cache = {}
    self._ltp_tags = {}
    self._tag_counts = collections.Counter()
    self._hmm_tagged = 0

  @classmethod
  def describe(cls, options):
    try:
      import jieba  # cheap: the dictionary loads on first use
    except ImportError as e:
      raise errors.UserError("%s: %s" % (_NEEDS_JIEBA, e))
    description = super(JiebaAnnotator, cls).describe(options)
    description["jieba_version"] = jieba.__version__
    return description

  def annotate(self, sentences):
    return [self.annotate_one(sentence) for sentence in sentences]

  def annotate_one(self, sentence):
    """Annotates one sentence."""
    words = list(self._tokenizer.cut(sentence, HMM=True))
    word_tags = self._word_tags
    counts = self._tag_counts
    to_ltp = self._ltp_tags
    pos, entities = [], []
    entity_types = linguistics.JIEBA_TO_LTP_ENTITY
    for index, word in enumerate(words):
      tag = word_tags.get(word)
      if tag is None or tag == "x":
        tag = self._tag_unknown(word, tag)
      counts[tag] += 1
      entity_type = entity_types.get(tag)
      if entity_type is not None:
        entities.append((entity_type, index, index))
      ltp_tag = to_ltp.get(tag)
      if ltp_tag is None:
        ltp_tag = to_ltp[tag] = jieba_tag_to_ltp(tag)
      pos.append(ltp_tag)
    return annotation_types.SentenceAnnotation(words, pos, entities, None, None)

  def _tag_unknown(self, word, dictionary_tag):
    """Tag of a word outside the dictionary (or a dictionary `x`), in jieba's set."""
    if not _HAS_CJK.search(word):
      if word.isspace():
        return "x"
      if _NUMBER.match(word):
        return "m"
      if any(char.isalnum() for char in word):
        return "eng"
      return "w"
    if dictionary_tag == "x":
      return BOUND_CHARACTER
    self._hmm_tagged += 1
    tag = self._unknown_cache.get(word)
    if tag is None:
      tag = self._hmm_tag(word)
      if len(self._unknown_cache) >= self._UNKNOWN_CACHE_LIMIT:
        self._unknown_cache.clear()
      self._unknown_cache[word] = tag
    return tag

  def _hmm_tag(self, word):
    """posseg's HMM constrained to one word: the best tag for B M* E (or S).

    Score of tag t = start + transitions (`_base_scores`) + emissions of the
    characters the HMM knows; a known character that t cannot emit at its
    position is a miss, and fewer misses win before the score counts.
    """
    length = len(word)
    base = self._base_scores(length)
    known = []
    for offset, char in enumerate(word):
      by_position = self._char_emissions.get(char)
      if by_position is not None:
        position = "S" if length == 1 else (
            "B" if offset == 0 else ("E" if offset == length - 1 else "M"))
        known.append(by_position.get(position, {}))
    if not known:
      return "n"  # nothing known about any character: most unknown words are nouns
    candidates = set()
    for emissions in known:
      candidates.update(emissions)
    best_key, best_tag = None, None
    for tag in candidates:
      score = base.get(tag)
      if score is None:
        continue
      misses = 0
      for emissions in known:
        emission = emissions.get(tag)
        if emission is None:
          misses += 1
        else:
          score += emission
      key = (-misses, score, tag)
      if best_key is None or key > best_key:
        best_key, best_tag = key, tag
    fallback_tag = self._best_base_tag(length)
    if fallback_tag is not None and (
        best_key is None or (-len(known), base[fallback_tag], fallback_tag) > best_key):
      best_tag = fallback_tag
    return best_tag or "n"

  def _base_scores(self, length):
    """{tag: start + transition log-probabilities of a word of `length` chars}."""
    scores = self._base_cache.get(length)
    if scores is not None:
      return scores
    scores = {}
    positions = ["S"] if length == 1 else ["B"] + ["M"] * (length - 2) + ["E"]
    for tag in self._hmm_tags:
      score = self._start.get((positions[0], tag))
      if score is None or score < -1e50:  # jieba's "impossible" is -3.14e100
        continue
      for previous, current in zip(positions, positions[1:]):
        step = self._trans.get((previous, tag), {}).get((current, tag))
        if step is None:
          score = None
          break
        score += step
      if score is not None:
        scores[tag] = score
    self._base_cache[length] = scores
    return scores

  def _best_base_tag(self, length):
    """The best tag on start and transitions alone (every emission a miss)."""
    scores = self._base_scores(length)
    if not scores:
      return None
    return max(scores, key=lambda tag: (scores[tag], tag))

  def take_statistics(self):
    translated = collections.Counter()
    for tag, count in self._tag_counts.items():
      translated["%s->%s" % (tag, jieba_tag_to_ltp(tag))] += count
    stats = {"jieba_pos_translated": dict(translated),
             "annotator_counts": {"jieba_hmm_tagged_words": self._hmm_tagged}}
    self._tag_counts = collections.Counter()
    self._hmm_tagged = 0
    return stats


# --- LTP -----------------------------------------------------------------------


_NEEDS_LTP_MODEL = ("the ltp annotator needs --ltp_model (a local LTP model directory, "
                    "or a hub name such as LTP/small)")
_NEEDS_LTP_PACKAGES = ("the ltp annotator needs torch, transformers<5 and ltp==4.2.14 "
                       "(pip install ltp==4.2.14 'transformers<5')")


@register("ltp")
class LtpAnnotator(Annotator):
  """LTP 4.x neural pipeline (cws, pos, ner, dep), batched, GPU when available."""

  name = "ltp"
  labelled_tasks = ("pos", "ner", "dep")
  # LTP truncates at 512 tokens ([CLS] and [SEP] included); a character is at
  # most one token for its tokenizer, so this leaves room.
  MAX_CHARS = 500
  TASKS = ["cws", "pos", "ner", "dep"]

  def __init__(self, model, batch_size=32, device=None):
    if not model:
      raise errors.UserError(_NEEDS_LTP_MODEL)
    # transformers would otherwise import TensorFlow too (hundreds of MB per
    # worker) when it is installed; LTP is PyTorch only.
    os.environ.setdefault("USE_TF", "0")
    try:
      import torch
      import transformers
      from ltp import LTP
    except ImportError as e:
      raise errors.UserError("%s: %s" % (_NEEDS_LTP_PACKAGES, e))
    if not hasattr(transformers.PreTrainedTokenizerBase, "batch_encode_plus"):
      raise errors.UserError(
          "transformers %s has no batch_encode_plus, which LTP 4.2 calls; install "
          "transformers<5 (this project pins 4.46.3)" % transformers.__version__)
    if batch_size < 1:
      raise errors.UserError("ltp_batch_size must be >= 1, got %d" % batch_size)
    self.model_name = model
    self.batch_size = batch_size
    self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
      # LTP prints "Loading weights..." on stdout, which may carry data.
      with contextlib.redirect_stdout(sys.stderr):
        self._ltp = LTP(model)
    except Exception as e:  # pylint: disable=broad-except
      raise errors.UserError("cannot load LTP model %r (a directory with "
                             "config.json, or a hub name when online): %s: %s" %
                             (model, type(e).__name__, e))
    try:
      self._ltp.to(self.device)
    except Exception as e:  # pylint: disable=broad-except
      raise errors.UserError("cannot move the LTP model to device %r: %s" %
                             (self.device, e))
    missing = [t for t in self.TASKS if t not in self._ltp.supported_tasks]
    if missing:
      raise errors.UserError("LTP model %r does not support task(s) %s" %
                             (model, ", ".join(missing)))
    self._failed = 0
    self._cut = 0

  @classmethod
  def from_options(cls, options):
    return cls(options.get("ltp_model"), options.get("ltp_batch_size", 32),
               options.get("ltp_device"))

  @classmethod
  def describe(cls, options):
    model = options.get("ltp_model")
    if not model:
      raise errors.UserError(_NEEDS_LTP_MODEL)
    for package in ("torch", "transformers", "ltp"):
      if importlib.util.find_spec(package) is None:
        raise errors.UserError("%s; %s is missing" % (_NEEDS_LTP_PACKAGES, package))
    if os.path.isdir(model):
      if not os.path.isfile(os.path.join(model, "config.json")):
        raise errors.UserError("--ltp_model %s is a directory without config.json; "
                               "an LTP 4 model directory holds config.json, "
                               "pytorch_model.bin and vocab.txt" % model)
      model = os.path.abspath(model)
    elif model.startswith((os.path.sep, ".", "~")) or model.count("/") != 1:
      # Hub names are exactly owner/name (LTP/small); anything else is a path.
      raise errors.UserError("--ltp_model %s: no such directory (hub names look "
                             "like LTP/small)" % model)
    description = super(LtpAnnotator, cls).describe(options)
    description["ltp_model"] = model
    return description

  def annotate(self, sentences):
    # Long sentences go in pieces LTP does not truncate (joined again below).
    pieces = []
    for sentence in sentences:
      pieces.append(split_long_text(sentence, self.MAX_CHARS))
      if len(pieces[-1]) > 1:
        self._cut += 1
    texts = sorted(set(piece.strip() for parts in pieces for piece in parts
                       if piece.strip()), key=lambda text: (-len(text), text))
    # Longest first, so each batch pads little.
    annotations = {}
    for begin in range(0, len(texts), self.batch_size):
      batch = texts[begin:begin + self.batch_size]
      annotations.update(zip(batch, self._annotate_batch(batch)))
    return [_join_pieces([(part, annotations.get(part.strip())) for part in parts])
            for parts in pieces]

  def _annotate_batch(self, texts):
    try:
      output = self._ltp.pipeline(texts, tasks=self.TASKS)
    except Exception:  # pylint: disable=broad-except
      if len(texts) == 1:
        # One sentence LTP cannot take (e.g. only characters its tokenizer
        # drops): no annotation; the caller counts and reports it.
        self._failed += 1
        return [None]
      # Find the culprit: annotate one by one.
      return [self._annotate_batch([text])[0] for text in texts]
    results = []
    for index in range(len(texts)):
      words = list(output.cws[index])
      dep = output.dep[index]
      entities = [(tag, start, end) for tag, _, start, end in output.ner[index]]
      results.append(annotation_types.SentenceAnnotation(
          words, list(output.pos[index]), entities, list(dep["label"]),
          [int(head) for head in dep["head"]]))
    return results

  def take_statistics(self):
    stats = {"annotator_counts": {"ltp_failed_sentences": self._failed,
                                  "ltp_sentences_cut": self._cut}}
    self._failed = self._cut = 0
    return stats


def _join_pieces(pieces):
  """One SentenceAnnotation for a text from (piece, annotation of piece.strip())
  of its consecutive pieces, or None if a piece failed.

  Whitespace around a piece (LTP leaves it out) joins the neighbouring word;
  entity indexes and heads are shifted; each piece keeps its own root (0).
  """
  words, pos, entities, dep, heads = [], [], [], [], []
  spaces = u""  # whitespace not yet attached to a word
  for text, annotation in pieces:
    stripped = text.strip()
    if not stripped:
      spaces += text
      continue
    if annotation is None:
      return None
    leading = spaces + text[:text.index(stripped)]
    spaces = text[text.index(stripped) + len(stripped):]
    piece_words = list(annotation.words)
    if leading:
      if words:
        words[-1] += leading
      else:
        piece_words[0] = leading + piece_words[0]
    offset = len(words)
    words.extend(piece_words)
    pos.extend(annotation.pos)
    entities.extend((t, first + offset, last + offset)
                    for t, first, last in annotation.entities)
    dep.extend(annotation.dep)
    heads.extend(h + offset if h > 0 else 0 for h in annotation.heads)
  if not words:
    return None
  words[-1] += spaces
  return annotation_types.SentenceAnnotation(words, pos, entities, dep, heads)


# Characters after which a long text is best cut (commas, pauses, closers).
_SOFT_BREAKS = u"，,；;：:、 \u3000）)」』”"


def split_long_text(text, max_chars):
  """Exact consecutive pieces of `text` of at most `max_chars` characters, cut
  after a comma-like character in the last quarter of a window where possible."""
  pieces = []
  while len(text) > max_chars:
    cut = max_chars
    for index in range(max_chars - 1, max_chars * 3 // 4, -1):
      if text[index] in _SOFT_BREAKS:
        cut = index + 1
        break
    pieces.append(text[:cut])
    text = text[cut:]
  pieces.append(text)
  return pieces


# --- Pre-annotated input ---------------------------------------------------------

def pku_tag_to_ltp(tag):
  """PKU tag -> LTP tag: linguistics.PKU_TO_LTP_POS, else as jieba_tag_to_ltp."""
  target = linguistics.PKU_TO_LTP_POS.get(tag)
  return target if target is not None else jieba_tag_to_ltp(tag)


@register("preannotated")
class PreannotatedAnnotator(Annotator):
  """Returns the annotation each sentence of a pre-annotated input carries."""

  name = "preannotated"
  labelled_tasks = ()  # the input format's (set per instance, see describe)

  def __init__(self, input_format):
    self.labelled_tasks = self._tasks(input_format)
    self.input_format = input_format
    self._tag_counts = collections.Counter()

  @staticmethod
  def _tasks(input_format):
    if input_format not in annotation_types.PREANNOTATED_FORMATS:
      raise errors.UserError(
          "--annotator=preannotated needs an input format that carries "
          "annotations (--input_format=%s), not %s" %
          ("|".join(annotation_types.PREANNOTATED_FORMATS), input_format))
    return annotation_types.PREANNOTATED_FORMATS[input_format]

  @classmethod
  def from_options(cls, options):
    return cls(options.get("input_format"))

  @classmethod
  def describe(cls, options):
    input_format = options.get("input_format")
    return {"name": cls.name, "labelled_tasks": list(cls._tasks(input_format)),
            "input_format": input_format}

  def annotate(self, sentences):
    """`sentences` are annotation_types.AnnotatedText (preannotated.py reads them)."""
    results = []
    for sentence in sentences:
      annotation = getattr(sentence, "annotation", None)
      if annotation is None:
        raise errors.UserError("the preannotated annotator got a sentence without "
                               "an annotation: %r" % sentence[:50])
      if sentence.tag_set == "pku":
        self._tag_counts.update(annotation.pos)
        annotation = annotation._replace(
            pos=[pku_tag_to_ltp(tag) for tag in annotation.pos])
      results.append(annotation)
    return results

  def take_statistics(self):
    if self.input_format != "people_daily":
      return {}
    translated = collections.Counter()
    for tag, count in self._tag_counts.items():
      translated["%s->%s" % (tag, pku_tag_to_ltp(tag))] += count
    self._tag_counts = collections.Counter()
    return {"pku_pos_translated": dict(translated)}


# --- Sentence splitting ----------------------------------------------------------

_TERMINALS = u"。！？…"  # ASCII ! ? . are English rules, off
# Full-width and ASCII parentheses close each other (（...) is common).
_BRACKETS = {u"（": u"）)", u"(": u")）"}
_QUOTES = {u"“": u"”", u"‘": u"’", u"\"": u"\""}


def split_sentences_rules(text):
  """Splits a paragraph into sentences by rule (the fallback without LTP).

  Like LTP's StnSplit with Chinese rules on and English rules off: a sentence
  ends after a run of 。！？… and the closing quotes or brackets right after
  it; not elsewhere inside “…” or （…）. Returns stripped, non-empty
  sentences; together they are `text` minus the whitespace between them.
  """
  sentences = []
  start = index = 0
  length = len(text)
  closing = []  # expected closing brackets and quotes, innermost last
  while index < length:
    char = text[index]
    if closing and char in closing[-1]:
      closing.pop()
    elif char in _BRACKETS or char in _QUOTES:
      closing.append(_BRACKETS.get(char) or _QUOTES[char])
    elif char in _TERMINALS:
      # The run of terminals, closing quotes and brackets ends the sentence
      # (e.g. 。”。 or ……）。).
      end = index
      depth = len(closing)
      while end < length:
        if text[end] in _TERMINALS:
          end += 1
        elif depth and text[end] in closing[depth - 1]:
          depth -= 1
          end += 1
        else:
          break
      if depth == 0:
        piece = text[start:end].strip()
        if piece:
          sentences.append(piece)
        start = end
        del closing[:]
      index = end
      continue
    index += 1
  piece = text[start:].strip()
  if piece:
    sentences.append(piece)
  return sentences


def make_sentence_splitter(name):
  """Returns (resolved name, function paragraph -> sentences).

  `ltp` is ltp_extension's StnSplit with English rules off (needs the
  ltp-extension package); `rules` is split_sentences_rules; `auto` picks ltp when
  installed, else rules.
  """
  if name not in annotation_types.SPLITTERS:
    raise errors.UserError("unknown sentence splitter %r; use one of %s" %
                           (name, ", ".join(annotation_types.SPLITTERS)))
  if name in ("auto", "ltp"):
    try:
      from ltp_extension.algorithms import StnSplit
    except ImportError as e:
      if name == "ltp":
        raise errors.UserError(
            "--sentence_splitter=ltp needs ltp-extension (pip install "
            "ltp-extension==0.1.13), or use --sentence_splitter=rules: %s" % e)
    else:
      splitter = StnSplit()
      splitter.use_en = False

      def split_ltp(text):
        return [s.strip() for s in splitter.split(text) if s.strip()]
      return "ltp", split_ltp
  return "rules", split_sentences_rules
