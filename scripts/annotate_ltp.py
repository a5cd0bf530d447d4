# coding=utf-8
"""Annotates a raw corpus with LTP into `--input_format=ltp_jsonl` JSON lines.

For annotating on other machines (a GPU cluster) and building the data here:

  python scripts/annotate_ltp.py --input_file corpus.txt --output_file corpus.ltp.jsonl \
      --ltp_model /models/ltp-base [--ltp_batch_size 32 --ltp_device cuda]
  python create_pretraining_data.py --annotator=preannotated --input_format=ltp_jsonl \
      --input_file corpus.ltp.jsonl --output_dir data ...

The corpus is read as create_pretraining_data.py reads it (corpus_reader:
shards, cleaning, sentences) and annotated by annotators.LtpAnnotator in the
same groups (annotation_cache.annotate_documents: long sentences cut the same
way, sentences LTP fails on dropped and counted), so the records built from the
output are those of `--annotator=ltp` on the corpus. Each sentence is one line
(preannotated.ltp_json_line), a blank line ends a document. The output is
written under a temporary name and renamed when complete.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from lert.generator import annotation_cache  # noqa: E402
from lert.generator import annotation_types  # noqa: E402
from lert.generator import annotators  # noqa: E402
from lert.generator import corpus_reader  # noqa: E402
from lert import errors  # noqa: E402
from lert import settings  # noqa: E402
from lert import fileio  # noqa: E402
from lert.generator import counters  # noqa: E402
from lert.generator import preannotated  # noqa: E402

RAW_FORMATS = ("sentence_per_line", "doc_per_line", "wikiextractor")


def parse_args(argv):
  parser = settings.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--input_file", required=True,
                      help="raw corpus files, comma-separated globs")
  parser.add_argument("--output_file", required=True, help="the JSON lines to write")
  parser.add_argument("--input_format", default="sentence_per_line", choices=RAW_FORMATS)
  parser.add_argument("--sentence_splitter", default="auto", choices=annotation_types.SPLITTERS,
                      help="for doc_per_line and wikiextractor")
  parser.add_argument("--ltp_model", required=True,
                      help="a local LTP 4 model directory or a hub name (LTP/small)")
  parser.add_argument("--ltp_batch_size", type=int, default=32)
  parser.add_argument("--ltp_device", default=None, help="torch device (default: cuda if any)")
  parser.add_argument("--shard_size_mb", type=float, default=1.0,
                      help="input read (and grouped) as create_pretraining_data.py's "
                      "shards of this size; keep its value for identical batches")
  return parser.parse_args(argv)


def document_lines(record):
  """The JSON lines of one annotation-cache record (a document)."""
  lines = []
  for sentence in record["sentences"]:
    text, lengths, pos, entities, dep, heads = sentence
    words, offset = [], 0
    for length in lengths:
      words.append(text[offset:offset + length])
      offset += length
    lines.append(preannotated.ltp_json_line(annotation_types.SentenceAnnotation(
        words, pos, [tuple(entity) for entity in entities], dep, heads)))
  return lines


def annotate(args):
  """Writes the JSON lines; returns the summed statistics."""
  options = {"ltp_model": args.ltp_model, "ltp_batch_size": args.ltp_batch_size,
             "ltp_device": args.ltp_device}
  if args.ltp_batch_size < 1:
    raise errors.UserError("--ltp_batch_size must be >= 1, got %d" % args.ltp_batch_size)
  annotators.LtpAnnotator.describe(options)
  _, splitter = annotators.make_sentence_splitter(args.sentence_splitter)
  files = corpus_reader.expand_input_patterns(args.input_file)
  corpus_reader.check_input_files(files)
  fileio.ensure_parent_dir(args.output_file, "output_file")
  annotator = annotators.LtpAnnotator.from_options(options)
  plan = corpus_reader.plan_shards(files, args.input_format,
                                   int(args.shard_size_mb * 1024 * 1024))
  total = {}

  def chunks():
    for file_index, start, end, first_line in plan:
      path = files[file_index]
      stats = counters.annotation_statistics()
      lines = corpus_reader.read_shard_lines(path, start, end, first_line, stats)
      documents = corpus_reader.iter_documents(lines, args.input_format, splitter,
                                               stats, path)
      for record in annotation_cache.annotate_documents(documents, annotator, path,
                                                        stats):
        yield ("\n".join(document_lines(record)) + "\n\n").encode("utf-8")
      stats.add_tables(annotator.take_statistics())
      counters.add_counts(total, stats.to_dict())
  fileio.write_atomically(args.output_file, chunks())
  return total


def main(argv=None):
  args = parse_args(argv)
  total = annotate(args)
  counts = ", ".join("%s %s" % (key, value) for key, value in sorted(total.items())
                     if not isinstance(value, (dict, list)))
  sys.stderr.write("annotate_ltp: %s -> %s: %s\n" % (args.input_file, args.output_file,
                                                     counts))
  for key, value in sorted(total.items()):
    if isinstance(value, list):
      sys.stderr.write("annotate_ltp: %s: %s\n" % (key, "; ".join(value)))
  annotator_counts = total.get("annotator_counts", {})
  if annotator_counts:
    sys.stderr.write("annotate_ltp: %s\n" % ", ".join(
        "%s %d" % kv for kv in sorted(annotator_counts.items())))
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
