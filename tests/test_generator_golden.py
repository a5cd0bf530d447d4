# coding=utf-8
"""Pins the generator's output bytes: a refactoring must not change them.

The corpus is written here (no randomness, no data files), annotated with
jieba and built with two flag sets, with 1 and 2 workers. The pins are the
sha256 of every TFRecord and of the sidecar's statistics (with this run's
temporary directory replaced, since bad-input examples name their file).
A change of the pins must be a deliberate change of the output, said so in
its commit.
"""

import glob
import hashlib
import json
import os

import pytest

import create_pretraining_data as cpd

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")

SENTENCES = [
    u"北京大学的张伟教授昨天在上海发表了演讲。",
    u"哈尔滨工业大学位于黑龙江省哈尔滨市。",
    u"今年春天，小明和妈妈一起去杭州西湖旅游。",
    u"研究人员用新的算法训练了一个中文语言模型。",
    u"臺灣的夜市有很多好吃的小吃，例如蚵仔煎。",
    u"數學家們研究數量、結構以及空間等概念。",
    u"Google发布了新的TensorFlow版本2.15，支持更多的GPU。",
    u"The quick brown fox jumps over the lazy dog near Beijing.",
    u"会议将于2024年3月15日在深圳举行，预计有3000人参加。",
    u"长江全长约6300公里，是中国最长的河流。",
    u"他说：“我们应该保护环境，减少塑料的使用！”",
    u"这台iPhone 15 Pro的售价是7999元，比去年贵了5%。",
]
# Longer than a 64- or 128-token instance: it is split at word boundaries.
LONG_SENTENCE = u"".join(SENTENCES[:9]) * 2


def corpus_documents():
  """32 documents of 1..6 sentences, chosen by arithmetic (no rng)."""
  documents = []
  for i in range(32):
    documents.append([SENTENCES[(7 * i + 3 * j) % len(SENTENCES)]
                      for j in range(1 + i % 6)])
  documents[5].append(LONG_SENTENCE)
  return documents


def write_corpus(directory):
  """The fixture files; one has a bad UTF-8 line, control characters and CRLF."""
  documents = corpus_documents()
  plain = os.path.join(directory, "plain.txt")
  with open(plain, "wb") as handle:
    handle.write(u"\n\n".join(u"\n".join(doc) for doc in documents[:20])
                 .encode("utf-8") + b"\n")
  odd = os.path.join(directory, "odd.txt")
  lines = []
  for doc in documents[20:]:
    lines.append(u"\r\n".join(doc).encode("utf-8"))
  lines.insert(3, b"\xe4\xb8 broken \xe4\xb8\xad\xe6\x96\x87")
  lines.insert(5, u"零宽\u200b空格和\x07响铃。".encode("utf-8"))
  with open(odd, "wb") as handle:
    handle.write(b"\r\n\r\n".join(lines))  # no final newline
  return "%s,%s" % (plain, odd)


FLAG_SETS = {
    "128_20": dict(max_seq_length=128, max_predictions_per_seq=20, dupe_factor=1,
                   short_seq_prob=0.0, random_seed=12345),
    "64_10_dupe3_short": dict(max_seq_length=64, max_predictions_per_seq=10,
                              dupe_factor=3, short_seq_prob=0.3, random_seed=7),
}

# sha256 of each TFRecord in file order, then of the sidecar's statistics.
PINS = {
    "128_20": {
        "files": [
            "9aacf79ccb44910dcf2a89fbd7180930a086dfb435d76d20af41ae278c5822ec",
            "2c268e0a08b2c0331b95ad3867350ae40ee428002eba6fd514235befeaa240cc",
            "47baa23c12971c21eaf5b303de83b01ea4effe6814756884c321e827be3e7bb0",
            "0d07824c47f4cc6b39721798af66d6f34819bc566a5467d06286d70cdde21986",
            "812dbcfe306bada0e31f44dedbd982ee8cb6438627136da79250a3bc923b34e5",
        ],
        "statistics": "6403dc1aad521a5dae999f678d0dd9ddcfa6e6b902a1645516ad2ccf29fc2857",
    },
    "64_10_dupe3_short": {
        "files": [
            "f82ac4d56a5b753a2578edfba6b4336d61a097ca2aaa141d54f442f153685ed5",
            "ffc7de90cb064bf70d07fb633c321b43991a73efa2a05f207e083e9686e9f990",
            "01c3af50f1feb071b063a53a8f6c75b683fbf26919a109ae22ba2c699dda6558",
            "a7a8d4f8cfd843780db5da00c8b74796eed9e4cad2f2cec9b624dc8b9692d4ad",
            "b40099b8398cb31ad7ced2a50f7e035b7ce2125d016a30008eb991316748858a",
        ],
        "statistics": "ec08fd710ce1fcd115f6771f2262ac932adeb0b8c4e3c3f0c3b1e27bd1decb02",
    },
}


def sha256(data):
  return hashlib.sha256(data).hexdigest()


def statistics_digest(sidecar, tmp_dir):
  text = json.dumps(sidecar["statistics"], sort_keys=True, ensure_ascii=False)
  return sha256(text.replace(tmp_dir, "TMP").encode("utf-8"))


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("flag_set", sorted(FLAG_SETS))
def test_output_bytes_are_pinned(tmp_path, flag_set, workers):
  corpus_dir = str(tmp_path / "corpus")
  os.makedirs(corpus_dir)
  options = cpd.Options(
      input_file=write_corpus(corpus_dir), output_dir=str(tmp_path / "out"),
      vocab_file=VOCAB_FILE, annotator="jieba", shard_size_mb=0.002,
      num_workers=workers, **FLAG_SETS[flag_set])
  sidecar = cpd.run(options)
  files = sorted(glob.glob(os.path.join(options.output_dir, "*.tfrecord")))
  assert len(files) >= 3
  got = {"files": [sha256(open(path, "rb").read()) for path in files],
         "statistics": statistics_digest(sidecar, str(tmp_path))}
  assert got == PINS[flag_set]
