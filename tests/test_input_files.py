# coding=utf-8
"""Input files are decoded correctly or refused with one clear message."""

import os
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if TESTS_DIR not in sys.path:
  sys.path.insert(0, TESTS_DIR)

import create_pretraining_data as cpd  # noqa: E402
from lert import errors  # noqa: E402
import test_create_pretraining_data as generator_tests  # noqa: E402


TEXT = u"".join(u"%s\n" % sentence for sentence in generator_tests.SENTENCES[:8])


@pytest.mark.parametrize("encoding,problem", [
    ("utf-16", r"is UTF-16LE \(it starts with that byte-order mark\)"),
    ("utf-16-be", r"has NUL bytes|is not UTF-8"),
    ("utf-32", r"is UTF-32LE \(it starts with that byte-order mark\)"),
    ("utf-16-le", r"has NUL bytes|is not UTF-8"),
    ("gb18030", r"is not UTF-8: \d+ of the first \d+ non-blank lines"),
])
def test_a_file_that_is_not_utf8_is_refused_before_any_work(tmp_path, encoding,
                                                            problem):
  data = TEXT.encode(encoding)
  if encoding == "utf-16-be":
    data = b"\xfe\xff" + data  # with its mark
    problem = r"is UTF-16BE \(it starts with that byte-order mark\)"
  corpus = tmp_path / "corpus.txt"
  corpus.write_bytes(data)
  options = generator_tests.make_options(tmp_path, input_file=str(corpus))
  with pytest.raises(errors.UserError, match=r"--input_file %s %s.*must be UTF-8" %
                     (str(corpus).replace(".", r"\."), problem)):
    cpd.run(options)
  assert not os.path.exists(options.output_dir)


def test_a_shard_that_is_mostly_not_utf8_is_refused(tmp_path):
  # UTF-8 at the start, GB18030 after the first 64 KB: found when read.
  start = (TEXT + u"\n") * (70000 // len(TEXT.encode("utf-8")) + 1)
  corpus = tmp_path / "corpus.txt"
  corpus.write_bytes(start.encode("utf-8") + (TEXT * 200).encode("gb18030"))
  options = generator_tests.make_options(tmp_path, input_file=str(corpus),
                                         shard_size_mb=0.05)
  with pytest.raises(errors.UserError, match=r"corpus\.txt \(lines from \d+\) is not "
                                             r"UTF-8: \d+ of its \d+ non-blank lines"):
    cpd.run(options)


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
  corpus = tmp_path / "corpus.txt"
  corpus.write_bytes(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))
  sidecar = cpd.run(generator_tests.make_options(tmp_path, input_file=str(corpus)))
  annotation = sidecar["statistics"]["annotation"]
  assert "bad_utf8_lines" not in annotation and "chars_removed" not in annotation
  assert annotation["characters"] == len(TEXT.replace(u"\n", u""))


def test_an_unreadable_input_file_is_one_clear_error(tmp_path):
  good = tmp_path / "good.txt"
  good.write_text(TEXT, encoding="utf-8")
  broken = tmp_path / "broken.txt"
  os.symlink(str(tmp_path / "gone.txt"), str(broken))
  options = generator_tests.make_options(tmp_path, input_file=str(tmp_path / "*.txt"))
  with pytest.raises(errors.UserError, match=r"--input_file .*broken\.txt cannot be "
                                             r"read: No such file"):
    cpd.run(options)
  assert not os.path.exists(options.output_dir)
