# coding=utf-8
"""The CMRC 2018 / DRCD metric on hand-computed cases, and its command."""

import io
import json
import re
import os
import subprocess
import sys

import pytest

import cmrc2018_evaluate as ce

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def close(a, b):
  return abs(a - b) < 1e-9


def test_mixed_segmentation():
  assert ce.mixed_segmentation(u" 哈工大 Harbin Institute, 1920年 ") == [
      u"哈", u"工", u"大", u"harbin", u"institute", u",", u"1920", u"年"]
  # Listed punctuation is its own segment, or removed with rm_punc.
  assert ce.mixed_segmentation(u"《三国》") == [u"《", u"三", u"国", u"》"]
  assert ce.mixed_segmentation(u"《三国》", rm_punc=True) == [u"三", u"国"]
  assert ce.mixed_segmentation(u"ω-force", rm_punc=True) == [u"ωforce"]


def test_treebank_rules():
  tok = ce.treebank_tokenize
  assert tok(u"i can't go.") == [u"i", u"ca", u"n't", u"go", u"."]
  assert tok(u"it's $5.00 (about 3,000 yen)") == [
      u"it", u"'s", u"$", u"5.00", u"(", u"about", u"3,000", u"yen", u")"]
  assert tok(u'he said "hi" to u.s. army.') == [
      u"he", u"said", u"``", u"hi", u"''", u"to", u"u.s.", u"army", u"."]
  assert tok(u"cannot gonna 12:30, x:y") == [
      u"can", u"not", u"gon", u"na", u"12:30", u",", u"x", u":", u"y"]


def test_sentence_split_before_word_tokenization():
  # Two sentences: the inner period is split off too (Punkt, then Treebank).
  assert ce.word_tokenize(u"it rains. we stay") == [
      u"it", u"rains", u".", u"we", u"stay"]
  # Abbreviations, initials and numbers do not end a sentence.
  assert ce.word_tokenize(u"e.g. dr. j. smith no. 5") == [
      u"e.g.", u"dr.", u"j.", u"smith", u"no.", u"5"]
  assert ce.word_tokenize(u"why? no!") == [u"why", u"?", u"no", u"!"]


@pytest.mark.parametrize("answers,prediction,em,f1", [
    # Chinese: lcs 3, P 3/5, R 1.
    ([u"哈尔滨"], u"冰城哈尔滨", 0, 0.75),
    # English words, case-insensitive: lcs 2, P 2/3, R 1.
    ([u"Barack Obama"], u"president barack obama", 0, 0.8),
    # Digits are one word-token: lcs 1, P 1, R 1/2.
    ([u"1963年"], u"1963", 0, 2.0 / 3),
    # Listed punctuation is ignored by both scores.
    ([u"《战国无双3》"], u"战国无双3", 1, 1.0),
    # "-" is removed first, so "ωforce" is one token vs "ω", "force":
    # lcs 3 (光荣和), P 3/5, R 3/4.
    ([u"光荣和ω-force"], u"光荣和ω force", 0, 2 * 0.6 * 0.75 / 1.35),
    # Several references: the best one counts.
    ([u"北京", u"北京市"], u"北京市", 1, 1.0),
    ([u"北京", u"中国北京"], u"北京市", 0, 0.8),
    # Empty prediction.
    ([u"北京"], u"", 0, 0.0),
    # Contiguous runs only: 甲乙 (or 丙丁), P 2/5, R 2/4.
    ([u"甲乙丙丁"], u"甲乙X丙丁", 0, 2 * 0.4 * 0.5 / 0.9),
    # English punctuation is not in the list: "," and "." are tokens.
    ([u"hello world"], u"hello, world.", 0, 2 * 0.25 * 0.5 / 0.75),
    # Only the pair "……" is listed, which never equals one character, so a
    # "…" stays (official behaviour): P 1, R 1/2.
    ([u"好……"], u"好", 0, 2.0 / 3),
    # Case and surrounding whitespace do not matter for EM.
    ([u"  LERT "], u"lert", 1, 1.0),
])
def test_scores(answers, prediction, em, f1):
  assert ce.em_score(answers, prediction) == em
  assert close(ce.f1_score(answers, prediction), f1)


def test_longest_common_run():
  assert ce.longest_common_run(list("abcde"), list("xbcdy")) == 3
  assert ce.longest_common_run([], list("ab")) == 0


def dataset():
  return {"version": "v1.0", "data": [{"paragraphs": [{
      "context": u"哈工大位于冰城哈尔滨。",
      "qas": [
          {"id": "Q1", "question": u"哪？", "answers": [
              {"text": u"哈尔滨", "answer_start": 7},
              {"text": u"冰城哈尔滨", "answer_start": 5}]},
          {"id": "Q2", "question": u"谁？", "answers": [
              {"id": "1", "text": u"哈工大", "answer_start": 0}]},
          {"id": "Q3 ", "question": u"？", "answers": [
              {"text": u"冰城", "answer_start": 5}]}]}]}]}


def test_evaluate_averages_and_counts_missing_predictions():
  log = io.StringIO()
  result = ce.evaluate(dataset(), {"Q1": u"哈尔滨", "Q3": u"冰"}, log=log)
  # Q1: EM 1, F1 1; Q2: missing (0, skipped); Q3: F1 P 1, R 1/2 = 2/3.
  assert result["TOTAL"] == 3 and result["SKIP"] == 1
  assert close(result["EM"], 100.0 / 3)
  assert close(result["F1"], 100.0 * (1 + 2.0 / 3) / 3)
  assert close(result["AVERAGE"], (result["EM"] + result["F1"]) / 2)
  assert "Unanswered question: Q2" in log.getvalue()


def test_command_prints_the_official_line(tmp_path):
  data = str(tmp_path / "dev.json")
  pred = str(tmp_path / "predictions.json")
  with io.open(data, "w", encoding="utf-8") as f:
    f.write(json.dumps(dataset(), ensure_ascii=False))
  with io.open(pred, "w", encoding="utf-8") as f:
    f.write(json.dumps({"Q1": u"哈尔滨", "Q2": u"哈工大", "Q3": u"冰城"},
                       ensure_ascii=False))
  out = subprocess.check_output(
      [sys.executable, os.path.join(REPO, "cmrc2018_evaluate.py"), data, pred])
  line = json.loads(out.decode("utf-8"))
  assert list(line) == ["AVERAGE", "F1", "EM", "TOTAL", "SKIP", "FILE"]
  assert line["EM"] == "100.000" and line["F1"] == "100.000"
  assert line["TOTAL"] == 3 and line["SKIP"] == 0 and line["FILE"] == pred


def test_command_usage_error():
  assert ce.main(["only-one-argument"]) == 2


def test_bad_files_and_predictions_are_one_error_line(tmp_path, capsys):
  """Non-JSON, wrongly shaped files and non-string predictions: named, never str()-ed."""
  data = tmp_path / "dev.json"
  data.write_text(json.dumps({"data": [{"paragraphs": [{"qas": [
      {"id": "q1", "answers": [{"text": u"北京"}]}]}]}]}), encoding="utf-8")
  cases = [
      ("not json", "{", r"preds\.json: the prediction file is not valid JSON"),
      ("a list", json.dumps([u"北京"]), r"the predictions are list"),
      ("a list answer", json.dumps({"q1": [u"北京"]}),
       r"preds\.json: the prediction for question q1 is list"),
      ("a null answer", json.dumps({"q1": None}), r"question q1 is NoneType"),
      ("a number", json.dumps({"q1": 1998}), r"question q1 is int"),
  ]
  for what, text, pattern in cases:
    preds = tmp_path / "preds.json"
    preds.write_text(text, encoding="utf-8")
    assert ce.main([str(data), str(preds)]) == 2, what
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (what, lines)
    assert re.search(pattern, lines[0]), (what, lines[0])
  preds.write_text(json.dumps({"q1": u"北京"}), encoding="utf-8")
  bad_data = tmp_path / "bad.json"
  bad_data.write_text(json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q1"}]}]}]}))
  assert ce.main([str(bad_data), str(preds)]) == 2
  err = capsys.readouterr().err
  assert "bad.json: data[0].paragraphs[0].qas[0]" in err and err.count("\n") == 1
  assert ce.main([str(tmp_path / "missing.json"), str(preds)]) == 2
  assert "cannot read the data file" in capsys.readouterr().err
