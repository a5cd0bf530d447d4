"""The CMRC 2018 / DRCD evaluation metric (EM and F1 over mixed segments).

The command is cmrc2018_evaluate.py (the official script's interface); the
span family scores its predictions here in-process, with the same functions.

Text is lower-cased and stripped, then cut into "mixed segments": each CJK
character (U+4E00..U+9FA5) and each listed punctuation mark is one segment, and
every run of other characters is word-tokenized the Treebank way. NLTK is not
needed: its `word_tokenize` (Punkt sentence split, then Treebank word rules) is
re-implemented below; the sentence split is a data-free approximation of Punkt
(see `split_sentences`), which only matters for a run of non-CJK text holding
two sentences.
"""

import collections
import re
import sys

from lert import errors

# The official list. "……" is one two-character entry, so comparing it with a
# single character never matches: a lone "…" is *not* punctuation here, and
# keeping that quirk keeps scores identical to the official script.
PUNCTUATION = (
    "-", ":", "_", "*", "^", "/", "\\", "~", "`", "+", "=",
    u"\uff0c", u"\u3002", u"\uff1a", u"\uff1f", u"\uff01", u"\u201c",
    u"\u201d", u"\uff1b", u"\u2019", u"\u300a", u"\u300b", u"\u2026\u2026",
    u"\u00b7", u"\u3001", u"\u300c", u"\u300d", u"\uff08", u"\uff09",
    u"\uff0d", u"\uff5e", u"\u300e", u"\u300f")
_PUNCT_CHARS = frozenset(p for p in PUNCTUATION if len(p) == 1)


def _is_cjk(ch):
  return u"\u4e00" <= ch <= u"\u9fa5"


# --- Treebank word tokenizer (Penn Treebank conventions, as NLTK applies) ---

_STARTING_QUOTES = [
    (re.compile(r'^"'), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"""([ (\[{<])("|'')"""), r"\1 `` "),
]
_PUNCT_RULES = [
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.\.\."), r" ... "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    # Only the sentence-final period is split off ("u.s." -> "u.s ." at the
    # end, but "3.5" and inner "e.g." stay whole).
    (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
]
_BRACKETS = (re.compile(r"[\]\[\(\)\{\}<>]"), r" \g<0> ")
_DOUBLE_DASH = (re.compile(r"--"), r" -- ")
_ENDING_QUOTES = [
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
# Words Treebank splits in two: "cannot" -> "can not", "gonna" -> "gon na".
_CONTRACTIONS = [
    re.compile(r"(?i)\b(can)(not)\b"),
    re.compile(r"(?i)\b(d)('ye)\b"),
    re.compile(r"(?i)\b(gim)(me)\b"),
    re.compile(r"(?i)\b(gon)(na)\b"),
    re.compile(r"(?i)\b(got)(ta)\b"),
    re.compile(r"(?i)\b(lem)(me)\b"),
    re.compile(r"(?i)\b(more)('n)\b"),
    re.compile(r"(?i)\b(wan)(na)(?=\s)"),
    re.compile(r"(?i) ('t)(is)\b"),
    re.compile(r"(?i) ('t)(was)\b"),
]


def treebank_tokenize(text):
  """Splits one sentence into Penn Treebank tokens."""
  for pattern, repl in _STARTING_QUOTES + _PUNCT_RULES + [_BRACKETS,
                                                          _DOUBLE_DASH]:
    text = pattern.sub(repl, text)
  text = " " + text + " "
  for pattern, repl in _ENDING_QUOTES:
    text = pattern.sub(repl, text)
  for pattern in _CONTRACTIONS:
    text = pattern.sub(r" \1 \2 ", text)
  return text.split()


# A few abbreviations Punkt's English model knows; a final period after them
# does not end a sentence.
_ABBREVIATIONS = frozenset([
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc",
    "ltd", "co", "corp", "no", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "gen", "gov", "sen", "rep", "rev"])
_NUMBER = re.compile(r"^-?[\.,]?\d[\d,\.-]*$")
_SENTENCE_END = re.compile(r"[.?!][\"')\]}]*$")


def split_sentences(text):
  """Splits text into sentences like Punkt does on lower-cased text.

  A token ending in `.`, `?` or `!` (maybe followed by closing quotes or
  brackets) ends a sentence when more text follows, unless it is an ellipsis,
  or, for `.`, the word is an abbreviation (known, or with an inner period),
  a single letter (an initial) or a number: after lower-casing, the next word
  never starts with a capital, which is the evidence Punkt would need there.
  """
  sentences = []
  start = 0
  for match in re.finditer(r"\S+", text):
    token = match.group(0)
    if match.end() >= len(text.rstrip()):
      break
    if not _SENTENCE_END.search(token):
      continue
    core = token.rstrip("\"')]}")
    if core.endswith(".."):
      continue
    if core.endswith("."):
      word = core[:-1].lstrip("\"'([{")
      if (len(word) <= 1 or "." in word or word in _ABBREVIATIONS or
          _NUMBER.match(word)):
        continue
    sentences.append(text[start:match.end()])
    start = match.end()
  sentences.append(text[start:])
  return [s for s in sentences if s.strip()]


def word_tokenize(text):
  """NLTK `word_tokenize` equivalent: sentences, then Treebank tokens."""
  tokens = []
  for sentence in split_sentences(text):
    tokens.extend(treebank_tokenize(sentence))
  return tokens


# --- The metric ---


def mixed_segmentation(text, rm_punc=False):
  """Lower-cases, strips and cuts text into CJK chars, punctuation and words."""
  text = str(text).lower().strip()
  segments = []
  pending = []
  for ch in text:
    if rm_punc and ch in _PUNCT_CHARS:
      continue
    if _is_cjk(ch) or ch in _PUNCT_CHARS:
      if pending:
        segments.extend(word_tokenize(u"".join(pending)))
        pending = []
      segments.append(ch)
    else:
      pending.append(ch)
  if pending:
    segments.extend(word_tokenize(u"".join(pending)))
  return segments


def remove_punctuation(text):
  """Lower-cases, strips and drops the listed punctuation characters."""
  text = str(text).lower().strip()
  return u"".join(ch for ch in text if ch not in _PUNCT_CHARS)


def longest_common_run(a, b):
  """Length of the longest common contiguous run of two sequences."""
  best = 0
  prev = [0] * (len(b) + 1)
  for x in a:
    cur = [0] * (len(b) + 1)
    for j, y in enumerate(b):
      if x == y:
        cur[j + 1] = prev[j] + 1
        if cur[j + 1] > best:
          best = cur[j + 1]
    prev = cur
  return best


def f1_score(answers, prediction):
  """Max over reference answers of the segment-level F1 (a fraction)."""
  pred_segs = mixed_segmentation(prediction, rm_punc=True)
  best = 0.0
  for answer in answers:
    ans_segs = mixed_segmentation(answer, rm_punc=True)
    common = longest_common_run(ans_segs, pred_segs)
    if common == 0:
      continue
    precision = common / len(pred_segs)
    recall = common / len(ans_segs)
    best = max(best, 2 * precision * recall / (precision + recall))
  return best


def em_score(answers, prediction):
  """1 if the prediction equals a reference once punctuation is removed."""
  pred = remove_punctuation(prediction)
  return 1 if any(remove_punctuation(a) == pred for a in answers) else 0


def references_from_dataset(dataset, source="the data file"):
  """[(question id, reference answer texts)] in file order.

  Raises errors.UserError naming `source` and the entry when the JSON is not
  SQuAD-shaped (data -> paragraphs -> qas with an id and answer texts).
  """
  def shape_error(where, expected):
    return errors.UserError("%s: %s is not %s (expected SQuAD-style JSON: "
                            "{\"data\": [{\"paragraphs\": [{\"qas\": [{\"id\", "
                            "\"answers\": [{\"text\"}]}]}]}]})" % (source, where, expected))
  if not isinstance(dataset, dict) or not isinstance(dataset.get("data"), list):
    raise shape_error("the top level", "an object with a \"data\" list")
  references = []
  for i, article in enumerate(dataset["data"]):
    paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
    if not isinstance(paragraphs, list):
      raise shape_error("data[%d]" % i, "an object with a \"paragraphs\" list")
    for j, para in enumerate(paragraphs):
      qas = para.get("qas") if isinstance(para, dict) else None
      if not isinstance(qas, list):
        raise shape_error("data[%d].paragraphs[%d]" % (i, j), "an object with a \"qas\" list")
      for k, qa in enumerate(qas):
        where = "data[%d].paragraphs[%d].qas[%d]" % (i, j, k)
        answers = qa.get("answers") if isinstance(qa, dict) else None
        if "id" not in (qa if isinstance(qa, dict) else {}) or not isinstance(answers, list):
          raise shape_error(where, "an object with an \"id\" and an \"answers\" list")
        texts = [a.get("text") if isinstance(a, dict) else None for a in answers]
        if not all(isinstance(text, str) for text in texts):
          raise shape_error(where + ".answers", "a list of objects with a \"text\" string")
        references.append((str(qa["id"]).strip(), texts))
  return references


def _prediction_error(prediction_source, message):
  """A UserError about the predictions, naming their file when there is one."""
  return errors.UserError("%s: %s" % (prediction_source, message) if prediction_source
                          else message)


def evaluate_references(references, predictions, log=None, prediction_source=None):
  """Scores predictions (id -> text) against references.

  `references` is a list of (question id, reference texts), or a dict; every
  entry counts once in TOTAL, as every question of the file does officially.
  `prediction_source` (the predictions' file, if any) is named in errors.

  Returns OrderedDict with AVERAGE, F1, EM (percent), TOTAL and SKIP; a
  missing prediction counts as 0 for both scores and 1 in SKIP.
  """
  log = sys.stderr if log is None else log
  f1 = em = 0.0
  skip = 0
  if isinstance(references, dict):
    references = list(references.items())
  for qid, answers in references:
    if qid not in predictions:
      log.write("Unanswered question: %s\n" % qid)
      skip += 1
      continue
    prediction = predictions[qid]
    if not isinstance(prediction, str):
      # str() of a list, null or number would be scored as if it were an answer.
      raise _prediction_error(prediction_source, "the prediction for question %s is %s %r, "
                              "not a string" % (qid, type(prediction).__name__, prediction))
    f1 += f1_score(answers, prediction)
    em += em_score(answers, prediction)
  total = len(references)
  f1_pct = 100.0 * f1 / total if total else 0.0
  em_pct = 100.0 * em / total if total else 0.0
  return collections.OrderedDict([
      ("AVERAGE", (em_pct + f1_pct) * 0.5), ("F1", f1_pct), ("EM", em_pct),
      ("TOTAL", total), ("SKIP", skip)])


def evaluate(dataset, predictions, log=None, source="the data file",
             prediction_source=None):
  """Scores predictions against parsed SQuAD-style JSON (see above).

  `source` names the dataset's file and `prediction_source` the predictions'
  file (if any) in errors.
  """
  if not isinstance(predictions, dict):
    raise _prediction_error(prediction_source, "the predictions are %s, not an object of "
                            "question id -> answer text" % type(predictions).__name__)
  return evaluate_references(references_from_dataset(dataset, source), predictions,
                             log, prediction_source)
