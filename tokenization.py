# coding=utf-8
"""WordPiece tokenization for LERT (the API of Google BERT's ``tokenization`` module).

The pipeline is BERT's ``FullTokenizer``:

1. Clean the text: drop NUL, U+FFFD and every control character, map whitespace to " ".
2. Put spaces around every CJK ideograph, so each one becomes a word of its own.
3. Split on whitespace.
4. With ``do_lower_case``: lower-case each word, decompose it (NFD) and drop the
   non-spacing marks (category Mn), i.e. strip accents.
5. Split each word on punctuation (ASCII non-alphanumeric printables and Unicode P*).
6. Greedy longest-match-first WordPiece against the vocabulary, ``##`` marking a
   continuation piece; a word that cannot be covered, or that is longer than
   ``max_input_chars_per_word`` characters, becomes ``[UNK]``.

LERT's control-character rule: every Unicode category starting with "C"
(Cc control, Cf format, Cs surrogate, Co private use, Cn unassigned) counts as a
control character and is removed, except "\\t", "\\n" and "\\r", which are whitespace.
Google's original module removed only Cc and Cf; HF's ``BertTokenizer`` uses the same
rule as LERT. Categories come from the running Python's ``unicodedata``, so a character
that is unassigned (Cn) in an older Unicode version is dropped there.

Speed: the data generator tokenizes whole corpora, so per-character classifications
are cached in translation tables, and the result of steps 4-6 is cached per
whitespace-separated word (words in a corpus repeat heavily). The output is exactly
that of the step-by-step algorithm above; the tests check it against HF's tokenizer.

Reading the vocabulary needs no TensorFlow; only paths with a URL scheme such as
``gs://`` are read through ``tf.io.gfile`` (lert.fileio.read_bytes), imported when
needed.
"""

import collections
import re
import unicodedata

from absl import flags

from lert import errors
from lert import fileio
# Google BERT's tokenization module defines this flag and its FullTokenizer
# obeys it, so its API (and Google's tests) include it.
flags.DEFINE_bool(
    "preserve_unused_tokens", False,
    "If True, FullTokenizer keeps a word that is a [unusedN] vocabulary entry "
    "whole instead of splitting it (Google BERT's flag; "
    "FullTokenizer(preserve_unused_tokens=...) overrides it).")
_UNUSED_TOKEN = re.compile(r"^\[unused\d+\]$")

# CJK ideograph blocks that BERT splits into single characters. Hangul, Hiragana and
# Katakana are deliberately not included: those scripts separate words with spaces.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),    # CJK Unified Ideographs
    (0x3400, 0x4DBF),    # Extension A
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2B73F),  # Extension C
    (0x2B740, 0x2B81F),  # Extension D
    (0x2B820, 0x2CEAF),  # Extension E
    (0xF900, 0xFAFF),    # Compatibility Ideographs
    (0x2F800, 0x2FA1F),  # Compatibility Ideographs Supplement
)

# Checkpoint directory names of released models, normalised by _normalize_model_name.
_GOOGLE_LOWER_CASED_MODELS = frozenset([
    "uncased_l_24_h_1024_a_16",
    "uncased_l_12_h_768_a_12",
    "multilingual_l_12_h_768_a_12",
    "chinese_l_12_h_768_a_12",
])
_GOOGLE_CASED_MODELS = frozenset([
    "cased_l_12_h_768_a_12",
    "cased_l_24_h_1024_a_16",
    "multi_cased_l_12_h_768_a_12",
])
# HFL's Chinese models (LERT, BERT-wwm, RoBERTa-wwm-ext, MacBERT, ...) all use this
# lower-cased vocabulary; their releases come in several spellings
# (hfl/chinese-lert-base, chinese_lert_base_L-12_H-768_A-12, chinese_wwm_ext_L-12_...),
# so they are recognised by prefix.
_HFL_LOWER_CASED_PREFIXES = (
    "chinese_lert",
    "chinese_bert_wwm",
    "chinese_wwm",
    "chinese_roberta_wwm",
    "chinese_macbert",
    "chinese_electra",
    "chinese_pert",
    "rbt3",
    "rbt4",
    "rbt6",
    "rbtl3",
)

# Bound on the per-word caches; cleared when full (corpus vocabularies are Zipfian,
# so the frequent words come straight back).
_WORD_CACHE_LIMIT = 500000


# ---------------------------------------------------------------------------
# Text and vocabulary helpers (Google BERT API)
# ---------------------------------------------------------------------------

def convert_to_unicode(text):
  """Returns `text` as str, decoding UTF-8 bytes (invalid bytes are ignored)."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s (expected str or bytes)" % type(text).__name__)


def printable_text(text):
  """Returns `text` as a str suitable for print() or logging."""
  return convert_to_unicode(text)


def load_vocab(vocab_file):
  """Loads a vocabulary file (one token per line) into an OrderedDict token -> id.

  The id is the 0-based line number. Only ASCII whitespace around a line is
  removed: Google's loader strips all Unicode whitespace, which turns the
  Chinese vocabulary's U+2028 entries (ids 343 and 13502) into "" and "##";
  keeping them makes `inv_vocab` an exact inverse, as in HF's loader. A leading
  UTF-8 byte-order mark is ignored.

  Raises:
    ValueError: the file is not UTF-8, is empty, or repeats a token (the error
      names the file and line numbers).
  """
  path = str(vocab_file)
  raw = fileio.read_bytes(path)
  if raw.startswith(b"\xef\xbb\xbf"):
    raw = raw[3:]
  raw_lines = raw.split(b"\n")
  if raw_lines and raw_lines[-1] == b"":
    raw_lines.pop()  # the newline that ends the last line
  if not raw_lines:
    raise errors.UserError("%s: vocabulary file is empty" % path)
  vocab = collections.OrderedDict()
  for index, raw_line in enumerate(raw_lines):
    try:
      line = raw_line.decode("utf-8")
    except UnicodeDecodeError as error:
      raise errors.UserError("%s:%d: vocabulary line is not valid UTF-8 (%s)"
                       % (path, index + 1, error))
    token = line.strip(" \t\r\n\x0b\x0c")
    if token in vocab:
      raise errors.UserError("%s:%d: token %r repeats line %d; a vocabulary needs "
                       "unique tokens" % (path, index + 1, token, vocab[token] + 1))
    vocab[token] = index
  return vocab


def convert_by_vocab(vocab, items):
  """Maps each item through `vocab` (a dict); raises KeyError naming a missing item."""
  output = []
  for item in items:
    try:
      output.append(vocab[item])
    except KeyError:
      raise KeyError("%r is not in the vocabulary" % (item,))
  return output


def convert_tokens_to_ids(vocab, tokens):
  """Maps tokens to ids with `vocab` (token -> id)."""
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  """Maps ids to tokens with `inv_vocab` (id -> token)."""
  return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
  """Strips `text` and splits it on (Python's notion of) whitespace."""
  text = text.strip()
  if not text:
    return []
  return text.split()


def _normalize_model_name(name):
  return name.lower().replace("-", "_")


def _checkpoint_model_name(init_checkpoint):
  """Returns (original, normalised) name of the released model a checkpoint path
  points into, or None. Path components are tried innermost first; a checkpoint file
  such as bert_model.ckpt or model.ckpt-1000 itself never names a model."""
  components = [part for part in re.split(r"[/\\]", init_checkpoint) if part]
  for part in reversed(components):
    name = _normalize_model_name(part)
    if name in _GOOGLE_LOWER_CASED_MODELS or name in _GOOGLE_CASED_MODELS:
      return part, name
    if name.startswith(_HFL_LOWER_CASED_PREFIXES):
      return part, name
  return None


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Raises ValueError if `do_lower_case` contradicts the released model named in
  `init_checkpoint`'s path (Google's cased/uncased BERTs, and HFL's Chinese
  models such as chinese-lert-base, chinese-roberta-wwm-ext, chinese-macbert-large,
  which are all lower-cased). Unknown paths are accepted: nothing can be checked."""
  if not init_checkpoint:
    return
  found = _checkpoint_model_name(str(init_checkpoint))
  if found is None:
    return
  model_name, normalized = found
  if normalized in _GOOGLE_CASED_MODELS:
    if do_lower_case:
      raise errors.UserError(
          "do_lower_case=True, but the checkpoint %s is from the cased model %s. "
          "Set do_lower_case=False (--do_lower_case=False) for cased models."
          % (init_checkpoint, model_name))
    return
  if not do_lower_case:
    raise errors.UserError(
        "do_lower_case=False, but the checkpoint %s is from the lower-cased model %s. "
        "Set do_lower_case=True (--do_lower_case=True) for this model."
        % (init_checkpoint, model_name))


# ---------------------------------------------------------------------------
# Character classes
# ---------------------------------------------------------------------------

def _is_whitespace(char):
  """True for space, tab, newline, carriage return and category Zs."""
  if char in (" ", "\t", "\n", "\r"):
    return True
  return unicodedata.category(char) == "Zs"


def _is_control(char):
  """True for every category starting with "C" (LERT's rule), except \\t \\n \\r."""
  if char in ("\t", "\n", "\r"):
    return False
  return unicodedata.category(char).startswith("C")


def is_removed_char(char):
  """True for what cleaning removes: NUL, U+FFFD and every control character."""
  return char == "\x00" or char == "\ufffd" or _is_control(char)


def _is_punctuation(char):
  """True for ASCII non-alphanumeric printables (so "$", "^", "`" count, as in BERT)
  and for every Unicode category starting with "P"."""
  code = ord(char)
  if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
    return True
  return unicodedata.category(char).startswith("P")


def _is_chinese_char(code):
  """True if code point `code` lies in one of BERT's CJK ideograph blocks."""
  for low, high in _CJK_RANGES:
    if low <= code <= high:
      return True
  return False


# One-letter classes for the cleaning step.
_DROP = "d"    # removed: NUL, U+FFFD, control characters
_SPACE = "s"   # separates words
_CJK = "c"     # a word on its own
_WORD = "w"    # part of a word


def _classify(char):
  if is_removed_char(char):
    return _DROP
  code = ord(char)
  if _is_whitespace(char):
    return _SPACE
  if _is_chinese_char(code):
    return _CJK
  # U+2028/U+2029 survive cleaning but str.split() (BERT's whitespace_tokenize)
  # splits on them, so they separate words too.
  if char.isspace():
    return _SPACE
  return _WORD


def _classify_keeping_controls(char):
  """The classes of HFL's CMRC 2018 baseline (its `customize_tokenizer`).

  Nothing is removed: a control or format character (Cc, Cf; Google's
  `_is_control`; NUL too) becomes a word of its own, so it is one [UNK] in
  place; other C* characters (private use, unassigned, surrogates) and U+FFFD
  are ordinary word characters. A control character that str.split() treats as
  whitespace (U+001C-U+001F, U+0085, ...) separates words, as it does there.
  """
  if _is_whitespace(char) or char.isspace():
    return _SPACE
  if _is_chinese_char(ord(char)):
    return _CJK
  if char not in ("\t", "\n", "\r") and unicodedata.category(char) in ("Cc", "Cf"):
    return _CJK  # a word of its own, like an ideograph
  return _WORD


class _ClassTable(dict):
  """str.translate table code point -> class letter, filled on first sight."""

  def __init__(self, classify):
    super(_ClassTable, self).__init__()
    self.classify = classify

  def __missing__(self, code):
    letter = self.classify(chr(code))
    self[code] = letter
    return letter


class _CleanTable(dict):
  """str.translate table that does cleaning and CJK padding in one C-level pass:
  dropped characters -> None, whitespace -> " ", CJK -> " x ", others unchanged.
  U+2028/U+2029 stay; str.split() splits on them as BERT's whitespace_tokenize does."""

  def __init__(self, classify):
    super(_CleanTable, self).__init__()
    self.classify = classify

  def __missing__(self, code):
    char = chr(code)
    letter = self.classify(char)
    if letter == _DROP:
      value = None
    elif letter == _CJK:
      value = " " + char + " "
    elif _is_whitespace(char):
      value = " "
    else:
      value = char
    self[code] = value
    return value


class _PunctuationTable(dict):
  """Cached _is_punctuation by character."""

  def __missing__(self, char):
    value = _is_punctuation(char)
    self[char] = value
    return value


class _NonSpacingMarkTable(dict):
  """Cached "is category Mn" by character."""

  def __missing__(self, char):
    value = unicodedata.category(char) == "Mn"
    self[char] = value
    return value


# Text rules: (class table, clean table) for BERT's cleaning, and for HFL's CMRC
# 2018 baseline, which keeps control characters as words (split_control_chars).
_BERT_RULES = (_ClassTable(_classify), _CleanTable(_classify))
_BASELINE_RULES = (_ClassTable(_classify_keeping_controls),
                   _CleanTable(_classify_keeping_controls))
_PUNCTUATION = _PunctuationTable()
_NON_SPACING_MARK = _NonSpacingMarkTable()
_WORD_RUN = re.compile(r"c+|[wd]+")
_NON_SPACE_RUN = re.compile(r"\S+")


def _punctuation_pieces(word):
  """(begin, end) of each punctuation character of `word` and each run between."""
  begin = 0
  for index, char in enumerate(word):
    if _PUNCTUATION[char]:
      if begin < index:
        yield begin, index
      yield index, index + 1
      begin = index + 1
  if begin < len(word):
    yield begin, len(word)


def _clean_words(text, rules):
  """Steps 1-3 of the pipeline: the whitespace-separated words of cleaned text."""
  return text.translate(rules[1]).split()


def _clean_words_with_positions(text, rules):
  """Like _clean_words, but yields (word, base, positions): the k-th character of
  `word` is text[base + k] if positions is None (no character was dropped inside
  the word), else text[positions[k]]."""
  classes = text.translate(rules[0])
  for match in _WORD_RUN.finditer(classes):
    start, end = match.span()
    run = match.group()
    if run[0] == _CJK:
      # A run of CJK characters is one match but a word per character.
      for position in range(start, end):
        yield text[position], position, None
    elif _DROP not in run:
      yield text[start:end], start, None
    else:
      positions = [start + offset for offset, letter in enumerate(run)
                   if letter == _WORD]
      if positions:
        yield "".join(text[position] for position in positions), 0, positions


def _tokenize_with_offsets(text, rules, cache, split_word):
  """Shared body of the tokenize_with_offsets methods: `cache` maps a word to
  (tokens, word-character spans) and `split_word` computes a missing entry."""
  text = convert_to_unicode(text)
  tokens, starts, ends = [], [], []
  for word, base, positions in _clean_words_with_positions(text, rules):
    entry = cache.get(word)
    if entry is None:
      entry = split_word(word)
    tokens.extend(entry[0])
    if positions is None:
      for begin, end in entry[1]:
        starts.append(base + begin)
        ends.append(base + end)
    else:
      for begin, end in entry[1]:
        starts.append(positions[begin])
        ends.append(positions[end - 1] + 1)
  return tokens, starts, ends


def _strip_accents_with_sources(word):
  """Lower-cases `word`, decomposes it (NFD) and drops the Mn marks.

  Returns (normalized, sources) with sources[k] = (start, end), the span of
  `word` characters that produced normalized[k]. The text comes from the whole
  word (lower() is context-sensitive, e.g. Greek final sigma), the sources from
  the characters one by one; if those ever disagree in length, every character
  is attributed to the whole word.
  """
  lowered = word.lower()
  if lowered.isascii():
    if len(lowered) == len(word):
      return lowered, [(index, index + 1) for index in range(len(word))]
    return lowered, [(0, len(word))] * len(lowered)
  decomposed = unicodedata.normalize("NFD", lowered)
  normalized = "".join(char for char in decomposed if not _NON_SPACING_MARK[char])
  sources = []
  for index, char in enumerate(word):
    pieces = unicodedata.normalize("NFD", char.lower())
    kept = sum(1 for piece in pieces if not _NON_SPACING_MARK[piece])
    sources.extend([(index, index + 1)] * kept)
  if len(sources) != len(normalized):
    sources = [(0, len(word))] * len(normalized)
  return normalized, sources


def _lower_with_sources(word):
  """Lower-cases `word` without stripping accents: (lowered, sources) as in
  _strip_accents_with_sources.

  Each punctuation character and each run between them is lowered on its own,
  as when punctuation is split off before lower() (HFL's baseline): Greek final
  sigma depends on the neighbours lower() sees.
  """
  lowered, sources = [], []
  for begin, end in _punctuation_pieces(word):
    low = word[begin:end].lower()
    piece_sources = []
    for index in range(begin, end):
      piece_sources.extend([(index, index + 1)] * len(word[index].lower()))
    if len(piece_sources) != len(low):
      piece_sources = [(begin, end)] * len(low)
    lowered.append(low)
    sources.extend(piece_sources)
  return "".join(lowered), sources


def _span_of(sources, begin, end):
  """The word-character span covering normalized characters [begin, end)."""
  starts = [sources[k][0] for k in range(begin, end)]
  ends = [sources[k][1] for k in range(begin, end)]
  return min(starts), max(ends)


class _BoundedCache(dict):
  """A dict that empties itself when it reaches `limit` entries."""

  def __init__(self, limit=_WORD_CACHE_LIMIT):
    super(_BoundedCache, self).__init__()
    self.limit = limit

  def store(self, key, value):
    if len(self) >= self.limit:
      self.clear()
    self[key] = value
    return value


# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------

def _tokenize_cached(text, rules, cache, split_word):
  """Tokens of `text`: each whitespace-separated word split by `split_word`, whose
  result (tokens first) the word cache keeps."""
  text = convert_to_unicode(text)
  tokens = []
  for word in _clean_words(text, rules):
    entry = cache.get(word)
    if entry is None:
      entry = split_word(word)
    tokens.extend(entry[0])
  return tokens


class BasicTokenizer(object):
  """Steps 1-5: cleaning, CJK splitting, lower-casing/accent stripping, punctuation.

  `strip_accents` (None: as `do_lower_case`, HF's convention) and
  `split_control_chars` change steps 1 and 4 to the rules of HFL's CMRC 2018
  baseline (strip_accents=False, split_control_chars=True): lower-casing
  without NFD, and control characters kept as words of their own ([UNK])
  instead of being removed.
  """

  def __init__(self, do_lower_case=True, strip_accents=None, split_control_chars=False):
    if strip_accents and not do_lower_case:
      # Accents are stripped as part of lower-casing (step 4); a cased tokenizer keeps them.
      raise ValueError("strip_accents=True needs do_lower_case=True")
    self.do_lower_case = do_lower_case
    self.strip_accents = do_lower_case if strip_accents is None else strip_accents
    self.split_control_chars = split_control_chars
    self._rules = _BASELINE_RULES if split_control_chars else _BERT_RULES
    self._word_cache = _BoundedCache()

  def tokenize(self, text):
    """Returns the list of basic tokens of `text` (str or UTF-8 bytes)."""
    return _tokenize_cached(text, self._rules, self._word_cache, self._split_word)

  def tokenize_with_offsets(self, text):
    """Returns (tokens, char_starts, char_ends): tokens as tokenize() gives them, and
    for each the [start, end) span of the characters of `text` it came from."""
    return _tokenize_with_offsets(text, self._rules, self._word_cache, self._split_word)

  def _split_word(self, word):
    """Steps 4-5 for one word, cached: (tokens, word-character spans)."""
    tokens, spans, _ = self._analyze_word(word)
    return self._word_cache.store(word, (tokens, spans))

  def _analyze_word(self, word):
    """Steps 4-5 for one whitespace-separated word.

    Returns (tokens, spans, sources): spans[i] is the word-character span of
    tokens[i]; sources[i][k] is the word-character span of tokens[i][k].
    """
    if self.strip_accents:
      normalized, sources = _strip_accents_with_sources(word)
    elif self.do_lower_case:
      normalized, sources = _lower_with_sources(word)
    else:
      normalized = word
      sources = [(index, index + 1) for index in range(len(word))]
    tokens, spans, token_sources = [], [], []
    for begin, end in _punctuation_pieces(normalized):
      _emit_basic_token(normalized, sources, begin, end, tokens, spans, token_sources)
    return tuple(tokens), tuple(spans), tuple(token_sources)


def _emit_basic_token(normalized, sources, begin, end, tokens, spans, token_sources):
  """Appends normalized[begin:end] to the basic tokens. BERT re-splits the joined
  tokens on whitespace, which only matters if lower()/NFD ever yield whitespace
  from a non-ASCII word (cleaned ASCII words contain none)."""
  piece = normalized[begin:end]
  if piece.isascii():
    parts = [(begin, end)]
  else:
    parts = [(begin + match.start(), begin + match.end())
             for match in _NON_SPACE_RUN.finditer(piece)]
  for part_begin, part_end in parts:
    tokens.append(normalized[part_begin:part_end])
    spans.append(_span_of(sources, part_begin, part_end))
    token_sources.append(tuple(sources[part_begin:part_end]))


class WordpieceTokenizer(object):
  """Step 6: greedy longest-match-first WordPiece."""

  def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=200):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    # No vocabulary entry is longer than this, so longer candidates are skipped.
    self._longest_entry = max([len(token) for token in vocab] + [1])

  def tokenize(self, text):
    """Splits each whitespace-separated token of `text` into word pieces.

    Example: "unaffable" -> ["un", "##aff", "##able"] with a suitable vocabulary.
    `text` should already have been through BasicTokenizer.
    """
    text = convert_to_unicode(text)
    output = []
    for token in whitespace_tokenize(text):
      output.extend(piece for piece, _, _ in self._split_token(token))
    return output

  def _split_token(self, token):
    """Returns [(piece, begin, end)], begin/end being character indices in `token`;
    a token that cannot be covered is one [UNK] spanning all of it."""
    length = len(token)
    if length > self.max_input_chars_per_word:
      return [(self.unk_token, 0, length)]
    vocab = self.vocab
    pieces = []
    begin = 0
    while begin < length:
      prefix = "##" if begin > 0 else ""
      # Longest candidate first; "##" does not count towards the entry length.
      end = min(length, begin + self._longest_entry)
      while end > begin:
        candidate = prefix + token[begin:end]
        if candidate in vocab:
          break
        end -= 1
      if end == begin:
        return [(self.unk_token, 0, length)]
      pieces.append((candidate, begin, end))
      begin = end
    return pieces


class FullTokenizer(object):
  """BasicTokenizer followed by WordpieceTokenizer, with vocabulary lookups.

  The results are cached per whitespace-separated word, so `vocab` and
  `do_lower_case` must not be changed after construction.

  With `preserve_unused_tokens`, a word that is a vocabulary entry like
  "[unused0]" stays one token (a way to add tokens without a new vocabulary);
  None takes the value of Google BERT's --preserve_unused_tokens flag.
  `strip_accents` and `split_control_chars` are BasicTokenizer's.
  """

  def __init__(self, vocab_file, do_lower_case=True, preserve_unused_tokens=None,
               strip_accents=None, split_control_chars=False):
    self.vocab = load_vocab(vocab_file)
    self.inv_vocab = {index: token for token, index in self.vocab.items()}
    self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case,
                                          strip_accents=strip_accents,
                                          split_control_chars=split_control_chars)
    self._rules = self.basic_tokenizer._rules
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._word_cache = _BoundedCache()
    if preserve_unused_tokens is None:
      # Google's API: the flag decides (its default while flags are unparsed).
      preserve_unused_tokens = flags.FLAGS["preserve_unused_tokens"].value
    self._preserved_words = frozenset(
        token for token in self.vocab
        if preserve_unused_tokens and _UNUSED_TOKEN.match(token))

  def tokenize(self, text):
    """Returns the word pieces of `text` (str or UTF-8 bytes)."""
    return _tokenize_cached(text, self._rules, self._word_cache, self._split_word)

  def tokenize_with_offsets(self, text):
    """Tokenizes `text` and maps every word piece back to the original text.

    Returns (tokens, char_starts, char_ends): `tokens` equals tokenize(text), and
    text[char_starts[i]:char_ends[i]] is the stretch of `text` that token i came
    from, e.g. "Café" -> "cafe" spans all 4 characters, "##s" of "cats" spans
    only "s". Dropped control characters inside a word lie inside a span but are
    never at its ends. An [UNK] spans the whole (punctuation-split) word it
    replaces; a piece that starts inside one original character (e.g. NFD turns
    a Hangul syllable into several jamo) shares that character with its
    neighbour, so spans may overlap but never go backwards.
    """
    return _tokenize_with_offsets(text, self._rules, self._word_cache, self._split_word)

  def _split_word(self, word):
    """Basic steps 4-5 then WordPiece for one word, cached: (pieces, spans)."""
    if word in self._preserved_words:
      return self._word_cache.store(word, ((word,), ((0, len(word)),)))
    basic_tokens, _, basic_sources = self.basic_tokenizer._analyze_word(word)
    pieces, spans = [], []
    for token, sources in zip(basic_tokens, basic_sources):
      for piece, begin, end in self.wordpiece_tokenizer._split_token(token):
        pieces.append(piece)
        spans.append(_span_of(sources, begin, end))
    entry = (tuple(pieces), tuple(spans))
    return self._word_cache.store(word, entry)

  def convert_tokens_to_ids(self, tokens):
    """Maps tokens to ids; raises KeyError for a token not in the vocabulary."""
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    """Maps ids to tokens; raises KeyError for an unknown id."""
    return convert_by_vocab(self.inv_vocab, ids)
