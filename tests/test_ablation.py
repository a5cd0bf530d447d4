"""`make ablation`'s pipeline at a tiny size (scripts/ablation.sh, ABLATION_SIZE=tiny)."""

import json
import os
import subprocess
import sys

from conftest import REPO_ROOT


def test_ablation_pipeline_tiny(tmp_path):
  out = tmp_path / "ablation"
  env = dict(os.environ, ABLATION_SIZE="tiny", ABLATION_OUTPUT=str(out),
             ABLATION_SEEDS="1", PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(["bash", os.path.join(REPO_ROOT, "scripts", "ablation.sh")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          cwd=REPO_ROOT, timeout=1200)
  log = result.stdout.decode("utf-8", "replace")
  assert result.returncode == 0, log[-4000:]

  # The gold variant's records come from the pre-annotated reader and label what
  # People's Daily annotates; the jieba ones from jieba, on the very same text.
  sidecars = {name: json.loads((out / ("records_%s" % name) / "lert_data.json").read_text())
              for name in ("jieba", "gold")}
  assert sidecars["gold"]["annotator"] == "preannotated"
  assert sidecars["jieba"]["annotator"] == "jieba"
  for sidecar in sidecars.values():
    assert sidecar["labelled_tasks"] == ["pos", "ner"]

  # Equal compute: every pretraining ran the same number of steps; the MLM-only
  # one trained no linguistic head.
  for variant in ("mlm", "jieba", "gold"):
    results = (out / ("pretrain_%s" % variant) / "eval_results.txt").read_text()
    assert "global_step = 10" in results, variant
    assert ("pos_accuracy" in results) == (variant != "mlm"), variant

  # The table has a max (avg) cell per initialisation and task, and summary.json
  # every score.
  for title in ("random initialisation", "MLM only", "LERT, jieba labels",
                "LERT, People's Daily gold labels"):
    assert title in log, title
  assert "max (avg) over seeds 1" in log
  summary = json.loads((out / "summary.json").read_text())
  assert set(summary["scores"]) == {"random", "mlm", "jieba", "gold"}
  for scores in summary["scores"].values():
    assert len(scores["sentiment acc"]) == 1 and len(scores["NER F1"]) == 1
    assert 0 <= scores["sentiment acc"][0] <= 100 and 0 <= scores["NER F1"][0] <= 100
  assert summary["wall_seconds"] > 0
