# coding=utf-8
"""Google BERT's own tests against this project's modeling, tokenization and
optimization: their public API is the contract.

The tests ship in the PyPI package bert-tensorflow==1.0.4 (requirements/tf1.txt
installs it into .venv-tf1).  Each `*_test.py` is copied, unedited, into a
temporary directory beside a `bert` package whose modules are this project's,
and run the way Google runs it (`python modeling_test.py`, i.e. tf.test.main),
writing absl's XML report, which the test reads.
"""

import glob
import importlib.util
import os
import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest
import tensorflow.compat.v1 as tf
from absl.testing import flagsaver

import tokenization
from conftest import REPO_ROOT

GOOGLE_PACKAGE = "bert-tensorflow==1.0.4"
GOOGLE_TESTS = ("modeling_test.py", "optimization_test.py", "tokenization_test.py")
# Google's tests say `from bert import modeling` (and optimization, tokenization).
BERT_PACKAGE_INIT = '''"""`bert` for Google's tests: the LERT project's own modules."""
import os

import modeling
import optimization
import tokenization

for module in (modeling, optimization, tokenization):
  assert os.path.dirname(os.path.abspath(module.__file__)) == %r, module.__file__
'''
# tf.test.TestCase has a helper method `test_session`, which unittest collects
# and TensorFlow skips as "Not a test."
TENSORFLOW_NON_TEST = "test_session"


def google_package_dir():
  """The installed `bert` package of bert-tensorflow 1.0.4 (TF 1.x only)."""
  if not tf.__version__.startswith("1."):
    pytest.skip("Google's BERT tests are TF1-only (TF 1.x graph sessions); "
                "%s is installed in .venv-tf1 only" % GOOGLE_PACKAGE)
  spec = importlib.util.find_spec("bert")
  if spec is None or not spec.submodule_search_locations:
    pytest.fail("%s is not installed in this TF %s environment: pip install -r "
                "requirements/tf1.txt" % (GOOGLE_PACKAGE, tf.__version__))
  package_dir = list(spec.submodule_search_locations)[0]
  dist_info = os.path.join(os.path.dirname(package_dir),
                           "bert_tensorflow-1.0.4.dist-info")
  assert os.path.isdir(dist_info), (
      "%s is not %s's `bert` package" % (package_dir, GOOGLE_PACKAGE))
  return package_dir


def test_the_package_ships_these_tests():
  found = glob.glob(os.path.join(google_package_dir(), "*_test.py"))
  assert sorted(os.path.basename(path) for path in found) == list(GOOGLE_TESTS)


def run_google_test(name, directory):
  """Runs one of Google's test files against this project's modules.

  Returns ({test name: "passed" | "failed" | "not run"}, console output).
  """
  with open(os.path.join(google_package_dir(), name), "rb") as reader:
    source = reader.read()
  with open(os.path.join(directory, name), "wb") as writer:
    writer.write(source)
  os.mkdir(os.path.join(directory, "bert"))
  with open(os.path.join(directory, "bert", "__init__.py"), "w") as writer:
    writer.write(BERT_PACKAGE_INIT % REPO_ROOT)
  report = os.path.join(directory, "report.xml")
  # The script's directory comes first on sys.path, so `bert` is the package
  # above; PYTHONPATH then finds this project's modules.
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
  result = subprocess.run(
      [sys.executable, name, "--xml_output_file=" + report], cwd=directory,
      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
      universal_newlines=True, timeout=600)
  outcomes = {}
  if os.path.exists(report):
    for case in ElementTree.parse(report).getroot().iter("testcase"):
      if case.find("failure") is not None or case.find("error") is not None:
        outcomes[case.get("name")] = "failed"
      elif case.get("status") == "run":
        outcomes[case.get("name")] = "passed"
      else:
        outcomes[case.get("name")] = "not run"
  return outcomes, result.returncode, result.stdout


@pytest.mark.parametrize("name", GOOGLE_TESTS)
def test_google_bert_test_passes_against_this_project(name, tmp_path):
  outcomes, returncode, output = run_google_test(name, str(tmp_path))
  with open(os.path.join(str(tmp_path), name)) as reader:
    written = set(re.findall(r"^  def (test\w*)\(", reader.read(), re.MULTILINE))
  assert written, name
  tail = output[-3000:]
  assert returncode == 0, tail
  assert sorted(n for n, o in outcomes.items() if o == "passed") == sorted(written), tail
  assert [n for n, o in outcomes.items() if o != "passed"] in (
      [], [TENSORFLOW_NON_TEST]), tail


# --- Google's --preserve_unused_tokens, in both environments ---------------------


def write_vocab(tmp_path):
  path = tmp_path / "vocab.txt"
  path.write_text("\n".join(["[UNK]", "[CLS]", "un", "##want", "##ed", "[unused0]",
                             "[unused1]"]) + "\n")
  return str(path)


def test_preserve_unused_tokens_keeps_unused_entries_whole(tmp_path):
  vocab = write_vocab(tmp_path)
  text = u"UNwanted [unused0] [CLS] [unused55] x[unused1]"
  kept = tokenization.FullTokenizer(vocab, preserve_unused_tokens=True)
  assert kept.tokenize(text) == [
      "un", "##want", "##ed", "[unused0]", "[UNK]", "[UNK]", "[UNK]",
      "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]", "[UNK]"]
  tokens, starts, ends = kept.tokenize_with_offsets(text)
  assert tokens[3] == "[unused0]" and text[starts[3]:ends[3]] == "[unused0]"
  split = tokenization.FullTokenizer(vocab, preserve_unused_tokens=False)
  assert split.tokenize(u"[unused0]") == ["[UNK]", "[UNK]", "[UNK]"]


def test_preserve_unused_tokens_defaults_to_google_flag(tmp_path):
  vocab = write_vocab(tmp_path)
  assert tokenization.FullTokenizer(vocab).tokenize(u"[unused0]") == ["[UNK]"] * 3
  with flagsaver.flagsaver(preserve_unused_tokens=True):
    assert tokenization.FullTokenizer(vocab).tokenize(u"[unused0]") == ["[unused0]"]
    # An explicit argument wins over the flag.
    assert tokenization.FullTokenizer(
        vocab, preserve_unused_tokens=False).tokenize(u"[unused0]") == ["[UNK]"] * 3
