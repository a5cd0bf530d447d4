"""The demo's measurements: the unigram baseline of masked-LM accuracy and the
evaluation of every kept checkpoint (run_pretraining.py --eval_all_checkpoints)."""

import collections
import json
import os
import sys

import pytest

from lert import errors
from lert.engine import input_pipeline
from lert.records.record_schema import PRETRAINING
from test_run_pretraining import base_flags, data_dir, read_results, run_main  # noqa: F401

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "scripts"))
import demo_report  # noqa: E402


def _example(masked_ids, weights):
  count = len(masked_ids)
  return {"input_ids": [101, 103, 102, 0], "input_mask": [1, 1, 1, 0],
          "segment_ids": [0] * 4, "masked_lm_positions": list(range(1, count + 1)),
          "masked_lm_ids": masked_ids, "masked_lm_weights": weights}


def test_masked_token_counts_reads_weighted_positions_in_file_order(tmp_path):
  first, second = str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")
  # Padding positions (weight 0) carry id 0 and must not count.
  input_pipeline.write_examples(first, [_example([5, 7, 0], [1.0, 1.0, 0.0]),
                                        _example([7, 7, 9], [1.0, 1.0, 1.0])], PRETRAINING)
  input_pipeline.write_examples(second, [_example([9, 0, 0], [1.0, 0.0, 0.0])], PRETRAINING)
  counts = demo_report.masked_token_counts([first, second])
  assert counts == collections.Counter({7: 3, 5: 1, 9: 2})
  # Evaluation reads max_eval_steps * eval_batch_size records in file order.
  assert demo_report.masked_token_counts([first, second], max_records=1) == (
      collections.Counter({5: 1, 7: 1}))
  assert demo_report.masked_token_counts([second, first], max_records=2) == (
      collections.Counter({9: 1, 5: 1, 7: 1}))


def test_unigram_baseline_predicts_the_most_frequent_training_target():
  train = collections.Counter({8: 5, 3: 9, 4: 9})  # a tie: the smaller id wins
  held_out = collections.Counter({3: 2, 4: 5, 8: 1})
  baseline = demo_report.unigram_baseline(train, held_out)
  assert baseline == {"token_id": 3, "accuracy": 0.25, "eval_positions": 8}
  # A token never seen in the eval targets scores zero, not an error.
  assert demo_report.unigram_baseline(
      collections.Counter({11: 1}), held_out)["accuracy"] == 0.0
  with pytest.raises(errors.UserError, match="masked positions"):
    demo_report.unigram_baseline(collections.Counter(), held_out)


def test_masked_token_counts_names_a_file_that_is_not_pretraining_data(tmp_path):
  path = str(tmp_path / "other.tfrecord")
  input_pipeline.write_examples(path, [{"input_ids": [1, 2]}], PRETRAINING)
  with pytest.raises(errors.UserError, match="other.tfrecord.*masked_lm_ids"):
    demo_report.masked_token_counts([path])


def test_eval_all_checkpoints_writes_a_learning_curve(data_dir, tmp_path):  # noqa: F811
  output_dir = tmp_path / "curve"
  run_main(**base_flags(data_dir, output_dir, num_train_steps=30,
                        save_checkpoints_steps=10, keep_checkpoint_max=10))
  run_main(**base_flags(data_dir, output_dir, do_train=False, do_eval=True,
                        eval_all_checkpoints=True))
  with open(str(output_dir / "eval_history.jsonl")) as f:
    history = [json.loads(line) for line in f]
  steps = [entry["global_step"] for entry in history]
  assert steps[-3:] == [10, 20, 30] and steps == sorted(steps)
  for entry in history:
    for key in ("mlm_accuracy", "mlm_loss", "pos_accuracy", "ner_loss"):
      assert 0 <= entry[key] < 100, (key, entry)
  # The curve moves, and eval_results.txt is its last point.
  assert history[-1]["mlm_loss"] < history[0]["mlm_loss"]
  results = read_results(str(output_dir / "eval_results.txt"))
  assert results["global_step"] == "30"
  assert float(results["mlm_loss"]) == pytest.approx(history[-1]["mlm_loss"], rel=1e-6)


def test_eval_all_checkpoints_needs_do_eval(data_dir, tmp_path):  # noqa: F811
  with pytest.raises(errors.UserError, match="--eval_all_checkpoints needs --do_eval"):
    run_main(**base_flags(data_dir, tmp_path / "x", eval_all_checkpoints=True))


def test_eval_counts_whole_batches_and_refuses_fewer_records_than_a_batch(
    data_dir, tmp_path):  # noqa: F811
  output_dir = tmp_path / "small"
  run_main(**base_flags(data_dir, output_dir, num_train_steps=2, do_eval=True,
                        max_eval_steps=100))
  # 64 records in batches of 8: 8 whole batches, not the 100 asked for.
  assert read_results(str(output_dir / "eval_results.txt"))["eval_examples"] == "64"
  with pytest.raises(errors.UserError, match="64 records, fewer than --eval_batch_size 100"):
    run_main(**base_flags(data_dir, output_dir, do_train=False, do_eval=True,
                          eval_batch_size=100))
