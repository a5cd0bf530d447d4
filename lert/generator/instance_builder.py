# coding=utf-8
"""Pretraining instances: tokens with their labels, cut and masked.

This is where the data's content is decided (LERT's paper gives the rules; the
generator's own choices are said where they are made):

- Labels per token: every character of a word carries its word's POS tag and
  dependency relation, NER is BIES over an entity's characters
  (linguistics.character_labels), and a word piece that is not one CJK
  character takes the POS and DEP labels of its first character, and the NER
  tag that fits the characters it covers (token_ner_labels).
- Instances (no NSP): consecutive sentences of one document fill
  [CLS] ... [SEP] up to max_seq_length (with `short_seq_prob` a shorter random
  target, as in BERT). A sentence that does not fit an empty instance is cut at
  a word boundary and continues in the next one; a word is only ever cut when
  it is alone longer than the sequence (counted). Nothing is dropped.
- Masking: whole words of the annotator, N-grams of whole words. The number of
  predictions is round(tokens * masked_lm_prob) (at least 1, at most
  max_predictions_per_seq). Word starts are visited in random order; n is
  drawn from `ngram_probs`, and the n words from the current start are masked
  if the instance has them and none is masked yet (else n waits for the next
  start). When an N-gram would exceed what is left of the budget, drawing
  stops and the rest is filled with the longest free runs of up to N words
  that fit, in random order. N-grams are never shortened; on Chinese Wikipedia
  with 0.4/0.3/0.2/0.1 their shares are 0.41/0.30/0.19/0.10 at 512/75
  (0.43/0.29/0.19/0.09 with the fill) and 0.45/0.30/0.18/0.07 at 128/20, where
  only ~4 N-grams fit a budget of 19 and the one that no longer fits is more
  often long. The statistics report both shares. An instance whose every word
  is longer than the budget gets its shortest word masked. A word is never
  partly masked. Each masked token becomes [MASK], a random token or stays,
  per `replacement_probs` (BERT's 80/10/10); random tokens are drawn uniformly
  from the vocabulary without its [bracketed] special entries.

Every random choice comes from the one `random.Random` a caller passes (one
per shard), so the instances depend only on the seed and the input.
"""

import bisect

from lert import linguistics
from lert.generator import annotation_cache
from lert.generator import counters
from lert.generator import options as options_lib
import tokenization

CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"


class Segment(object):
  """A tokenized sentence: ids, label ids per token (None: task unlabelled) and
  the token indexes where the annotator's words start."""

  __slots__ = ("ids", "pos", "ner", "dep", "word_starts")

  def __init__(self, ids, pos, ner, dep, word_starts):
    self.ids, self.pos, self.ner, self.dep = ids, pos, ner, dep
    self.word_starts = word_starts


def chars_without_token(text, starts, ends):
  """How many characters of `text`, whitespace aside, no token covers.

  The tokenizer drops some (a combining accent with nothing to accent, once
  accents are stripped); the build stage counts them.
  """
  covered = reached = 0
  for start, end in zip(starts, ends):  # spans never go backwards
    start = max(start, reached)
    if end > start:
      covered += end - start
      reached = end
  if covered >= len("".join(text.split())):
    return 0
  marks = bytearray(len(text))
  for start, end in zip(starts, ends):
    marks[start:end] = b"\x01" * (end - start)
  return sum(1 for char, mark in zip(text, marks)
             if not mark and not char.isspace() and
             not tokenization.is_removed_char(char))


def tokenize_sentence(sentence: annotation_cache.CachedSentence,
                      tokenizer: tokenization.FullTokenizer, mapper, labelled_tasks,
                      stats: counters.ShardStatistics = None):
  """A cached sentence -> Segment (a piece takes the word of its first
  character); characters no token covers are counted in `stats`."""
  text = sentence.text
  dep = sentence.dep if "dep" in labelled_tasks else None
  words, char_word, offset = [], [], 0
  for index, length in enumerate(sentence.word_lengths):
    words.append(text[offset:offset + length])
    char_word.extend([index] * length)
    offset += length
  labels = linguistics.character_labels(
      words,
      sentence.pos if "pos" in labelled_tasks else None,
      dep,
      sentence.entities if "ner" in labelled_tasks else None,
      mapper)
  tokens, starts, ends = tokenizer.tokenize_with_offsets(text)
  if stats is not None:
    lost = chars_without_token(text, starts, ends)
    if lost:
      stats.add("chars_without_token", lost)
  vocab = tokenizer.vocab
  ids = [vocab[token] for token in tokens]
  token_words = [char_word[start] for start in starts]
  word_starts = [i for i in range(len(token_words))
                 if i == 0 or token_words[i] != token_words[i - 1]]

  def per_token(task):
    values = labels.get(task)
    return None if values is None else [values[start] for start in starts]
  ner = labels.get("ner")
  return Segment(ids, per_token("pos"),
                 None if ner is None else token_ner_labels(ner, starts, ends),
                 per_token("dep"), word_starts)


def token_ner_labels(char_ner, starts, ends):
  """NER label ids per token from the characters' BIES ids.

  A token takes the BIES tag that fits the characters it covers, of the entity
  its first character is in: S when it covers that entity's first and last
  character, B only the first, E only the last, I neither ("Google" as a
  one-token organisation is S-Ni, not B-Ni without an end).
  """
  names, ids = linguistics.LABELS["ner"], linguistics.LABEL_TO_ID["ner"]
  labels = []
  for start, end in zip(starts, ends):
    tag = names[char_ner[start]]
    if end - start <= 1 or tag == "O":
      labels.append(char_ner[start])
      continue
    kind = tag[2:]
    # The entity ends at the first E or S of its kind in the span, if there.
    covers_last = any(names[i] in ("E-" + kind, "S-" + kind)
                      for i in char_ner[start:end])
    covers_first = tag[0] in "BS"
    position = {(True, True): "S", (True, False): "B", (False, True): "E",
                (False, False): "I"}[(covers_first, covers_last)]
    labels.append(ids[position + "-" + kind])
  return labels


class Instance(object):
  """One training sequence before serialization (tests inspect these)."""

  __slots__ = ("input_ids", "num_tokens", "positions", "original_ids", "pos",
               "ner", "dep", "word_starts", "ngram_lengths", "fill_lengths",
               "replacements")

  def __init__(self, **kwargs):
    for name in self.__slots__:
      setattr(self, name, kwargs.get(name))

  def features(self):
    """Its record_schema.PRETRAINING values, before zero padding; mask and
    weights as tuples (record_codec.ExampleEncoder keeps their entries)."""
    values = {"input_ids": self.input_ids, "input_mask": (1,) * len(self.input_ids),
              "segment_ids": (), "masked_lm_positions": self.positions,
              "masked_lm_ids": self.original_ids,
              "masked_lm_weights": (1.0,) * len(self.positions)}
    for task in linguistics.TASKS:
      labels = getattr(self, task)
      values[task + "_labels"] = labels if labels is not None else ()
    return values


class InstanceBuilder(object):
  """Cuts a document's segments into instances and masks them (one rng per shard).

  `options` has the generator's masking settings; `stats` (the build's
  counters.ShardStatistics, data_stats.BuildStatistics) counts cut words and
  split sentences.
  """

  def __init__(self, options: options_lib.Options, vocab):
    self.max_seq_length = options.max_seq_length
    self.max_tokens = options.max_seq_length - 2
    self.max_predictions = options.max_predictions_per_seq
    self.masked_lm_prob = options.masked_lm_prob
    self.short_seq_prob = options.short_seq_prob
    total = float(sum(options.ngram_probs))
    self.ngram_cumulative = []
    running = 0.0
    for p in options.ngram_probs:
      running += p / total
      self.ngram_cumulative.append(running)
    self.ngram_cumulative[-1] = 1.0
    self.mask_prob = options.replacement_probs[0]
    self.random_prob = options.replacement_probs[0] + options.replacement_probs[1]
    self.cls_id, self.sep_id, self.mask_id = vocab[CLS], vocab[SEP], vocab[MASK]
    # Random replacements: real tokens only, never [PAD], [unusedN], [CLS]...
    self.random_ids = [i for token, i in vocab.items()
                       if not (token.startswith("[") and token.endswith("]"))]

  def _target_length(self, rng):
    if self.short_seq_prob and rng.random() < self.short_seq_prob:
      return 2 + int(rng.random() * (self.max_tokens - 1))  # 2..max_tokens
    return self.max_tokens

  def _cut(self, segment, start, room, stats):
    """End of the piece of `segment` from `start` holding at most `room` tokens
    (not cutting a word, unless a single word is longer than a sequence)."""
    starts = segment.word_starts
    limit = start + room
    index = bisect.bisect_right(starts, limit) - 1
    if index >= 0 and starts[index] > start:
      return starts[index]
    # The first word alone exceeds `room`: take it whole if it fits a sequence.
    index = bisect.bisect_right(starts, start)
    word_end = starts[index] if index < len(starts) else len(segment.ids)
    if word_end - start <= self.max_tokens:
      return word_end
    stats.add("words_cut")
    return start + self.max_tokens

  def create_instances(self, segments, rng, stats: counters.ShardStatistics):
    """All instances of one document (one pass: call once per dupe)."""
    instances = []
    pieces, length = [], 0
    target = self._target_length(rng)
    for segment in segments:
      size = len(segment.ids)
      start = 0
      while start < size:
        rest = size - start
        if rest <= target - length:
          pieces.append((segment, start, size))
          length += rest
          break
        if pieces:
          instances.append(self._instance(pieces, length, rng, stats))
          pieces, length = [], 0
          target = self._target_length(rng)
          continue
        end = self._cut(segment, start, target, stats)
        stats.add("sentences_split")
        instances.append(self._instance([(segment, start, end)], end - start,
                                        rng, stats))
        target = self._target_length(rng)
        start = end
    if pieces:
      instances.append(self._instance(pieces, length, rng, stats))
    return instances

  def _instance(self, pieces, length, rng, stats):
    ids = [self.cls_id]
    pos, ner, dep = [0], [0], [0]
    has = {"pos": True, "ner": True, "dep": True}
    word_starts = []
    for segment, start, end in pieces:
      base = len(ids) - start
      ids.extend(segment.ids[start:end])
      for task, values in (("pos", pos), ("ner", ner), ("dep", dep)):
        source = getattr(segment, task)
        if source is None:
          has[task] = False
        else:
          values.extend(source[start:end])
      first = bisect.bisect_left(segment.word_starts, start)
      if first == len(segment.word_starts) or segment.word_starts[first] != start:
        word_starts.append(start + base)  # a piece starting inside a word
      for word_start in segment.word_starts[first:]:
        if word_start >= end:
          break
        word_starts.append(word_start + base)
    ids.append(self.sep_id)
    return self._mask(ids, length, word_starts,
                      pos if has["pos"] else None,
                      ner if has["ner"] else None,
                      dep if has["dep"] else None, rng, stats)

  def _mask(self, ids, num_tokens, word_starts, pos, ner, dep, rng, stats):
    """Whole-word N-gram masking of one instance (the hot loop)."""
    budget = min(self.max_predictions,
                 max(1, int(num_tokens * self.masked_lm_prob + 0.5)))
    num_words = len(word_starts)
    bounds = word_starts + [num_tokens + 1]  # token positions ([CLS] = 0)
    order = list(range(num_words))
    covered = bytearray(num_words)
    cumulative = self.ngram_cumulative
    positions, ngram_lengths, fill_lengths = [], [], []
    random_value = rng.random
    step = 0
    n = 0
    while budget > 0 and step < num_words:
      # Lazy Fisher-Yates: the next word of a random order, without shuffling all.
      swap = step + int(random_value() * (num_words - step))
      order[step], order[swap] = order[swap], order[step]
      first = order[step]
      step += 1
      if covered[first]:
        continue
      if not n:
        n = bisect.bisect_right(cumulative, random_value()) + 1
      end = first + n
      if end > num_words or any(covered[first:end]):
        # n waits for the next start where it fits: placing N-grams whole,
        # never shortened, keeps their shares those of the flag.
        continue
      if bounds[end] - bounds[first] > budget:
        break  # the budget is nearly spent: the fill below completes it
      n = 0
      for word in range(first, end):
        covered[word] = 1
      positions.extend(range(bounds[first], bounds[end]))
      budget -= bounds[end] - bounds[first]
      ngram_lengths.append(end - first)
    if budget > 0:
      # What the drawn N-grams could not fill (the end of the budget, dense
      # masking): the longest free runs of up to N words that fit, in random
      # order (the rest of the lazy shuffle).
      for rest in range(step, num_words):
        swap = rest + int(random_value() * (num_words - rest))
        order[rest], order[swap] = order[swap], order[rest]
      max_n = len(cumulative)
      for first in order:
        if budget <= 0:
          break
        end = first
        while (end < num_words and end - first < max_n and not covered[end] and
               bounds[end + 1] - bounds[first] <= budget):
          end += 1
        if end > first:
          for word in range(first, end):
            covered[word] = 1
          positions.extend(range(bounds[first], bounds[end]))
          budget -= bounds[end] - bounds[first]
          fill_lengths.append(end - first)
      if not positions and num_words:
        # Every word is longer than the budget: mask the shortest one that fits
        # max_predictions_per_seq, so that the instance still teaches something.
        sizes = [(bounds[w + 1] - bounds[w], w) for w in range(num_words)]
        size, word = min(sizes)
        if size <= self.max_predictions:
          positions.extend(range(bounds[word], bounds[word + 1]))
          fill_lengths.append(1)
        else:
          stats.add("instances_without_masks")
    positions.sort()
    original = [ids[p] for p in positions]
    replaced = list(ids)
    replacements = [0, 0, 0]
    for p in positions:
      r = random_value()
      if r < self.mask_prob:
        replaced[p] = self.mask_id
        replacements[0] += 1
      elif r < self.random_prob:
        replaced[p] = self.random_ids[int(random_value() * len(self.random_ids))]
        replacements[1] += 1
      else:
        replacements[2] += 1
    return Instance(
        input_ids=replaced, num_tokens=num_tokens, positions=positions,
        original_ids=original,
        pos=[pos[p] for p in positions] if pos is not None else None,
        ner=[ner[p] for p in positions] if ner is not None else None,
        dep=[dep[p] for p in positions] if dep is not None else None,
        word_starts=word_starts, ngram_lengths=ngram_lengths,
        fill_lengths=fill_lengths, replacements=replacements)
