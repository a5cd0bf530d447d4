# coding=utf-8
"""Readers, feature conversion and post-processing of the three families
(lert/finetune/classification.py, span.py, tagging.py) and their shared windows.

Every fixture is written by the test itself, in the task's official format.
"""

import io
import json
import os

import pytest

from lert import errors
from lert.finetune import classification
from lert.finetune import common
from lert.finetune import span
from lert.finetune import tagging
import tokenization

VOCAB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "vocab.txt")


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


def write(tmp_path, name, text, encoding="utf-8"):
  path = str(tmp_path / name)
  with io.open(path, "w", encoding=encoding, newline="") as f:
    f.write(text)
  return path


# --- Classification readers ----------------------------------------------------


def test_chnsenticorp_tsv_with_header(tmp_path):
  path = write(tmp_path, "train.tsv",
               u"label\ttext_a\n1\t房间很干净，服务好。\n0\t太吵了 noisy!\n")
  examples, stats = classification.read_chnsenticorp(path)
  assert [(e.label, e.text_a, e.text_b) for e in examples] == [
      ("1", u"房间很干净，服务好。", None), ("0", u"太吵了 noisy!", None)]
  assert stats["examples"] == 2


def test_tnews_codes_map_to_15_ids_in_sorted_code_order(tmp_path):
  assert len(classification.TNEWS_LABELS) == 15
  assert classification.TNEWS_LABELS[0] == "100" and classification.TNEWS_LABELS[-1] == "116"
  assert "105" not in classification.TNEWS_LABELS and "111" not in classification.TNEWS_LABELS
  assert classification.TNEWS_LABELS.index("106") == 5
  assert classification.TNEWS_LABELS.index("112") == 10
  lines = [{"label": "108", "label_desc": "news_edu", "sentence": u"上课手机响",
            "keywords": ""},
           {"label": "116", "label_desc": "news_game", "sentence": u"新游戏",
            "keywords": u"游戏"}]
  path = write(tmp_path, "dev.json", u"".join(
      json.dumps(line, ensure_ascii=False) + u"\n" for line in lines))
  examples, _ = classification.read_tnews(path)
  assert [(e.label, e.text_a) for e in examples] == [("108", u"上课手机响"),
                                                     ("116", u"新游戏")]


def test_xnli_tsv_pair(tmp_path):
  path = write(tmp_path, "dev.tsv", u"text_a\ttext_b\tlabel\n"
               u"他说，妈妈，我回来了。\t他没说一句话。\tcontradiction\n")
  examples, _ = classification.read_xnli(path)
  assert examples[0].text_a == u"他说，妈妈，我回来了。"
  assert examples[0].text_b == u"他没说一句话。"
  assert examples[0].label == "contradiction"


def test_lcqmc_and_bq_csv_with_bom_and_quoted_commas(tmp_path):
  text = (u"sentence1,sentence2,label\n"
          u"用微信都6年，微信没有微粒贷功能,4。  号码来微粒贷,0\n"
          u"\"a, b\",\"c \"\"d\"\"\",1\n")
  path = write(tmp_path, "dev.csv", text, encoding="utf-8-sig")
  with open(path, "rb") as f:
    assert f.read(3) == b"\xef\xbb\xbf"
  for reader in (classification.read_lcqmc, classification.read_bq):
    examples, stats = reader(path)
    assert [(e.text_a, e.text_b, e.label) for e in examples] == [
        (u"用微信都6年，微信没有微粒贷功能", u"4。  号码来微粒贷", "0"),
        (u"a, b", u"c \"d\"", "1")]
    assert stats["examples"] == 2


def test_ocnli_drops_no_majority_label_and_counts(tmp_path):
  recs = [{"sentence1": u"身上裹一件大衣", "sentence2": u"身上至少一件衣服",
           "label": "entailment", "id": 0},
          {"sentence1": u"甲", "sentence2": u"乙", "label": "-", "id": 1},
          {"sentence1": u"丙", "sentence2": u"丁", "label": "neutral", "id": 2}]
  path = write(tmp_path, "dev.json", u"".join(
      json.dumps(r, ensure_ascii=False) + u"\n" for r in recs))
  examples, stats = classification.read_ocnli(path)
  assert [e.guid for e in examples] == ["0", "2"]
  assert stats["dropped_no_label"] == 1 and stats["examples"] == 2


def test_unlabeled_test_split_gives_none_labels(tmp_path):
  path = write(tmp_path, "test.json",
               u'{"sentence1": "a", "sentence2": "b", "id": 0}\n')
  examples, _ = classification.read_ocnli(path)
  assert examples[0].label is None


# --- Bad input ---------------------------------------------------------------


def test_malformed_tsv_line_names_file_and_line(tmp_path):
  path = write(tmp_path, "train.tsv", u"label\ttext_a\n1\tok\n0\tone\ttoo many\n")
  with pytest.raises(errors.UserError, match=r"train\.tsv:3: malformed line"):
    classification.read_chnsenticorp(path)


def test_unknown_label_names_file_and_line(tmp_path):
  path = write(tmp_path, "dev.tsv", u"text_a\ttext_b\tlabel\na\tb\tmaybe\n")
  with pytest.raises(errors.UserError, match=r"dev\.tsv:2: unknown label 'maybe'"):
    classification.read_xnli(path)
  path = write(tmp_path, "dev.json", u'{"label": "105", "sentence": "x"}\n')
  with pytest.raises(errors.UserError, match=r"dev\.json:1: unknown label '105'"):
    classification.read_tnews(path)


def test_malformed_json_and_csv_lines(tmp_path):
  path = write(tmp_path, "train.json",
               u'{"label": "100", "sentence": "x"}\n{"label": \n')
  with pytest.raises(errors.UserError, match=r"train\.json:2: malformed JSON"):
    classification.read_tnews(path)
  path = write(tmp_path, "train.csv", u"sentence1,sentence2,label\na,b\n",
               encoding="utf-8-sig")
  with pytest.raises(errors.UserError, match=r"train\.csv:2: malformed line"):
    classification.read_bq(path)


def test_missing_file_and_missing_columns(tmp_path):
  with pytest.raises(errors.UserError, match="file not found"):
    classification.read_xnli(str(tmp_path / "train.tsv"))
  path = write(tmp_path, "train.tsv", u"label\tsentence\n1\tx\n")
  with pytest.raises(errors.UserError, match=r"train\.tsv:1: header .* text_a"):
    classification.read_chnsenticorp(path)


# --- Tagging reader ----------------------------------------------------------

MSRA_LABELS = tagging.bio_labels(tagging.NER_TYPES)


def test_char_tag_reader_tab_and_space(tmp_path):
  tab = write(tmp_path, "test.bio",
              u"中\tB-ORG\n共\tI-ORG\n说\tO\n\n李\tB-PER\n\n\n")
  space = write(tmp_path, "dev.txt", u"中 B-ORG\n共 I-ORG\n说 O\n\n李 B-PER\n")
  for path, sep in ((tab, "\t"), (space, " ")):
    examples, stats = tagging.read_char_tag_file(path, MSRA_LABELS)
    assert [e.tokens for e in examples] == [[u"中", u"共", u"说"], [u"李"]]
    assert [e.labels for e in examples] == [["B-ORG", "I-ORG", "O"], ["B-PER"]]
    assert examples[0].separator == sep
    assert stats["sentences"] == 2 and stats["tokens"] == 4


def test_char_tag_reader_space_character_and_bioes(tmp_path):
  path = write(tmp_path, "train.txt", u"a O\n  O\nb S-LOC\nc B-PER\nd E-PER\n")
  examples, _ = tagging.read_char_tag_file(path, tagging.bioes_labels(tagging.NER_TYPES))
  assert examples[0].tokens == [u"a", u" ", u"b", u"c", u"d"]
  assert examples[0].labels == ["O", "O", "S-LOC", "B-PER", "E-PER"]


def test_char_tag_reader_errors(tmp_path):
  path = write(tmp_path, "train.bio", u"中\tB-ORG\n共\n")
  with pytest.raises(errors.UserError, match=r"train\.bio:2: malformed line"):
    tagging.read_char_tag_file(path, MSRA_LABELS)
  path = write(tmp_path, "dev.bio", u"中\tB-ORG\n\n共\tB-GPE\n")
  with pytest.raises(errors.UserError, match=r"dev\.bio:3: unknown label 'B-GPE'"):
    tagging.read_char_tag_file(path, MSRA_LABELS)


def test_char_tag_reader_refuses_three_columns(tmp_path):
  """`工 B-PER O` is not the token `工 B-PER` tagged O: the line is named instead."""
  for name, line in (("space.txt", u"工 B-PER O\n"), ("tab.bio", u"工\tB-PER\tO\n")):
    path = write(tmp_path, name, u"中 B-ORG\n".replace(" ", "\t" if "tab" in name else " ")
                 + line)
    with pytest.raises(errors.UserError, match=r"%s:2: line .* has 3 columns" % name):
      tagging.read_char_tag_file(path, MSRA_LABELS)


def test_format_char_tag_file_round_trips(tmp_path):
  path = write(tmp_path, "dev.txt", u"中 B-ORG\n共 I-ORG\n\n李 B-PER\n")
  examples, _ = tagging.read_char_tag_file(path, MSRA_LABELS)
  out = write(tmp_path, "pred.txt",
              tagging.format_char_tag_file(examples, [e.labels for e in examples]))
  again, _ = tagging.read_char_tag_file(out, MSRA_LABELS)
  assert ([(e.tokens, e.labels, e.separator) for e in again] ==
          [(e.tokens, e.labels, e.separator) for e in examples])


# --- SQuAD-style reader ------------------------------------------------------


def squad_file(tmp_path, paragraphs, name="cmrc2018_dev.json"):
  data = {"version": "v1.0", "data": [{"id": "D0", "title": "t",
                                       "paragraphs": paragraphs}]}
  return write(tmp_path, name, json.dumps(data, ensure_ascii=False))


def test_squad_reader_counts_mismatched_answers_and_empty_contexts(tmp_path):
  context = u"哈工大位于冰城哈尔滨。"
  path = squad_file(tmp_path, [
      {"id": "P0", "context": context, "qas": [
          {"id": "Q0 ", "question": u"哈工大在哪？", "answers": [
              {"text": u"哈尔滨", "answer_start": 7},
              {"text": u"冰城哈尔滨", "answer_start": 4}]},  # offset off by one
          {"id": "Q1", "question": u"?", "answers": [
              {"id": "1", "text": u"哈工大", "answer_start": 0}]}]},  # DRCD id
      {"id": "P1", "context": u"", "qas": [
          {"id": "Q2", "question": u"空？", "answers": []}]}])
  examples, stats = span.read_squad_examples(path)
  assert [e.qas_id for e in examples] == ["Q0", "Q1", "Q2"]
  assert stats["answer_mismatch"] == 1
  assert stats["empty_context"] == 1
  assert stats["questions"] == 3 and stats["answers"] == 3


def test_squad_reader_rejects_other_json(tmp_path):
  path = write(tmp_path, "x.json", u"[1, 2]")
  with pytest.raises(errors.UserError, match="not SQuAD-style"):
    span.read_squad_examples(path)
  path = write(tmp_path, "y.json", u"{\"data\": [")
  with pytest.raises(errors.UserError, match=r"y\.json: the .* is not valid JSON"):
    span.read_squad_examples(path)


# --- Windows -----------------------------------------------------------------


def test_make_windows_covers_everything():
  assert common.make_windows(10, 4, 2) == [(0, 4), (2, 4), (4, 4), (6, 4)]
  assert common.make_windows(10, 4, 3) == [(0, 4), (3, 4), (6, 4)]
  assert common.make_windows(5, 8, 3) == [(0, 5)]
  assert common.make_windows(9, 4, 8) == [(0, 4), (4, 4), (8, 1)]
  assert common.make_windows(0, 4, 2) == []


def test_best_window_prefers_central_position():
  windows = [(0, 4), (2, 4), (4, 4), (6, 4)]
  best = common.best_window_per_position(10, windows)
  # Position 2: min(2,1)=1 in window 0, min(0,3)=0 in window 1 -> window 0.
  # Position 3: min(3,0)=0 in window 0, min(1,2)=1 in window 1 -> window 1.
  assert best == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


# --- Classification features -------------------------------------------------


def test_classification_features_pair_and_truncation(tokenizer):
  ex = classification.ClassificationExample("g", u"我爱北京天安门", u"你好", "1")
  features, stats = classification.convert_classification_examples(
      [ex], classification.BINARY_LABELS, tokenizer, max_seq_length=8)
  f = features[0]
  tokens = tokenizer.convert_ids_to_tokens(f["input_ids"])
  # 8 - 3 specials = 5 tokens: the longer side loses characters first.
  assert tokens == ["[CLS]", u"我", u"爱", u"北", "[SEP]", u"你", u"好", "[SEP]"]
  assert f["segment_ids"] == [0, 0, 0, 0, 0, 1, 1, 1]
  assert f["input_mask"] == [1] * 8
  assert f["label_ids"] == [1]
  assert stats["truncated"] == 1


def test_classification_features_single_padded(tokenizer):
  ex = classification.ClassificationExample("g", u"好", None, "0")
  features, _ = classification.convert_classification_examples(
      [ex], classification.BINARY_LABELS, tokenizer, max_seq_length=6, unique_id_start=7)
  f = features[0]
  assert f["unique_id"] == [7]
  assert f["input_ids"][3:] == [0, 0, 0]
  assert f["input_mask"] == [1, 1, 1, 0, 0, 0]
  assert f["label_ids"] == [0]


def test_classification_accuracy():
  exs = [classification.ClassificationExample(str(i), "x", None, label)
         for i, label in enumerate(["0", "1", "1", "0"])]
  assert classification.classification_accuracy(
      exs, [0, 1, 0, 0], classification.BINARY_LABELS) == 0.75


# --- Span features -----------------------------------------------------------


def span_example(context, answer, start, qid="q"):
  return span.SpanExample(qid, u"哪一年？", context,
                          [{"text": answer, "answer_start": start}])


def test_span_alignment_with_mixed_english_and_digits(tokenizer):
  context = u"2018年LERT模型在CMRC上得分88.1分，很好。"
  for answer in (u"LERT", u"88.1", u"2018年", u"CMRC上得分88.1分"):
    start = context.index(answer)
    features, stats = span.convert_span_examples(
        [span_example(context, answer, start)], tokenizer, max_seq_length=64,
        doc_stride=32, max_query_length=16, is_training=True)
    assert stats["skipped_mismatch"] == 0 and len(features) == 1
    f = features[0]
    char_start = f.token_to_char[f.start_position][0]
    char_end = f.token_to_char[f.end_position][1]
    assert context[char_start:char_end] == answer


def test_span_answer_off_its_offset_is_relocated_to_the_nearest_occurrence(tokenizer):
  # "哈尔滨" is at 7 and 12; answer_start 11 is off by one: the nearest one (12)
  # is the answer, not the first (HFL's baseline would take 7).
  context = u"哈工大位于冰城哈尔滨。来哈尔滨吧"
  ex = span_example(context, u"哈尔滨", 11)
  features, stats = span.convert_span_examples(
      [ex], tokenizer, 64, 32, 16, is_training=True)
  assert stats["answer_relocated"] == 1 and stats["skipped_mismatch"] == 0
  f = features[0]
  assert (f.token_to_char[f.start_position][0], f.token_to_char[f.end_position][1]) == (12, 15)
  assert span.locate_answer(context, {"text": u"哈尔滨", "answer_start": 7}) == 7
  assert span.locate_answer(context, {"text": u"哈尔滨", "answer_start": 9}) == 7


def test_span_answer_not_in_context_is_skipped_in_training_and_counted(tokenizer):
  ex = span_example(u"哈工大位于冰城哈尔滨。", u"长春", 6)
  features, stats = span.convert_span_examples(
      [ex], tokenizer, 64, 32, 16, is_training=True)
  assert features == [] and stats["skipped_mismatch"] == 1
  # Prediction does not need the answer: the question still gets features.
  features, stats = span.convert_span_examples(
      [ex], tokenizer, 64, 32, 16, is_training=False)
  assert len(features) == 1 and stats["skipped_mismatch"] == 0


def test_span_empty_context_gives_no_features_and_empty_prediction(tokenizer):
  ex = span.SpanExample("q", u"问题？", u"   ", [])
  features, stats = span.convert_span_examples([ex], tokenizer, 32, 8, 8, False)
  assert features == [] and stats["empty_context"] == 1
  preds, nbest = span.decode_spans([ex], features, {}, 5, 10)
  assert preds == {"q": ""}
  assert nbest["q"][0]["text"] == "" and nbest["q"][0]["probability"] == 1.0


def test_span_doc_stride_windows(tokenizer):
  context = u"一二三四五六七八九十甲乙丙丁戊己庚辛壬癸"  # 20 tokens
  ex = span_example(context, u"丙丁", context.index(u"丙丁"))
  # question 哪一年？ = 4 tokens -> 16 - 4 - 3 = 9 context tokens per window.
  features, stats = span.convert_span_examples(
      [ex], tokenizer, max_seq_length=16, doc_stride=4, max_query_length=8,
      is_training=True)
  # [CLS] + 4 question tokens + [SEP]: the context starts at position 6.
  assert [(f.token_to_char[6][0], len(f.token_to_char)) for f in features] == [
      (0, 9), (4, 9), (8, 9), (12, 8)]
  # 丙丁 are context tokens 12-13: whole only in windows 2 (8..16) and 3
  # (12..19); window 1 (4..12) cuts it, so it points at [CLS].
  positions = [(f.start_position, f.end_position) for f in features]
  assert positions == [(0, 0), (0, 0), (6 + 4, 6 + 5), (6 + 0, 6 + 1)]
  assert stats["answer_outside_window"] == 2
  # Every context token is "max context" in exactly one window.
  owners = {}
  for f in features:
    for pos, (cs, _) in f.token_to_char.items():
      if f.token_is_max_context[pos]:
        assert cs not in owners
        owners[cs] = f.window_index
  assert sorted(owners) == list(range(20))
  for f in features:
    assert len(f.input_ids) == len(f.input_mask) == len(f.segment_ids) == 16


def test_decode_spans_context_only_max_length_and_nbest(tokenizer):
  context = u"甲乙丙丁戊"
  ex = span.SpanExample("q", u"问？", context, [])
  features, _ = span.convert_span_examples([ex], tokenizer, 16, 8, 8, False)
  f = features[0]
  assert f.tokens == ["[CLS]", u"问", u"？", "[SEP]", u"甲", u"乙", u"丙",
                      u"丁", u"戊", "[SEP]"]
  start = [0.0] * 16
  end = [0.0] * 16
  start[1] = end[2] = 100.0  # the question: must never be an answer
  start[0] = end[0] = 50.0   # [CLS]: not context either
  start[4], start[5] = 10.0, 3.0
  end[8], end[6], end[5] = 10.0, 4.0, 2.0
  # Scores: 甲..戊 (4,8) = 20 but 5 tokens; 乙..戊 (5,8) = 13, 4 tokens;
  # valid: 甲乙丙 (4,6) = 14, 甲乙 (4,5) = 12, then 10s.
  preds, nbest = span.decode_spans([ex], features, {f.unique_id: (start, end)},
                                   n_best_size=20, max_answer_length=3)
  assert preds["q"] == u"甲乙丙"
  texts = [c["text"] for c in nbest["q"]]
  assert texts[:2] == [u"甲乙丙", u"甲乙"]
  assert u"甲乙丙丁戊" not in texts
  assert all(u"问" not in t for t in texts)
  assert len(texts) == len(set(texts))
  assert abs(sum(c["probability"] for c in nbest["q"]) - 1.0) < 1e-6
  preds, _ = span.decode_spans([ex], features, {f.unique_id: (start, end)},
                               n_best_size=20, max_answer_length=5)
  assert preds["q"] == context


def test_decode_spans_returns_original_text_with_spaces(tokenizer):
  context = u"他说 Hello World 了"
  ex = span.SpanExample("q", u"说？", context, [])
  features, _ = span.convert_span_examples([ex], tokenizer, 32, 8, 8, False)
  f = features[0]
  pos = dict((tok, i) for i, tok in enumerate(f.tokens))
  start, end = [0.0] * 32, [0.0] * 32
  start[pos["hello"]], end[pos["world"]] = 5.0, 5.0
  preds, _ = span.decode_spans([ex], features, {f.unique_id: (start, end)}, 5, 30)
  assert preds["q"] == u"Hello World"


# --- Tagging features, windows and entity F1 -----------------------------------


def test_tagging_windows_score_every_character_once(tokenizer):
  chars = list(u"一二三四五六七八九十") + [u" ", u"A"]  # 12 characters
  labels = ["O"] * 12
  labels[4:7] = ["B-PER", "I-PER", "I-PER"]
  ex = tagging.TaggingExample("s", chars, labels, "\t")
  features, stats = tagging.convert_tagging_examples(
      [ex], MSRA_LABELS, tokenizer, max_seq_length=6, doc_stride=2)
  assert stats["windowed_sentences"] == 1
  assert stats["unk_tokens"] == 1  # the space character
  scored = []
  for f in features:
    for i in range(f.window_size):
      if f.scored[i]:
        scored.append(f.window_start + i)
    assert f.label_mask == [0] + [1] * f.window_size + [0] * (5 - f.window_size)
  assert sorted(scored) == list(range(12))
  # Feeding back the gold ids reproduces the gold tags: no character lost.
  results = dict((f.unique_id, f.label_ids) for f in features)
  tags = tagging.assemble_tag_predictions([ex], features, results, MSRA_LABELS)
  assert tags == [labels]
  assert tagging.entity_f1([labels], tags)["f1"] == 1.0


def test_entity_split_by_windows_is_scored_on_the_whole_sentence(tokenizer):
  chars = list(u"我去了北京天安门广场看升旗")
  gold = ["O"] * len(chars)
  gold[3:10] = ["B-LOC"] + ["I-LOC"] * 6  # 北京天安门广场, crosses windows
  ex = tagging.TaggingExample("s", chars, gold, " ")
  features, _ = tagging.convert_tagging_examples([ex], MSRA_LABELS, tokenizer,
                                                 max_seq_length=6, doc_stride=4)
  assert len(features) > 2
  # Each window predicts the gold tag for what it scores, "O" elsewhere.
  results = {}
  for f in features:
    ids = [0] * 6
    for i in range(f.window_size):
      if f.scored[i]:
        ids[i + 1] = f.label_ids[i + 1]
    results[f.unique_id] = ids
  tags = tagging.assemble_tag_predictions([ex], features, results, MSRA_LABELS)
  assert tags == [gold]
  assert tagging.extract_entities(tags[0]) == {("LOC", 3, 9)}
  assert tagging.entity_f1([gold], tags)["f1"] == 1.0


def test_entity_f1_hand_computed():
  gold = [["B-PER", "I-PER", "O", "B-LOC", "O"],
          ["B-ORG", "I-ORG", "I-ORG", "O"]]
  pred = [["B-PER", "I-PER", "O", "B-ORG", "O"],   # PER right, LOC typed ORG
          ["B-ORG", "I-ORG", "O", "B-PER"]]        # ORG too short, extra PER
  r = tagging.entity_f1(gold, pred)
  assert (r["gold"], r["predicted"], r["correct"]) == (3, 4, 1)
  assert abs(r["precision"] - 0.25) < 1e-9
  assert abs(r["recall"] - 1.0 / 3) < 1e-9
  assert abs(r["f1"] - 2 * 0.25 * (1.0 / 3) / (0.25 + 1.0 / 3)) < 1e-9
  assert r["per_type"]["PER"]["correct"] == 1
  assert r["per_type"]["LOC"]["predicted"] == 0
  assert r["per_type"]["ORG"]["gold"] == 1 and r["per_type"]["ORG"]["predicted"] == 2


def test_entity_chunks_follow_conlleval():
  # I- after O opens a chunk; a type change splits; B-B gives two chunks.
  assert tagging.extract_entities(["O", "I-PER", "I-PER", "O"]) == {("PER", 1, 2)}
  assert tagging.extract_entities(["B-PER", "I-LOC"]) == {("PER", 0, 0),
                                                          ("LOC", 1, 1)}
  assert tagging.extract_entities(["B-PER", "B-PER"]) == {("PER", 0, 0),
                                                          ("PER", 1, 1)}
  # BIOES
  assert tagging.extract_entities(["S-LOC", "S-LOC", "B-PER", "I-PER", "E-PER",
                                   "O"]) == {("LOC", 0, 0), ("LOC", 1, 1),
                                             ("PER", 2, 4)}
  assert tagging.extract_entities(["B-PER", "E-PER", "B-PER", "E-PER"]) == {
      ("PER", 0, 1), ("PER", 2, 3)}
  assert tagging.extract_entities(["O", "O"]) == set()


def test_entity_f1_edge_cases():
  assert tagging.entity_f1([["O"]], [["O"]])["f1"] == 0.0
  r = tagging.entity_f1([["B-PER"]], [["O"]])
  assert (r["precision"], r["recall"], r["f1"]) == (0.0, 0.0, 0.0)
  with pytest.raises(ValueError, match="differ in length"):
    tagging.entity_f1([["O", "O"]], [["O"]])
