# coding=utf-8
"""Tests for create_pretraining_data.py (the data generator, both stages)."""

import collections
import glob
import json
import os
import random
import signal
import subprocess
import sys
import time

import crc32c
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
for _path in (REPO_ROOT, TESTS_DIR):
  if _path not in sys.path:
    sys.path.insert(0, _path)

from lert.generator import annotation_cache  # noqa: E402
from lert.generator import annotation_types  # noqa: E402
from lert.generator import annotators  # noqa: E402
from lert.generator import corpus_reader  # noqa: E402
from lert.generator import counters  # noqa: E402
import create_pretraining_data as cpd  # noqa: E402
from lert import errors  # noqa: E402
from lert.generator import data_stats  # noqa: E402
from lert.generator import instance_builder  # noqa: E402
from lert import linguistics  # noqa: E402
from lert.pretrain import pretraining_data  # noqa: E402
from lert.records import record_schema  # noqa: E402
from lert.records import record_codec  # noqa: E402
import tokenization  # noqa: E402

VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")
SPEC_SENTENCE = u"哈工大位于冰城哈尔滨。"

# Sentences written for these tests (Simplified, Traditional, mixed, English).
SENTENCES = [
    u"今天早上我们一起去公园散步。",
    u"哈尔滨的冬天非常寒冷，但是冰雕很漂亮。",
    u"研究人员在实验室里测试了新的算法。",
    u"这本书介绍了自然语言处理的基本方法。",
    u"他在北京大学学习计算机科学已经三年了。",
    u"台北的夜市有很多好吃的小吃。",
    u"數學家們研究數量、結構以及空間等概念。",
    u"張先生昨天從香港回到了臺灣。",
    u"iPhone 15 Pro的售价是7999元，比去年贵了5%。",
    u"The quick brown fox jumps over the lazy dog.",
    u"会议将于2024年3月15日在上海举行。",
    u"李明和王芳都是清华大学的学生。",
    u"长江是中国最长的河流，全长约6300公里。",
    u"我们应该保护环境，减少塑料的使用。",
    u"机器翻译系统可以把中文翻译成英文。",
    u"小猫在沙发上睡着了，看起来很舒服。",
]


def make_documents(count, seed=0, min_sentences=1, max_sentences=8):
  rng = random.Random(seed)
  return [[rng.choice(SENTENCES) for _ in range(rng.randint(min_sentences, max_sentences))]
          for _ in range(count)]


def write_sentence_per_line(path, documents):
  with open(path, "w", encoding="utf-8") as handle:
    handle.write(u"\n\n".join(u"\n".join(doc) for doc in documents) + u"\n")
  return str(path)


def make_options(tmp_path, **overrides):
  values = dict(input_file="", output_dir=str(tmp_path / "out"),
                vocab_file=VOCAB_FILE, max_seq_length=64, max_predictions_per_seq=10,
                dupe_factor=2, random_seed=7, shard_size_mb=0.002)
  values.update(overrides)
  return cpd.Options(**values)


def tfrecord_files(directory):
  return sorted(glob.glob(os.path.join(str(directory), "*.tfrecord")))


def read_examples(paths, max_seq_length, max_predictions):
  """Parses TFRecords with TensorFlow and the pretraining feature spec."""
  import tensorflow.compat.v1 as tf
  spec = pretraining_data.feature_spec(max_seq_length, max_predictions)
  examples = []
  with tf.Graph().as_default():
    dataset = tf.data.TFRecordDataset(paths).map(
        lambda record: tf.io.parse_single_example(record, spec)).batch(256)
    batch = tf.data.make_one_shot_iterator(dataset).get_next()
    with tf.Session() as session:
      while True:
        try:
          values = session.run(batch)
        except tf.errors.OutOfRangeError:
          break
        for row in range(len(values["input_ids"])):
          examples.append({name: values[name][row] for name in values})
  return examples


def file_bytes(directory):
  """{name: bytes} of every file an output directory shows a user."""
  return {name: open(os.path.join(str(directory), name), "rb").read()
          for name in sorted(os.listdir(str(directory))) if not name.startswith(".")}


# --- Annotators for tests (also loaded by name in subprocesses and workers) --------------


SPEC_ANNOTATION = annotation_types.SentenceAnnotation(
    words=[u"哈工大", u"位于", u"冰城", u"哈尔滨", u"。"],
    pos=["ni", "v", "n", "ns", "wp"],
    entities=[("Ni", 0, 0), ("Ns", 3, 3)],
    dep=["SBV", "HED", "ATT", "VOB", "WP"],
    heads=[2, 0, 4, 2, 2])


class FakeAnnotator(annotators.Annotator):
  """The labelling example's annotation (哈工大位于冰城哈尔滨。); two-character
  words elsewhere."""

  name = "fake"
  labelled_tasks = ("pos", "ner", "dep")

  def annotate(self, sentences):
    results = []
    for sentence in sentences:
      if sentence == SPEC_SENTENCE:
        results.append(SPEC_ANNOTATION)
        continue
      words = [sentence[i:i + 2] for i in range(0, len(sentence), 2)]
      results.append(annotation_types.SentenceAnnotation(
          words, ["g"] * len(words), [], ["IS"] * len(words), [0] * len(words)))
    return results


class SlowAnnotator(FakeAnnotator):
  """Slow enough that a run can be killed in the middle."""

  def annotate(self, sentences):
    time.sleep(0.3)
    return super(SlowAnnotator, self).annotate(sentences)


class BrokenAnnotator(FakeAnnotator):
  """Returns words that do not spell sentences with 坏 in them."""

  def annotate(self, sentences):
    results = super(BrokenAnnotator, self).annotate(sentences)
    return [r._replace(words=r.words[1:], pos=r.pos[1:], dep=r.dep[1:],
                       heads=r.heads[1:]) if u"坏" in s else r
            for s, r in zip(sentences, results)]


class DyingAnnotator(FakeAnnotator):
  """Its worker process dies as if killed for memory."""

  def annotate(self, sentences):
    os.kill(os.getpid(), signal.SIGKILL)


# --- Labels per token -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
  return tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=True)


def label_ids(task, labels):
  return [linguistics.LABEL_TO_ID[task][label] for label in labels]


SPEC_POS = ["ni"] * 3 + ["v"] * 2 + ["n"] * 2 + ["ns"] * 3 + ["wp"]
SPEC_NER = ["B-Ni", "I-Ni", "E-Ni", "O", "O", "O", "O", "B-Ns", "I-Ns", "E-Ns", "O"]
SPEC_DEP = ["SBV"] * 3 + ["HED"] * 2 + ["ATT"] * 2 + ["VOB"] * 3 + ["WP"]


def spec_record():
  return annotation_cache.sentence_record(SPEC_SENTENCE, SPEC_ANNOTATION, ("pos", "ner", "dep"))


def test_spec_example_labels_per_token(tokenizer):
  segment = instance_builder.tokenize_sentence(annotation_cache.decode_sentence(spec_record()),
                                               tokenizer, linguistics.TagMapper(),
                                               {"pos", "ner", "dep"})
  assert segment.ids == tokenizer.convert_tokens_to_ids(list(SPEC_SENTENCE))
  assert segment.pos == label_ids("pos", SPEC_POS)
  assert segment.ner == label_ids("ner", SPEC_NER)
  assert segment.dep == label_ids("dep", SPEC_DEP)
  # 位于 = v v / HED HED; 哈尔滨 = ns ns ns / VOB VOB VOB, NER B-Ns I-Ns E-Ns.
  assert segment.pos[3:5] == label_ids("pos", ["v", "v"])
  assert segment.dep[3:5] == label_ids("dep", ["HED", "HED"])
  assert segment.pos[7:10] == label_ids("pos", ["ns"] * 3)
  assert segment.dep[7:10] == label_ids("dep", ["VOB"] * 3)
  assert segment.ner[7:10] == label_ids("ner", ["B-Ns", "I-Ns", "E-Ns"])
  assert segment.word_starts == [0, 3, 5, 7, 10]
  # An annotator without DEP leaves it unlabelled (None, later written as 0).
  unlabelled = instance_builder.tokenize_sentence(
      annotation_cache.decode_sentence(spec_record()[:4]), tokenizer,
                                     linguistics.TagMapper(), {"pos", "ner"})
  assert unlabelled.dep is None and unlabelled.pos == segment.pos


def test_spec_example_through_the_whole_pipeline(tmp_path, tokenizer):
  corpus = write_sentence_per_line(tmp_path / "spec.txt", [[SPEC_SENTENCE]])
  options = make_options(tmp_path, input_file=corpus,
                         annotator="test_create_pretraining_data.FakeAnnotator",
                         max_seq_length=16, max_predictions_per_seq=20,
                         masked_lm_prob=1.0, dupe_factor=1, short_seq_prob=0.0)
  sidecar = cpd.run(options)
  assert sidecar["labelled_tasks"] == ["pos", "ner", "dep"]
  example, = read_examples(tfrecord_files(options.output_dir), 16, 20)
  ids = tokenizer.convert_tokens_to_ids(["[CLS]"] + list(SPEC_SENTENCE) + ["[SEP]"])
  assert list(example["input_mask"]) == [1] * 13 + [0] * 3
  assert list(example["segment_ids"]) == [0] * 16
  assert list(example["masked_lm_positions"]) == list(range(1, 12)) + [0] * 9
  assert list(example["masked_lm_ids"]) == ids[1:12] + [0] * 9
  assert list(example["masked_lm_weights"]) == [1.0] * 11 + [0.0] * 9
  assert list(example["pos_labels"]) == label_ids("pos", SPEC_POS) + [0] * 9
  assert list(example["ner_labels"]) == label_ids("ner", SPEC_NER) + [0] * 9
  assert list(example["dep_labels"]) == label_ids("dep", SPEC_DEP) + [0] * 9
  assert example["input_ids"][0] == ids[0] and example["input_ids"][12] == ids[12]


def test_word_pieces_take_pos_and_dep_of_their_first_character(tokenizer):
  annotation = annotation_types.SentenceAnnotation(
      [u"iPhone", u"售价", u"5999", u"元"], ["ws", "n", "m", "q"], [("Nh", 0, 0)],
      ["SBV", "HED", "ATT", "VOB"], [2, 0, 4, 2])
  record = annotation_cache.sentence_record(u"iPhone售价5999元", annotation, ("pos", "ner", "dep"))
  segment = instance_builder.tokenize_sentence(annotation_cache.decode_sentence(record),
                                               tokenizer, linguistics.TagMapper(),
                                               {"pos", "ner", "dep"})
  tokens = tokenizer.convert_ids_to_tokens(segment.ids)
  assert tokens == ["iphone", u"售", u"价", "599", "##9", u"元"]
  assert segment.pos == label_ids("pos", ["ws", "n", "n", "m", "m", "q"])
  # NER: the one token of the entity covers its first and last character.
  assert segment.ner == label_ids("ner", ["S-Nh", "O", "O", "O", "O", "O"])
  assert segment.dep == label_ids("dep", ["SBV", "HED", "HED", "ATT", "ATT", "VOB"])
  assert segment.word_starts == [0, 1, 3, 5]  # 599 ##9 are one word


def ner_of(tokenizer, words, entities):
  text = u"".join(words)
  annotation = annotation_types.SentenceAnnotation(words, ["n"] * len(words), entities,
                                             None, None)
  segment = instance_builder.tokenize_sentence(
      annotation_cache.decode_sentence(
          annotation_cache.sentence_record(text, annotation, ("pos", "ner"))), tokenizer,
      linguistics.TagMapper(), {"pos", "ner"})
  tokens = tokenizer.convert_ids_to_tokens(segment.ids)
  return list(zip(tokens, [linguistics.LABELS["ner"][i] for i in segment.ner]))


def test_a_token_takes_the_ner_tag_that_fits_the_characters_it_covers(tokenizer):
  # S: first and last character of the entity; B: only the first; E: only
  # the last; I: neither. Tokens of one character keep their own tag.
  assert ner_of(tokenizer, [u"Google", u"发布"], [("Ni", 0, 0)]) == [
      ("google", "S-Ni"), (u"发", "O"), (u"布", "O")]
  assert ner_of(tokenizer, [u"Google公司"], [("Ni", 0, 0)]) == [
      ("google", "B-Ni"), (u"公", "I-Ni"), (u"司", "E-Ni")]
  assert ner_of(tokenizer, [u"苹果", u"iPhone"], [("Ni", 0, 1)]) == [
      (u"苹", "B-Ni"), (u"果", "I-Ni"), ("iphone", "E-Ni")]
  assert ner_of(tokenizer, [u"在", u"5999"], [("Ns", 1, 1)]) == [
      (u"在", "O"), ("599", "B-Ns"), ("##9", "E-Ns")]
  assert ner_of(tokenizer, [u"北京", u"Google", u"中心"], [("Ni", 0, 2)]) == [
      (u"北", "B-Ni"), (u"京", "I-Ni"), ("google", "I-Ni"), (u"中", "I-Ni"),
      (u"心", "E-Ni")]


# --- Masking --------------------------------------------------------------------------------


def build_statistics():
  return data_stats.BuildStatistics(4, ())


def synthetic_segments(rng, count, vocab_ids):
  """Segments of random words (1-4 tokens each) with known word boundaries."""
  segments = []
  for _ in range(count):
    ids, starts = [], []
    for _ in range(rng.randint(3, 40)):
      starts.append(len(ids))
      ids.extend(rng.choice(vocab_ids) for _ in range(rng.choice([1, 1, 2, 2, 2, 3, 4])))
    labels = [rng.randrange(13) for _ in ids]
    segments.append(instance_builder.Segment(ids, labels, labels, labels, starts))
  return segments


def original_tokens(instance):
  """The instance's tokens before masking, without [CLS] and [SEP]."""
  tokens = list(instance.input_ids)
  for position, original in zip(instance.positions, instance.original_ids):
    tokens[position] = original
  return tokens[1:-1]


def check_instance(instance, builder, max_predictions, labels):
  """Invariants of one masked instance; `labels` are its tokens' labels."""
  positions = instance.positions
  assert positions == sorted(set(positions))
  assert len(positions) <= max_predictions
  assert all(1 <= p <= instance.num_tokens for p in positions)
  bounds = instance.word_starts + [instance.num_tokens + 1]
  masked = set(positions)
  for start, end in zip(bounds, bounds[1:]):
    inside = [p in masked for p in range(start, end)]
    assert all(inside) or not any(inside), "a word is partly masked"
  for p, original in zip(positions, instance.original_ids):
    assert instance.input_ids[p] in (builder.mask_id, original) or (
        instance.input_ids[p] in builder.random_ids)
  assert instance.pos == [labels[p - 1] for p in positions]
  assert instance.input_ids[0] == builder.cls_id
  assert instance.input_ids[-1] == builder.sep_id
  assert len(instance.input_ids) == instance.num_tokens + 2


@pytest.mark.parametrize("max_seq_length,max_predictions", [(512, 75), (128, 20)])
def test_masking_statistics(tokenizer, max_seq_length, max_predictions):
  options = cpd.Options(max_seq_length=max_seq_length,
                        max_predictions_per_seq=max_predictions)
  builder = instance_builder.InstanceBuilder(options, tokenizer.vocab)
  rng = random.Random(1)
  vocab_ids = list(range(670, 8000))
  target = 1000 if max_seq_length == 512 else 1500
  instances, tokens, masked = [], 0, 0
  ngrams, fills = collections.Counter(), collections.Counter()
  replacements = [0, 0, 0]
  while len(instances) < target:
    segments = synthetic_segments(rng, 60, vocab_ids)
    document = [t for s in segments for t in s.ids]
    document_labels = [label for s in segments for label in s.pos]
    produced = builder.create_instances(segments, rng, build_statistics())
    # Every token of the document is in exactly one instance, in order.
    assert [t for i in produced for t in original_tokens(i)] == document
    offset = 0
    for instance in produced:
      check_instance(instance, builder, max_predictions,
                     document_labels[offset:offset + instance.num_tokens])
      offset += instance.num_tokens
      tokens += instance.num_tokens
      masked += len(instance.positions)
      ngrams.update(instance.ngram_lengths)
      fills.update(instance.fill_lengths)
      for k in range(3):
        replacements[k] += instance.replacements[k]
    instances.extend(produced)
  assert abs(100.0 * masked / tokens - 15.0) <= 1.5
  assert max(len(i.positions) for i in instances) == max_predictions or (
      max_seq_length == 128)
  total = float(sum(ngrams.values()))
  shares = [ngrams[n] / total for n in (1, 2, 3, 4)]
  # With a budget of ~19 tokens (128/20) only ~4 N-grams fit an instance, and
  # the one that no longer fits is more often a long one (the inspection
  # paradox), so the shares lean towards short N-grams; at 512/75 they are
  # the flag's.
  tolerance = 0.02 if max_seq_length == 512 else 0.08
  for share, wanted in zip(shares, (0.4, 0.3, 0.2, 0.1)):
    assert abs(share - wanted) <= tolerance, shares
  assert shares[0] > shares[1] > shares[2] > shares[3]
  # The fill (what N-grams as drawn could not fill of the budget) is a small
  # part of the masked words.
  fill_words = sum(n * c for n, c in fills.items())
  drawn_words = sum(n * c for n, c in ngrams.items())
  assert fill_words < (0.1 if max_seq_length == 512 else 0.25) * (fill_words + drawn_words)
  total = float(sum(replacements))
  for share, wanted in zip(replacements, (0.8, 0.1, 0.1)):
    assert abs(share / total - wanted) <= 0.02, replacements


def test_masking_flags_change_the_distributions(tokenizer):
  options = cpd.Options(max_seq_length=256, max_predictions_per_seq=80,
                        ngram_probs=(1.0,), replacement_probs=(0.0, 0.0, 1.0),
                        masked_lm_prob=0.3, short_seq_prob=0.0)
  builder = instance_builder.InstanceBuilder(options, tokenizer.vocab)
  rng = random.Random(3)
  instances = []
  for _ in range(20):
    instances.extend(builder.create_instances(
        synthetic_segments(rng, 30, list(range(670, 8000))), rng, build_statistics()))
  masked = tokens = 0
  for instance in instances:
    assert set(instance.ngram_lengths) <= {1} and set(instance.fill_lengths) <= {1}
    assert instance.replacements[:2] == [0, 0]  # every masked token kept
    assert [instance.input_ids[p] for p in instance.positions] == instance.original_ids
    assert len(instance.positions) <= min(80, int(instance.num_tokens * 0.3 + 0.5))
    masked += len(instance.positions)
    tokens += instance.num_tokens
  assert abs(float(masked) / tokens - 0.3) < 0.015
  assert max(i.num_tokens for i in instances) <= 254


def test_random_replacements_are_real_tokens(tokenizer):
  builder = instance_builder.InstanceBuilder(cpd.Options(), tokenizer.vocab)
  specials = {i for t, i in tokenizer.vocab.items() if t.startswith("[") and t.endswith("]")}
  assert specials & set(builder.random_ids) == set()
  assert len(builder.random_ids) == len(tokenizer.vocab) - len(specials)
  assert tokenizer.vocab["[PAD]"] in specials and tokenizer.vocab["[MASK]"] in specials


def test_long_sentences_are_split_at_word_boundaries(tokenizer):
  options = cpd.Options(max_seq_length=16, max_predictions_per_seq=5, short_seq_prob=0.0)
  builder = instance_builder.InstanceBuilder(options, tokenizer.vocab)
  # 10 words of 3 tokens (30 tokens), then one word of 20 tokens.
  segment = instance_builder.Segment(list(range(1000, 1050)), None, None, None,
                        list(range(0, 30, 3)) + [30])
  stats = build_statistics()
  instances = builder.create_instances([segment], random.Random(0), stats)
  lengths = [i.num_tokens for i in instances]
  assert lengths == [12, 12, 6, 14, 6]  # 14 = max tokens: the 20-token word is cut
  assert stats.counts["words_cut"] == 1 and stats.counts["sentences_split"] == 4
  for instance in instances:
    assert instance.pos is None  # unlabelled tasks stay None (written as 0)


# --- TFRecord writing -----------------------------------------------------------------------


def test_crc32c_known_values():
  crc = crc32c.crc32c  # the TFRecord framing's CRC: Castagnoli, not zlib's
  assert crc(b"123456789") == 0xE3069283
  assert crc(b"") == 0
  assert crc(b"\x00" * 32) == 0x8A9136AA
  long_data = bytes(bytearray(range(256))) * 40
  reference = 0xFFFFFFFF
  for byte in bytearray(long_data):
    reference ^= byte
    for _ in range(8):
      reference = (reference >> 1) ^ (0x82F63B78 if reference & 1 else 0)
  assert crc(long_data) == reference ^ 0xFFFFFFFF


def test_examples_and_records_are_those_of_tensorflow(tmp_path, tokenizer):
  import tensorflow.compat.v1 as tf
  builder = instance_builder.InstanceBuilder(
      cpd.Options(max_seq_length=32, max_predictions_per_seq=6), tokenizer.vocab)
  encoder = record_codec.ExampleEncoder(
      record_schema.PRETRAINING, len(tokenizer.vocab),
      memoized=("input_mask", "segment_ids", "masked_lm_weights"),
      max_seq_length=32, max_predictions_per_seq=6)
  rng = random.Random(5)
  segments = synthetic_segments(rng, 6, list(range(100, 21128)))
  instances = builder.create_instances(segments, rng, build_statistics())
  records = []
  for instance in instances:
    features = collections.OrderedDict()
    padded = lambda values, n: list(values) + [0] * (n - len(values))  # noqa: E731
    features["input_ids"] = padded(instance.input_ids, 32)
    features["input_mask"] = padded([1] * len(instance.input_ids), 32)
    features["segment_ids"] = [0] * 32
    features["masked_lm_positions"] = padded(instance.positions, 6)
    features["masked_lm_ids"] = padded(instance.original_ids, 6)
    features["pos_labels"] = padded(instance.pos, 6)
    features["ner_labels"] = padded(instance.ner, 6)
    features["dep_labels"] = padded(instance.dep, 6)
    weights = [1.0] * len(instance.positions) + [0.0] * (6 - len(instance.positions))
    feature = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=values))
               for name, values in features.items()}
    feature["masked_lm_weights"] = tf.train.Feature(
        float_list=tf.train.FloatList(value=weights))
    expected = tf.train.Example(features=tf.train.Features(feature=feature))
    ours = encoder.encode(instance.features())
    assert ours == expected.SerializeToString(deterministic=True)
    records.append(ours)
  theirs = str(tmp_path / "tf.tfrecord")
  with tf.io.TFRecordWriter(theirs) as writer:
    for record in records:
      writer.write(record)
  ours = b"".join(record_codec.tfrecord_chunks(records))
  assert ours == open(theirs, "rb").read()


# --- End to end with jieba --------------------------------------------------------------------


@pytest.fixture(scope="module")
def jieba_corpus(tmp_path_factory):
  directory = tmp_path_factory.mktemp("corpus")
  return write_sentence_per_line(directory / "corpus.txt", make_documents(40, seed=11))


def test_jieba_end_to_end_output_and_sidecar(tmp_path, jieba_corpus, tokenizer):
  options = make_options(tmp_path, input_file=jieba_corpus)
  sidecar = cpd.run(options)
  files = tfrecord_files(options.output_dir)
  assert [os.path.basename(f) for f in files] == sidecar["files"]
  assert len(files) >= 3
  examples = read_examples(files, 64, 10)
  assert len(examples) == sidecar["num_instances"] > 0
  assert sidecar["annotator"] == "jieba"
  assert sidecar["labelled_tasks"] == ["pos", "ner"]
  assert sidecar["unlabelled_tasks"] == ["dep"]
  assert sidecar["inventories"] == {t: list(linguistics.LABELS[t]) for t in linguistics.TASKS}
  assert (sidecar["max_seq_length"], sidecar["max_predictions_per_seq"]) == (64, 10)
  assert sidecar["ngram_probs"] == [0.4, 0.3, 0.2, 0.1]
  assert sidecar["replacement_probs"] == {"mask": 0.8, "random": 0.1, "keep": 0.1}
  stats = sidecar["statistics"]
  assert stats["annotation"]["documents"] == 40 == stats["build"]["documents"]
  assert stats["build"]["instances"] == len(examples)
  assert stats["annotation"]["input_bytes"] == os.path.getsize(jieba_corpus)
  assert 0.12 < stats["build"]["masked_fraction"] < 0.18
  assert "nr->nh" in sidecar["mapped_tags"]["jieba_pos_translated"] or (
      "ns->ns" in sidecar["mapped_tags"]["jieba_pos_translated"])
  pos_counts = stats["build"]["masked_label_counts"]["pos"]
  assert sum(pos_counts.values()) == stats["build"]["masked_tokens"]
  for example in examples:
    count = int(example["masked_lm_weights"].sum())
    assert not example["dep_labels"].any()  # DEP absent: zeros, flagged in the sidecar
    assert 1 <= count <= 10
    assert example["input_mask"].sum() >= count + 2
    assert not example["segment_ids"].any()
  # The lead's reader accepts the sidecar as the contract with training.
  loaded = pretraining_data.verify_dataset(files).sidecar
  pretraining_data.check_sidecar(loaded, 64, 10)
  assert loaded["labelled_tasks"] == ["pos", "ner"]


def test_identical_output_whatever_the_worker_count(tmp_path, jieba_corpus):
  one = make_options(tmp_path / "one", input_file=jieba_corpus, num_workers=1)
  three = make_options(tmp_path / "three", input_file=jieba_corpus, num_workers=3)
  cpd.run(one)
  cpd.run(three)
  assert file_bytes(one.output_dir) == file_bytes(three.output_dir)
  # The two stages run separately give the same bytes as --stage=all.
  cache = str(tmp_path / "cache")
  cpd.run(make_options(tmp_path / "staged", input_file=jieba_corpus, stage="annotate",
                       cache_dir=cache))
  staged = make_options(tmp_path / "staged", stage="build", cache_dir=cache,
                        num_workers=2)
  cpd.run(staged)
  assert file_bytes(staged.output_dir) == file_bytes(one.output_dir)
  # Another seed from the same cache: same tokens, other masks.
  reseeded = make_options(tmp_path / "reseeded", stage="build", cache_dir=cache,
                          random_seed=8)
  cpd.run(reseeded)
  assert file_bytes(reseeded.output_dir) != file_bytes(one.output_dir)
  # The same output directory with other settings is refused.
  with pytest.raises(errors.UserError, match="other random_seed"):
    cpd.run(make_options(tmp_path / "one", input_file=jieba_corpus, random_seed=9))


def test_kill_and_resume(tmp_path, jieba_corpus):
  corpus = write_sentence_per_line(tmp_path / "corpus.txt", make_documents(40, seed=5))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, TESTS_DIR]))

  def command(output_dir):
    return [sys.executable, SCRIPT, "--input_file=" + corpus,
            "--output_dir=" + str(output_dir), "--vocab_file=" + VOCAB_FILE,
            "--annotator=test_create_pretraining_data.SlowAnnotator",
            "--max_seq_length=64", "--max_predictions_per_seq=10", "--dupe_factor=2",
            "--shard_size_mb=0.0015", "--num_workers=1"]
  reference = tmp_path / "reference"
  subprocess.check_call(command(reference), env=env, stderr=subprocess.DEVNULL)
  resumed = tmp_path / "resumed"
  process = subprocess.Popen(command(resumed), env=env, stderr=subprocess.DEVNULL)
  progress = resumed / ".progress"
  deadline = time.time() + 60
  while time.time() < deadline and not glob.glob(str(progress / "pretraining-*.json")):
    time.sleep(0.05)
  process.send_signal(signal.SIGKILL)
  process.wait()
  done_before = {path: os.stat(path).st_mtime_ns
                 for path in glob.glob(str(progress / "pretraining-*.json"))}
  total = len(tfrecord_files(reference))
  assert 1 <= len(done_before) < total
  # A killed run never leaves a file under a final name that is not complete.
  for path in tfrecord_files(resumed):
    assert open(path, "rb").read() == open(
        os.path.join(str(reference), os.path.basename(path)), "rb").read()
  assert not os.path.exists(str(resumed / record_schema.DIRECTORY_SIDECAR))
  output = subprocess.check_output(command(resumed), env=env, stderr=subprocess.STDOUT)
  assert (b"%d already done" % len(done_before)) in output
  assert file_bytes(resumed) == file_bytes(reference)
  for path, mtime in done_before.items():
    assert os.stat(path).st_mtime_ns == mtime  # finished shards were not redone
  assert not [n for n in os.listdir(str(resumed)) if ".tmp-" in n]


# --- Input formats and bad input --------------------------------------------------------------


def documents_of(text, input_format, splitter="rules"):
  stats = counters.annotation_statistics()
  lines = list(enumerate(text.split(u"\n"), 1))
  _, split = annotators.make_sentence_splitter(splitter)
  documents = list(corpus_reader.iter_documents(lines, input_format, split, stats, "f"))
  return documents, {key: value for key, value in stats.to_dict().items() if value}


def test_input_formats():
  documents, stats = documents_of(u"一。\n二。\n\n\n三。\n  \n四。", "sentence_per_line")
  assert documents == [(1, [u"一。", u"二。"]), (5, [u"三。"]), (7, [u"四。"])]
  assert stats == {}
  documents, stats = documents_of(u"一。二。\n\n三！“四。”五", "doc_per_line")
  assert documents == [(1, [u"一。", u"二。"]), (3, [u"三！", u"“四。”", u"五"])]
  assert stats["empty_documents"] == 1
  wiki = (u'<doc id="1" url="u" title="标题">\n标题\n\n第一段。第二句。\n\n第二段\n</doc>\n'
          u'<doc id="2" url="u" title="空">\n空\n</doc>\n'
          u'孤立的行\n<doc id="3" title="末">\n末\n没有结束。')
  documents, stats = documents_of(wiki, "wikiextractor")
  assert documents == [(1, [u"第一段。", u"第二句。", u"第二段"]),
                       (12, [u"没有结束。"])]
  assert stats["empty_documents"] == 1 and stats["unterminated_documents"] == 1
  assert stats["lines_outside_documents"] == 1
  assert stats["lines_outside_documents_examples"] == ["f:11"]


def test_plan_shards_cuts_at_document_boundaries(tmp_path):
  documents = make_documents(30, seed=2)
  path = write_sentence_per_line(tmp_path / "c.txt", documents)
  data = open(path, "rb").read()
  shards = corpus_reader.plan_shards([path], "sentence_per_line", 500)
  assert len(shards) > 3
  assert shards[0][1] == 0 and shards[-1][2] == len(data)
  for (_, _, end, _), (_, start, _, first_line) in zip(shards, shards[1:]):
    assert end == start and data[start - 2:start] == b"\n\n"
    assert data[:start].count(b"\n") + 1 == first_line
  empty = write_sentence_per_line(tmp_path / "e.txt", [])
  open(empty, "wb").close()
  assert corpus_reader.plan_shards([empty], "sentence_per_line", 500) == [(0, 0, 0, 1)]


def test_bad_input_is_counted_not_fatal(tmp_path):
  long_sentence = u"".join(SENTENCES[:8]) * 3  # ~300 characters, seq 64
  data = (u"正常的一句话。\n".encode("utf-8") +
          b"\xff\xfe\xe4\xb8 broken \xe4\xb8\xad\xe6\x96\x87\n" +      # invalid UTF-8
          u"控制\x00字符\u200b还有\x07。\n".encode("utf-8") +             # control chars
          b"\n\n\n" +
          long_sentence.encode("utf-8") + b"\n\n" +
          b"Only English here, no Chinese at all.\n\n" +
          u"繁體中文的句子，測試臺灣與香港的寫法。\n".encode("utf-8") +
          b"\x00\x01\n\n" +
          u"最后一个文档".encode("utf-8"))  # no final newline
  corpus = tmp_path / "bad.txt"
  corpus.write_bytes(data)
  empty = tmp_path / "empty.txt"
  empty.write_bytes(b"")
  options = make_options(tmp_path, input_file="%s,%s" % (corpus, empty),
                         shard_size_mb=1.0, dupe_factor=1, short_seq_prob=0.0)
  sidecar = cpd.run(options)
  annotation = sidecar["statistics"]["annotation"]
  build = sidecar["statistics"]["build"]
  assert annotation["bad_utf8_lines"] == 1
  assert annotation["bad_utf8_examples"] == ["%s:2" % corpus]
  # \x00 \u200b \x07, \x00 \x01, and three U+FFFD from the invalid bytes.
  assert annotation["chars_removed"] == 8
  assert annotation["empty_input_files"] == 1
  assert annotation["documents"] == 5
  assert build["sentences_split"] >= 4  # the long sentence spans several instances
  assert "words_cut" not in build
  examples = read_examples(tfrecord_files(options.output_dir), 64, 10)
  assert len(examples) == build["instances"]
  # Nothing is lost: every token of the corpus is in some instance.
  tokenizer = tokenization.FullTokenizer(VOCAB_FILE)
  expected_tokens = 0
  for path in glob.glob(os.path.join(options.output_dir, ".annotations", "*.jsonl")):
    for line in open(path, encoding="utf-8"):
      for record in json.loads(line)["sentences"]:
        expected_tokens += len(tokenizer.tokenize(record[0]))
  assert build["tokens"] == expected_tokens
  report = data_stats.format_report(sidecar)
  assert "bad_utf8_lines 1 (e.g. %s:2)" % corpus in report


def test_dropped_sentences_are_counted(tmp_path):
  corpus = write_sentence_per_line(tmp_path / "c.txt", [[u"好的句子。", u"坏的句子。"]])
  sidecar = cpd.run(make_options(
      tmp_path, input_file=corpus,
      annotator="test_create_pretraining_data.BrokenAnnotator"))
  annotation = sidecar["statistics"]["annotation"]
  assert annotation["sentences_dropped"] == 1 and annotation["sentences"] == 1
  assert "do not spell" in annotation["sentences_dropped_examples"][0]


def test_clear_errors_before_any_work(tmp_path, jieba_corpus):
  options = make_options(tmp_path, input_file=str(tmp_path / "missing-*.txt"))
  with pytest.raises(errors.UserError, match="missing-.*matched nothing"):
    cpd.run(options)
  assert not os.path.exists(options.output_dir)
  blocker = tmp_path / "a_file"
  blocker.write_text(u"x")
  options = make_options(tmp_path, input_file=jieba_corpus,
                         output_dir=str(blocker / "out"))
  with pytest.raises(errors.UserError, match="--output_dir .* is not writable"):
    cpd.run(options)
  assert not os.path.exists(options.resolved_cache_dir())
  with pytest.raises(errors.UserError, match="--cache_dir .* is not writable"):
    cpd.run(make_options(tmp_path, input_file=jieba_corpus, stage="annotate",
                         cache_dir=str(blocker / "cache")))
  with pytest.raises(errors.UserError, match="no annotation cache"):
    cpd.run(make_options(tmp_path, stage="build", cache_dir=str(tmp_path / "none")))
  with pytest.raises(errors.UserError, match="replacement_probs"):
    cpd.run(make_options(tmp_path, input_file=jieba_corpus,
                         replacement_probs=(0.8, 0.1, 0.2)))
  with pytest.raises(errors.UserError, match="unknown annotator"):
    cpd.run(make_options(tmp_path, input_file=jieba_corpus, annotator="hanlp"))
  with pytest.raises(errors.UserError, match="is a directory"):
    cpd.run(make_options(tmp_path, input_file=str(tmp_path)))


def test_a_dying_worker_is_reported(tmp_path, jieba_corpus):
  options = make_options(tmp_path, input_file=jieba_corpus, num_workers=2,
                         annotator="test_create_pretraining_data.DyingAnnotator")
  with pytest.raises(errors.UserError, match="worker process died"):
    cpd.run(options)


def test_command_line(tmp_path, jieba_corpus):
  from absl import flags
  flag_values = cpd.define_flags(flags.FlagValues())
  flag_values(["prog", "--input_file=x.txt", "--output_dir=o", "--ngram_probs=0.5,0.5",
               "--replacement_probs=1,0,0", "--num_workers=2"])
  options = cpd.options_from_flags(flag_values)
  assert options.ngram_probs == (0.5, 0.5)
  assert options.replacement_probs == (1.0, 0.0, 0.0)
  assert options.num_workers == 2 and options.max_seq_length == 128
  flag_values(["prog", "--ngram_probs=a,b"])
  with pytest.raises(errors.UserError, match="ngram_probs"):
    cpd.options_from_flags(flag_values)
  # Errors reach the user as one line, without a traceback.
  result = subprocess.run(
      [sys.executable, SCRIPT, "--input_file=" + str(tmp_path / "nope.txt"),
       "--output_dir=" + str(tmp_path / "o"), "--vocab_file=" + VOCAB_FILE],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  assert result.returncode == errors.USER_ERROR_EXIT
  assert b"error: --input_file" in result.stderr and b"Traceback" not in result.stderr


# --- LTP end to end (where ltp is installed) ----------------------------------------------------


def test_ltp_end_to_end(tmp_path):
  pytest.importorskip("ltp")
  import ltp_tiny
  model = ltp_tiny.build_tiny_ltp(str(tmp_path / "ltp"))
  corpus = tmp_path / "docs.txt"
  corpus.write_text(u"\n".join(u"".join(doc) for doc in make_documents(12, seed=4)) +
                    u"\n", encoding="utf-8")
  options = make_options(tmp_path, input_file=str(corpus), input_format="doc_per_line",
                         annotator="ltp", ltp_model=model, ltp_batch_size=4,
                         ltp_device="cpu", num_workers=2, shard_size_mb=0.001)
  sidecar = cpd.run(options)
  assert sidecar["labelled_tasks"] == ["pos", "ner", "dep"]
  assert sidecar["input"]["sentence_splitter"] == "ltp"
  assert sidecar["annotator_config"]["ltp_model"] == os.path.abspath(model)
  mapped = sidecar["mapped_tags"]
  assert any(key.startswith(("g->", "x->")) for key in mapped["pos"])
  assert "IS->ADV" in mapped["dep"]
  examples = read_examples(tfrecord_files(options.output_dir), 64, 10)
  assert len(examples) == sidecar["num_instances"] > 0
  assert any(example["dep_labels"].any() for example in examples)
  assert sidecar["statistics"]["annotation"]["documents"] == 12


def test_preserve_unused_tokens_is_refused_not_ignored(tmp_path):
  """Google's --preserve_unused_tokens cannot keep its meaning here: one error line."""
  corpus = tmp_path / "corpus.txt"
  corpus.write_text(u"有[unused1]这个词。\n", encoding="utf-8")
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, "create_pretraining_data.py"),
       "--input_file=%s" % corpus, "--output_dir=%s" % (tmp_path / "out"),
       "--preserve_unused_tokens"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  lines = result.stderr.decode("utf-8").strip().splitlines()
  assert result.returncode != 0
  assert [line for line in lines if "error:" in line][-1].endswith(
      "segmentation splits [unusedN] into pieces before tokenization")
