"""`make demo`'s pipeline at a tiny size (scripts/demo.sh with DEMO_SIZE=tiny)."""

import json
import os
import subprocess
import sys

from conftest import REPO_ROOT


def test_demo_pipeline_tiny(tmp_path):
  out = tmp_path / "demo"
  env = dict(os.environ, DEMO_SIZE="tiny", DEMO_OUTPUT=str(out), DEMO_SEEDS="1,2",
             PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(["bash", os.path.join(REPO_ROOT, "scripts", "demo.sh")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          cwd=REPO_ROOT, timeout=900)
  log = result.stdout.decode("utf-8", "replace")
  assert result.returncode == 0, log[-4000:]

  # Every step is shown as the command it is.
  for command in ("scripts/prepare_demo_data.py", "create_pretraining_data.py",
                  "scripts/score_annotator.py", "run_pretraining.py",
                  "run_pretraining.py --do_predict", "run_classifier.py", "run_ner.py",
                  "scripts/demo_report.py eval", "scripts/demo_report.py plot"):
    assert "+ %s %s" % (sys.executable, command) in log, command
  assert "=== [8/8] Summary" in log

  # Annotator agreement against the People's Daily gold.
  agreement = json.loads((out / "annotator_agreement.json").read_text())
  assert agreement["sentences"] > 100
  assert 0.5 < agreement["segmentation_f1"] <= 1.0
  assert 0.3 < agreement["pos_char_accuracy"] <= 1.0

  # The eval table has every labelled head and the unigram baseline; DEP is off
  # for jieba data. Every checkpoint was evaluated on the held-out records.
  assert "Pretraining eval at step 12 on held-out text" in log
  for head in ("MLM", "POS", "NER"):
    assert "\n  %s " % head in log
  assert "DEP   off (unlabelled in the data (annotator jieba))" in log
  assert "MLM unigram baseline (always " in log
  with open(str(out / "pretrain" / "eval_history.jsonl")) as f:
    steps = [json.loads(line)["global_step"] for line in f]
  assert steps[-1] == 12 and len(steps) >= 3 and steps == sorted(steps)
  png = out / "pretraining.png"
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert "Plot of the pretraining losses and per-head accuracies: %s" % png in log

  # Predictions at masked words, with tags.
  with open(str(out / "predictions_masked.jsonl"), encoding="utf-8") as f:
    records = [json.loads(line) for line in f]
  assert len(records) == 3 and all(r["masks"] for r in records)
  assert {"pos", "ner", "top_k"} <= set(records[0]["masks"][0])
  # jieba labels no DEP, so its head was never trained and writes no tags.
  assert "dep" not in records[0]["masks"][0]
  assert (out / "predictions_words.jsonl").stat().st_size > 0

  # Every fine-tuning run scored the held-out test split; the summary has them all.
  for init in ("pretrained", "random"):
    for seed in (1, 2):
      results = (out / ("sentiment_" + init) / ("seed_%d" % seed) /
                 "predict_results.txt").read_text()
      assert "split = test" in results and "accuracy = " in results
      results = (out / ("ner_" + init) / ("seed_%d" % seed) / "eval_results.txt").read_text()
      assert "f1 = " in results
  assert "demo LERT checkpoint" in log and "random initialisation" in log
  assert "Wall time:" in log
  summary = json.loads((out / "summary.json").read_text())
  for key in ("mlm_accuracy", "unigram_accuracy"):
    assert 0 <= summary[key] <= 1, key
  assert set(summary["heads"]) == {"mlm", "pos", "ner"}
  for head in summary["heads"].values():
    assert 0 <= head["accuracy"] <= 1 and head["loss"] > 0
  for key in ("sentiment_test_accuracy", "ner_test_f1"):
    for init in ("pretrained", "random"):
      values = summary[key][init]
      assert len(values) == 2 and all(0 <= v <= 1 for v in values), (key, values)
  assert summary["wall_seconds"] > 0 and summary["plot"] == str(png)
