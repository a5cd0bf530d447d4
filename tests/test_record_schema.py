# coding=utf-8
"""record_schema: one declaration per record type, and what is derived from it."""

import os

import pytest

from lert.finetune import classification
from lert.finetune import common
from lert.finetune import span
from lert.finetune import tagging
from lert.pretrain import pretraining_data
from lert.records import record_schema
import tokenization

VOCAB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "vocab.txt")
SETTINGS = common.InputSettings(max_seq_length=32, doc_stride=16,
                                max_query_length=8, n_best_size=5,
                                max_answer_length=10)


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB, do_lower_case=True)


def test_pretraining_spec_is_the_published_one():
  import tensorflow.compat.v1 as tf
  spec = pretraining_data.feature_spec(128, 20)
  int64 = lambda n: tf.FixedLenFeature([n], tf.int64)  # noqa: E731
  assert dict(spec) == {
      "input_ids": int64(128), "input_mask": int64(128), "segment_ids": int64(128),
      "masked_lm_positions": int64(20), "masked_lm_ids": int64(20),
      "masked_lm_weights": tf.FixedLenFeature([20], tf.float32),
      "pos_labels": int64(20), "ner_labels": int64(20), "dep_labels": int64(20)}
  entry = record_schema.PRETRAINING.sidecar_entry(max_seq_length=128,
                                                  max_predictions_per_seq=20)
  assert entry["input_ids"] == {"shape": [128], "dtype": "int64"}
  assert entry["masked_lm_weights"] == {"shape": [20], "dtype": "float32"}
  assert sorted(entry) == sorted(spec)


def test_a_length_setting_must_be_given():
  with pytest.raises(TypeError, match="max_predictions_per_seq"):
    record_schema.PRETRAINING.shapes(max_seq_length=128)


def test_make_record_takes_exactly_the_declared_fields():
  record = record_schema.SPAN.make_record(
      segment_ids=[0], input_mask=[1], input_ids=[5], unique_id=[3])
  assert list(record) == ["unique_id", "input_ids", "input_mask", "segment_ids"]
  with pytest.raises(TypeError, match="start_positions"):
    record_schema.SPAN_TRAINING.make_record(**record)
  with pytest.raises(TypeError, match="label_ids"):
    record_schema.SPAN.make_record(label_ids=[1], **record)


def parse(records, record_type, spec):
  """Writes `records` of `record_type` as tf.train.Examples, parses them back with `spec`."""
  from lert.engine import input_pipeline
  import tensorflow.compat.v1 as tf
  serialized = [input_pipeline.make_example(r, record_type).SerializeToString() for r in records]
  with tf.Graph().as_default(), tf.Session() as session:
    return session.run(tf.io.parse_example(serialized, spec))


def family_records(tokenizer):
  """(family, is_training, records) of a converted example of every family."""
  classification_records = classification.convert_classification_examples(
      [classification.ClassificationExample("g", u"我爱北京", u"你好", "1")],
      classification.BINARY_LABELS, tokenizer, SETTINGS.max_seq_length)[0]
  span_example = span.SpanExample("q", u"哪里？", u"哈工大位于冰城哈尔滨。",
                                [{"text": u"哈尔滨", "answer_start": 7}])
  span_train = span.convert_span_examples(
      [span_example], tokenizer, SETTINGS.max_seq_length, SETTINGS.doc_stride,
      SETTINGS.max_query_length, True)[0]
  span_predict = span.convert_span_examples(
      [span_example], tokenizer, SETTINGS.max_seq_length, SETTINGS.doc_stride,
      SETTINGS.max_query_length, False)[0]
  tagging_features = tagging.convert_tagging_examples(
      [tagging.TaggingExample("s", list(u"我去北京"), ["O", "O", "B-LOC", "I-LOC"], "\t")],
      ["O", "B-LOC", "I-LOC"], tokenizer, SETTINGS.max_seq_length,
      SETTINGS.doc_stride)[0]
  return [
      (classification.ClassificationFamily(), False, classification_records),
      (span.SpanFamily(), True, [f.to_record(True) for f in span_train]),
      (span.SpanFamily(), False, [f.to_record(False) for f in span_predict]),
      (tagging.TaggingFamily(), False, [f.to_record() for f in tagging_features]),
  ]


def test_every_family_parses_its_own_records(tokenizer):
  for family, is_training, records in family_records(tokenizer):
    spec = family.feature_spec(None, SETTINGS, is_training)
    assert list(spec) == list(records[0])
    parsed = parse(records, family.record_type(is_training), spec)
    for name, values in records[0].items():
      assert list(parsed[name][0]) == list(values), (family.name, name)
