# coding=utf-8
"""Tests for annotators.py: jieba and LTP annotators, registry, sentence splitting."""

import collections
import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
for path in (REPO_ROOT, TESTS_DIR):
  if path not in sys.path:
    sys.path.insert(0, path)

from lert import errors  # noqa: E402
from lert.generator import annotation_types  # noqa: E402
from lert.generator import annotators  # noqa: E402
import require_installed  # noqa: E402
from lert import linguistics  # noqa: E402

LTP_POS_EXTRA = ("g", "x")  # LTP tags LERT's inventory drops (mapped later)


@pytest.fixture(scope="module")
def jieba_annotator():
  return annotators.create_annotator("jieba")


def test_jieba_spec_example(jieba_annotator):
  annotation, = jieba_annotator.annotate([u"哈工大位于冰城哈尔滨。"])
  assert annotation.words == [u"哈工大", u"位于", u"冰城", u"哈尔滨", u"。"]
  # jieba: 哈工大/nt (organisation) -> LTP ni, 位于/v, 哈尔滨/ns, 。 punctuation.
  assert annotation.pos == ["ni", "v", "ns", "ns", "wp"]
  assert ("Ni", 0, 0) in annotation.entities
  assert ("Ns", 3, 3) in annotation.entities
  assert annotation.dep is None and annotation.heads is None
  stats = jieba_annotator.take_statistics()
  assert stats["jieba_pos_translated"]["nt->ni"] == 1
  assert stats["jieba_pos_translated"]["ns->ns"] == 2
  # Taking the statistics resets them.
  assert jieba_annotator.take_statistics()["jieba_pos_translated"] == {}


def test_jieba_words_spell_the_sentence_and_tags_are_ltp(jieba_annotator):
  sentences = [
      u"數學是利用符號語言研究數量、結構、變化以及空間等概念的一門學科。",
      u"iPhone 13 Pro售价5,999元，比去年增长3.5%。",
      u"Hello, world! 2024 ＡＢＣ１２３ ！？",
      u"全角　空格和\ttab与咐咙两个字",
      u"乾隆皇帝在紫禁城召见了英国使臣马戛尔尼",
  ]
  allowed = set(linguistics.POS_LABELS) | set(LTP_POS_EXTRA)
  for sentence, annotation in zip(sentences, jieba_annotator.annotate(sentences)):
    assert u"".join(annotation.words) == sentence
    assert len(annotation.pos) == len(annotation.words)
    assert set(annotation.pos) <= allowed, annotation.pos
    for entity_type, first, last in annotation.entities:
      assert entity_type in linguistics.ENTITY_TYPES and first == last
      assert annotation.pos[first] in ("nh", "ns", "ni")
  english, = jieba_annotator.annotate([u"Hello world 2024 ！"])
  assert english.words == [u"Hello", u" ", u"world", u" ", u"2024", u" ", u"！"]
  assert english.pos == ["ws", "wp", "ws", "wp", "m", "wp", "wp"]
  # Bound characters that jieba's dictionary tags `x` become LTP's morpheme `g`.
  bound, = jieba_annotator.annotate([u"咐"])
  assert bound.pos == ["g"]


def test_jieba_dictionary_words_match_posseg(jieba_annotator):
  import jieba.posseg
  sentence = u"我们在北京大学学习自然语言处理和机器翻译。"
  reference = jieba.posseg.lcut(sentence)
  annotation, = jieba_annotator.annotate([sentence])
  assert annotation.words == [pair.word for pair in reference]
  assert annotation.pos == [annotators.jieba_tag_to_ltp(pair.flag)
                            for pair in reference]


def test_jieba_unknown_words_are_tagged_by_the_constrained_hmm(jieba_annotator):
  # A new person name (not in the dictionary): the HMM makes it a name.
  assert jieba_annotator._hmm_tag(u"张晓明") == "nr"
  # Characters the HMM never saw: nothing to go on, a noun.
  assert jieba_annotator._hmm_tag(u"\U00020000\U00020001") == "n"
  for word in (u"鬱鬱", u"臺灣省", u"頤和園", u"龘"):
    assert jieba_annotator._hmm_tag(word) in jieba_annotator._hmm_tags


def test_jieba_never_runs_posseg_hmm_on_traditional_text(jieba_annotator, monkeypatch):
  """jieba.posseg's HMM decodes every unseen character over 256 states (~50x slower on
  Traditional than on Simplified text); ours tags an unknown word given its boundary.
  So the full HMM must never run, and the unknown words still get tags."""
  import jieba.posseg

  def refuse(*args, **kwargs):
    raise AssertionError("jieba.posseg's HMM ran")
  monkeypatch.setattr(jieba.posseg, "viterbi", refuse)
  monkeypatch.setattr(jieba.posseg.POSTokenizer, "cut", refuse)
  jieba_annotator.take_statistics()  # start counting from zero
  traditional = u"數學是利用符號語言研究數量、結構、變化以及空間等概念的一門學科，" * 4
  annotation, = jieba_annotator.annotate([traditional])
  assert u"".join(annotation.words) == traditional
  assert len(annotation.pos) == len(annotation.words)
  tagged = jieba_annotator.take_statistics()["annotator_counts"]["jieba_hmm_tagged_words"]
  assert tagged > 0  # words outside the dictionary went through the constrained tagging


def test_jieba_tag_table_fallbacks():
  assert annotators.jieba_tag_to_ltp("nr") == "nh"
  assert annotators.jieba_tag_to_ltp("nt") == "ni"
  assert annotators.jieba_tag_to_ltp("qg") == "q"
  assert annotators.jieba_tag_to_ltp(annotators.BOUND_CHARACTER) == "g"
  assert annotators.jieba_tag_to_ltp("vzz") == "v"     # first letter is an LTP tag
  assert annotators.jieba_tag_to_ltp("yy") == "n"      # not even that
  for tag, target in linguistics.JIEBA_TO_LTP_POS.items():
    assert target in linguistics.LABEL_TO_ID["pos"], (tag, target)


class EchoAnnotator(annotators.Annotator):
  """A user-defined annotator: every character a word."""

  name = "echo"
  labelled_tasks = ("pos",)

  def annotate(self, sentences):
    return [annotation_types.SentenceAnnotation(list(s), ["n"] * len(s), [], None, None)
            for s in sentences]


def test_registry_and_dotted_paths():
  assert annotators.annotator_names()[:2] == ["jieba", "ltp"]
  assert annotators.annotator_class("jieba") is annotators.JiebaAnnotator
  echo = annotators.create_annotator("test_annotators.EchoAnnotator")
  assert echo.annotate([u"ab"])[0].words == [u"a", u"b"]
  with pytest.raises(errors.UserError, match="unknown annotator 'hanlp'"):
    annotators.create_annotator("hanlp")
  with pytest.raises(errors.UserError, match="cannot import"):
    annotators.create_annotator("no_such_module.Thing")
  with pytest.raises(errors.UserError, match="not an annotators.Annotator"):
    annotators.create_annotator("collections.OrderedDict")


def test_describe_is_cheap_and_checks_options(tmp_path):
  description = annotators.JiebaAnnotator.describe({})
  assert description["name"] == "jieba"
  assert description["labelled_tasks"] == ["pos", "ner"]
  with pytest.raises(errors.UserError, match="needs --ltp_model"):
    annotators.LtpAnnotator.describe({"ltp_model": ""})
  if require_installed.optional_import("ltp") is None:
    with pytest.raises(errors.UserError, match="is missing"):
      annotators.LtpAnnotator.describe({"ltp_model": "LTP/small"})
  else:
    with pytest.raises(errors.UserError, match="without config.json"):
      annotators.LtpAnnotator.describe({"ltp_model": str(tmp_path)})
    with pytest.raises(errors.UserError, match="no such directory"):
      annotators.LtpAnnotator.describe({"ltp_model": str(tmp_path / "missing")})
    assert annotators.LtpAnnotator.describe(
        {"ltp_model": "LTP/small"})["ltp_model"] == "LTP/small"


def test_long_texts_are_cut_into_exact_pieces():
  text = (u"第一部分很长，" * 40 + u"没有逗号的部分" * 30)
  pieces = annotators.split_long_text(text, 100)
  assert u"".join(pieces) == text
  assert all(0 < len(piece) <= 100 for piece in pieces)
  assert pieces[0].endswith(u"，")  # cut after a comma where there is one
  assert annotators.split_long_text(u"短句", 100) == [u"短句"]


def test_pieces_are_joined_into_one_annotation():
  def annotation(words, heads):
    return annotation_types.SentenceAnnotation(
        words, ["n"] * len(words), [("Ns", 0, len(words) - 1)], ["ATT"] * len(words),
        heads)
  first = annotation([u"ab", u"c"], [0, 1])
  second = annotation([u"de", u"f"], [2, 0])
  joined = annotators._join_pieces([(u" abc ", first), (u"  ", None),
                                    (u" def", second)])
  assert joined.words == [u" ab", u"c    ", u"de", u"f"]
  assert joined.heads == [0, 1, 4, 0]  # shifted; each piece keeps its root
  assert joined.entities == [("Ns", 0, 1), ("Ns", 2, 3)]
  assert annotators._join_pieces([(u"abc", first), (u"def", None)]) is None


# --- Sentence splitting ---------------------------------------------------------------

PARAGRAPHS = [
    u"他说：“今天天气很好。”然后走了。你呢？我不知道！！好吧……再见",
    u"数学是一门学科。它研究数量；也研究结构。",
    u"（括号里。还有）外面。最后一句",
    u"没有句号的一段",
    u"第一句!第二句?第三句。“好。”（注。）后",
    u"代数结构（群，环，域……），序结构（偏序……）。引号“里面。外面",
]


def test_rule_splitter():
  assert annotators.split_sentences_rules(PARAGRAPHS[0]) == [
      u"他说：“今天天气很好。”", u"然后走了。", u"你呢？", u"我不知道！！",
      u"好吧……", u"再见"]
  assert annotators.split_sentences_rules(PARAGRAPHS[2]) == [
      u"（括号里。还有）外面。", u"最后一句"]
  assert annotators.split_sentences_rules(u"  ") == []
  assert annotators.split_sentences_rules(u"一。 二。") == [u"一。", u"二。"]


def test_splitter_choice():
  name, split = annotators.make_sentence_splitter("rules")
  assert name == "rules" and split(u"一。二。") == [u"一。", u"二。"]
  has_ltp = require_installed.optional_import("ltp_extension") is not None
  name, split = annotators.make_sentence_splitter("auto")
  assert name == ("ltp" if has_ltp else "rules")
  if has_ltp:
    name, split = annotators.make_sentence_splitter("ltp")
    # The rules agree with LTP's StnSplit (English rules off) on these paragraphs.
    for paragraph in PARAGRAPHS:
      assert split(paragraph) == annotators.split_sentences_rules(paragraph)
    # English rules are off: no split after a Latin full stop.
    assert split(u"It is good. Yes! 第二句。") == [u"It is good. Yes! 第二句。"]
  else:
    with pytest.raises(errors.UserError, match="--sentence_splitter=rules"):
      annotators.make_sentence_splitter("ltp")
  with pytest.raises(errors.UserError, match="unknown sentence splitter"):
    annotators.make_sentence_splitter("nltk")


# --- LTP (only where ltp is installed: .venv-tf2) ----------------------------------------


@pytest.fixture(scope="module")
def tiny_ltp_dir(tmp_path_factory):
  pytest.importorskip("ltp")
  import ltp_tiny
  return ltp_tiny.build_tiny_ltp(str(tmp_path_factory.mktemp("ltp_tiny")))


def test_ltp_tiny_model_loads_with_ltp_itself(tiny_ltp_dir):
  import ltp
  model = ltp.LTP(tiny_ltp_dir)
  output = model.pipeline([u"哈工大位于冰城哈尔滨。"], tasks=["cws", "pos", "ner", "dep"])
  assert u"".join(output.cws[0]) == u"哈工大位于冰城哈尔滨。"
  assert len(output.pos[0]) == len(output.cws[0])


def test_ltp_annotator(tiny_ltp_dir):
  annotator = annotators.create_annotator(
      "ltp", {"ltp_model": tiny_ltp_dir, "ltp_batch_size": 3, "ltp_device": "cpu"})
  import ltp_tiny
  long_sentence = u"这是一个很长的句子，" * 120  # 1200 characters, over LTP's 512
  sentences = [u"哈工大位于冰城哈尔滨。", u"他叫汤姆去拿外衣。", u"我",
               u"iPhone 13 Pro售价5,999元。", u"數學是利用符號語言研究數量的學科",
               u"Hello world", long_sentence, u"  前后有空格  "]
  results = annotator.annotate(sentences)
  pos_seen, dep_seen = collections.Counter(), collections.Counter()
  for sentence, annotation in zip(sentences, results):
    words = annotation.words
    assert u"".join(words) == sentence
    assert len(annotation.pos) == len(annotation.dep) == len(annotation.heads) == len(words)
    assert set(annotation.pos) <= set(ltp_tiny.LTP_POS)
    assert set(annotation.dep) <= set(ltp_tiny.LTP_DEP)
    assert all(0 <= head <= len(words) for head in annotation.heads)
    assert 0 in annotation.heads  # a tree: something hangs from the root
    for entity_type, first, last in annotation.entities:
      assert entity_type in linguistics.ENTITY_TYPES and 0 <= first <= last < len(words)
    pos_seen.update(annotation.pos)
    dep_seen.update(annotation.dep)
  # The tiny model favours tags outside LERT's inventory, so mapping is exercised.
  assert pos_seen["g"] + pos_seen["x"] > 0 and dep_seen["IS"] > 0
  # Batching and ordering do not change the results.
  one_by_one = [annotator.annotate([s])[0] for s in sentences]
  assert one_by_one == results
  counts = annotator.take_statistics()["annotator_counts"]
  assert counts == {"ltp_failed_sentences": 0, "ltp_sentences_cut": 2}


def test_ltp_failed_sentence_is_reported_not_fatal(tiny_ltp_dir, monkeypatch):
  annotator = annotators.create_annotator("ltp", {"ltp_model": tiny_ltp_dir})
  original = annotator._ltp.pipeline

  def pipeline(texts, tasks):
    if u"坏" in texts:
      raise RuntimeError("cannot tokenize")
    return original(texts, tasks=tasks)
  monkeypatch.setattr(annotator._ltp, "pipeline", pipeline)
  results = annotator.annotate([u"好句子。", u"坏", u"另一个好句子。"])
  assert results[1] is None
  assert u"".join(results[0].words) == u"好句子。"
  assert annotator.take_statistics()["annotator_counts"]["ltp_failed_sentences"] == 1


def test_ltp_needs_transformers_below_5(tiny_ltp_dir, monkeypatch):
  import transformers
  monkeypatch.delattr(transformers.PreTrainedTokenizerBase, "batch_encode_plus")
  with pytest.raises(errors.UserError, match="transformers<5"):
    annotators.create_annotator("ltp", {"ltp_model": tiny_ltp_dir})


def test_ltp_bad_model_directory(tmp_path):
  pytest.importorskip("ltp")
  (tmp_path / "config.json").write_text(u"{not json")
  with pytest.raises(errors.UserError, match="cannot load LTP model"):
    annotators.create_annotator("ltp", {"ltp_model": str(tmp_path)})
