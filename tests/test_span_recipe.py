# coding=utf-8
"""The span family's two recipes (--span_recipe): HFL's CMRC 2018 baseline (the
default, the paper's) and Google's run_squad.

Pinned here on small fixtures: the baseline's tokenization (no accent stripping,
control characters kept as [UNK]), its answer-position mask (a question token is
never chosen, in training or prediction) and its per-window log-softmax (which
can pick another window's answer than raw logits do).
"""

import random
import unicodedata

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from lert.finetune import common
from lert.finetune import span
import lert
import modeling
import tokenization

HFL = common.InputSettings(64, 32, 16, 20, 30, span.HFL_RECIPE)
GOOGLE = HFL._replace(span_recipe=span.GOOGLE_RECIPE)


@pytest.fixture(scope="module")
def tokenizers():
  vocab = lert.DEFAULT_VOCAB_FILE
  family = span.SpanFamily()
  return {recipe: tokenization.FullTokenizer(vocab, True, **family.tokenizer_options(inputs))
          for recipe, inputs in ((span.HFL_RECIPE, HFL), (span.GOOGLE_RECIPE, GOOGLE))}


# --- Tokenization (item 3) ---------------------------------------------------


def baseline_words(text):
  """HFL's customize_tokenizer, from its description: a space around every CJK
  ideograph, punctuation, whitespace and Cc/Cf control character, then lower(),
  then split on whitespace."""
  padded = []
  for char in text:
    control = (char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf"))
    if (tokenization._is_chinese_char(ord(char)) or tokenization._is_punctuation(char)
        or tokenization._is_whitespace(char) or control):
      padded.append(" %s " % char)
    else:
      padded.append(char)
  return "".join(padded).lower().split()


def baseline_tokens(tokenizer, text):
  pieces = tokenizer.wordpiece_tokenizer
  return [p for word in baseline_words(text) for p in pieces.tokenize(word)]


def test_hangul_accents_and_zero_width_characters_tokenize_as_the_baseline(tokenizers):
  text = u"Café 한국어 x\u200by，ｶﾞ ÅNGSTRÖM\x00z"
  hfl = tokenizers[span.HFL_RECIPE].tokenize(text)
  assert hfl == baseline_tokens(tokenizers[span.HFL_RECIPE], text)
  # The Hangul word is one [UNK], U+200B its own [UNK]: nothing shifts.
  assert hfl[1] == "[UNK]" and hfl[2:5] == ["x", "[UNK]", "y"]
  google = tokenizers[span.GOOGLE_RECIPE].tokenize(text)
  assert google[0] == "cafe" and "##ᅡ" in google  # NFD: accents stripped, jamo pieces
  assert "[UNK]" not in google[1:4] and google[google.index("x"):][:2] == ["x", "##y"]


def test_hfl_tokenizer_matches_the_baseline_on_random_mixed_text(tokenizers):
  alphabet = (u"哈工大ab CÉ é ñ한국ｶﾞガ\u200b\u200d\x00\x01\x1c\x85\ufeff\ue000\ufffd"
              u"ΣΑΣ. ,，。!\t\n\u2028İ1９")
  rng = random.Random(5)
  tokenizer = tokenizers[span.HFL_RECIPE]
  for _ in range(400):
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
    tokens, starts, ends = tokenizer.tokenize_with_offsets(text)
    assert tokens == baseline_tokens(tokenizer, text), repr(text)
    assert tokens == tokenizer.tokenize(text)
    assert all(0 <= s < e <= len(text) for s, e in zip(starts, ends))


def test_hangul_context_keeps_answer_positions_of_the_baseline(tokenizers):
  context = u"서울은 한국의 수도다。答案是北京。"
  example = span.SpanExample("q", u"答案？", context,
                             [{"text": u"北京", "answer_start": context.index(u"北京")}])
  for recipe, tokenizer in tokenizers.items():
    features, _ = span.convert_span_examples([example], tokenizer, 64, 32, 16, True)
    f = features[0]
    assert f.tokens[f.start_position:f.end_position + 1] == [u"北", u"京"]
    if recipe == span.HFL_RECIPE:
      # [CLS] 答 案 ？ [SEP] + three [UNK] words, 。, 答 案 是 北 京
      assert f.start_position == 5 + 3 + 1 + 3
    else:
      assert f.start_position > 5 + 3 + 1 + 3  # jamo pieces moved it


# --- The head: mask (item 2) and per-window log-softmax (item 1) --------------


class FixedSequence(object):
  """A model stand-in whose sequence output is given."""

  def __init__(self, values):
    self.values = tf.constant(values, tf.float32)

  def get_sequence_output(self):
    return self.values


def run_head(inputs, sequence, features, is_training):
  """The span head over a [B, S, 2] `sequence`, its kernel the identity (so
  start logit = sequence[..., 0], end logit = sequence[..., 1])."""
  config = modeling.BertConfig(vocab_size=8, hidden_size=2)
  with tf.Graph().as_default():
    feeds = dict((k, tf.constant(v)) for k, v in features.items())
    loss, predictions = span.SpanFamily().head(
        None, config, FixedSequence(sequence), feeds, is_training, inputs,
        common.LERT_LAYOUT)
    with tf.Session() as sess:
      sess.run(tf.global_variables_initializer())
      for variable in tf.global_variables():
        value = np.eye(2) if variable.name.endswith("kernel:0") else np.zeros(2)
        variable.load(value, sess)
      return sess.run(loss if is_training else predictions)


def feature_arrays(tokenizer, question, context, answer=None, max_seq_length=24):
  example = span.SpanExample("q", question, context, [] if answer is None else
                             [{"text": answer, "answer_start": context.index(answer)}])
  features, _ = span.convert_span_examples([example], tokenizer, max_seq_length, 8, 8,
                                           answer is not None)
  f = features[0]
  arrays = {"unique_id": np.array([f.unique_id]), "input_mask": np.array([f.input_mask]),
            "segment_ids": np.array([f.segment_ids])}
  if answer is not None:
    arrays["start_positions"] = np.array([f.start_position])
    arrays["end_positions"] = np.array([f.end_position])
  return example, f, arrays


def test_answer_position_mask_is_cls_and_context():
  with tf.Graph().as_default(), tf.Session() as sess:
    mask = sess.run(span.answer_position_mask(
        tf.constant([[1, 1, 1, 1, 1, 1, 0, 0]]), tf.constant([[0, 0, 0, 1, 1, 1, 0, 0]])))
  # [CLS] q [SEP] c c [SEP] pad pad
  assert mask.tolist() == [[1, 0, 0, 1, 1, 0, 0, 0]]


def test_question_token_is_never_chosen_under_the_hfl_recipe(tokenizers):
  tokenizer = tokenizers[span.HFL_RECIPE]
  example, f, arrays = feature_arrays(tokenizer, u"北京？", u"首都是北京。")
  sequence = np.zeros([1, 24, 2])
  sequence[0, 1] = 9.0  # the question's 北: the largest start and end logits
  sequence[0, f.tokens.index(u"北", 5)] = 2.0  # the context's 北
  for inputs, expected in ((HFL, u"北"), (GOOGLE, u"")):
    out = run_head(inputs, sequence, arrays, is_training=False)
    results = {f.unique_id: (list(out["start_logits"][0]), list(out["end_logits"][0]))}
    # n_best 1: the single best start and end. Under google's raw logits they are
    # the question's token, which is no answer; the mask leaves the context's.
    predictions, _ = span.decode_spans([example], [f], results, 1, 30)
    assert predictions["q"] == expected
  hfl = run_head(HFL, sequence, arrays, is_training=False)
  assert np.exp(hfl["start_logits"][0][1]) == 0.0  # no probability on the question
  assert abs(np.exp(hfl["start_logits"][0]).sum() - 1.0) < 1e-5  # log-softmax


def test_training_softmax_spreads_only_over_cls_and_context(tokenizers):
  tokenizer = tokenizers[span.HFL_RECIPE]
  _, f, arrays = feature_arrays(tokenizer, u"北京？", u"首都是北京。", answer=u"北京")
  sequence = np.random.RandomState(0).normal(size=[1, 24, 2])
  sequence[0, 1] = 9.0  # a question token the unmasked softmax gives mass to
  allowed = [0] + [i for i in range(24) if f.segment_ids[i] == 1 and i < sum(f.input_mask) - 1]

  def nll(scores, gold, positions):
    scores = scores[positions]
    return -(scores[positions.index(gold)] - np.log(np.exp(scores).sum()))

  for inputs, positions in ((HFL, allowed), (GOOGLE, list(range(24)))):
    loss = run_head(inputs, sequence, arrays, is_training=True)
    expected = 0.5 * (nll(sequence[0, :, 0], f.start_position, positions) +
                      nll(sequence[0, :, 1], f.end_position, positions))
    assert abs(loss - expected) < 1e-4


def test_two_windows_per_window_log_softmax_and_raw_logits_choose_differently(tokenizers):
  tokenizer = tokenizers[span.HFL_RECIPE]
  context = u"甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉"
  example = span.SpanExample("q", u"问", context, [])
  features, _ = span.convert_span_examples([example], tokenizer, 16, 6, 8, False)
  assert len(features) >= 2
  first, second = features[0], features[-1]
  uid = dict((f.unique_id, f) for f in features)
  # Window 1: a confident answer 甲 (position 3) among other high scores; the last
  # window: a lower logit at 酉 but all its mass there.
  sequence = np.full([len(features), 16, 2], -30.0)
  for row, f in enumerate(features):
    sequence[row, :, :] = -30.0 if f is not first else 7.0
  sequence[0, 3] = 10.0
  last_pos = max(p for p in second.token_to_char if second.token_is_max_context[p])
  sequence[len(features) - 1, last_pos] = 8.0
  arrays = {"unique_id": np.array([f.unique_id for f in features]),
            "input_mask": np.array([f.input_mask for f in features]),
            "segment_ids": np.array([f.segment_ids for f in features])}
  answers = {}
  for inputs in (HFL, GOOGLE):
    out = run_head(inputs, sequence, arrays, is_training=False)
    results = dict((int(u), (list(s), list(e))) for u, s, e in zip(
        out["unique_id"], out["start_logits"], out["end_logits"]))
    assert set(results) == set(uid)
    predictions, _ = span.decode_spans([example], features, results, 20, 1)
    answers[inputs.span_recipe] = predictions["q"]
  assert answers[span.GOOGLE_RECIPE] == u"甲"  # raw 10 + 10 beats 8 + 8
  assert answers[span.HFL_RECIPE] == u"酉"  # log-prob ~0 beats ~-0.4 each


def test_accents_are_stripped_only_by_a_lower_casing_tokenizer():
  assert tokenization.BasicTokenizer(False).tokenize(u"Café") == [u"Café"]
  assert tokenization.BasicTokenizer(True, strip_accents=False).tokenize(u"Café") == [u"café"]
  with pytest.raises(ValueError, match="strip_accents=True needs do_lower_case=True"):
    tokenization.BasicTokenizer(False, strip_accents=True)
