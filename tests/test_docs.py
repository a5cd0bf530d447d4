# coding=utf-8
"""The README's recipes run: every command block under a "## Recipe" heading.

The blocks are taken from README.md as they are and run with bash in a scratch
folder that links the repository's files, with `python` the interpreter of this
environment. Only what cannot run offline or would take hours is rewritten, by
the table OFFLINE below; each rewrite must still find its text in the README,
so a recipe that changes fails here until the table follows it. The released
checkpoints are stood in for by a tiny model the test makes: a TF checkpoint with
every head (one pretraining step) as HFL's TF release, and its Hugging Face
export without the linguistic heads as `hfl/chinese-lert-base`.
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import TINY_BERT_CONFIG, TINY_CORPUS_TEXT
import require_installed

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO, "README.md")


def recipe_blocks(path=README):
  """{heading: bash code} of the ```bash blocks under "## Recipe ..." headings."""
  blocks = {}
  heading = None
  with io.open(path, encoding="utf-8") as handle:
    text = handle.read()
  for match in re.finditer(r"^## ([^\n]*)$|^```bash\n(.*?)^```$", text, re.M | re.S):
    if match.group(1) is not None:
      heading = match.group(1)
    elif heading and heading.startswith("Recipe"):
      blocks[heading] = blocks.get(heading, "") + match.group(2)
  return blocks


def _tf_major():
  import tensorflow as tf
  return int(tf.__version__.split(".")[0])


def _has_ltp():
  # Under CI, an environment whose requirements install ltp must be able to import it.
  return require_installed.optional_import("ltp") is not None


def offline_rewrites(tiny_ltp_dir):
  """(pattern, replacement) per recipe: the offline, small-scale stand-ins."""
  annotator = ("--annotator=ltp --ltp_model=%s" % tiny_ltp_dir if tiny_ltp_dir
               else "--annotator=jieba")
  return {
      "Recipe 1": [
          (r"^git clone https://huggingface\.co/hfl/chinese-lert-base.*$",
           ": # offline: the test made chinese-lert-base"),
          (r"--seeds 1,2,3,4,5", "--seeds 1"),
      ],
      "Recipe 2": [
          (r"--annotator=ltp --ltp_model=LTP/base", annotator),
          (r"--max_seq_length=512", "--max_seq_length=64"),
          (r"--max_predictions_per_seq=75", "--max_predictions_per_seq=10"),
          (r"--dupe_factor=5", "--dupe_factor=1"),
          (r"--num_workers=4", "--num_workers=1"),
          (r"--train_batch_size=64", "--train_batch_size=4"),
          (r"--num_train_steps=100000", "--num_train_steps=3"),
          (r"--num_warmup_steps=1000", "--num_warmup_steps=1"),
          # TF 1.15 has no CPU bfloat16: --use_amp is for GPUs there.
          (r" --use_amp$", "" if _tf_major() == 1 else " --use_amp"),
      ],
  }


def rewrite(heading, code, rewrites):
  for pattern, replacement in rewrites.get(heading, ()):
    code, count = re.subn(pattern, replacement, code, flags=re.M)
    assert count, "README's %s no longer has %r: update tests/test_docs.py" % (
        heading, pattern)
  return code


def _run(command, cwd, env, what):
  result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True)
  assert result.returncode == 0, "%s failed:\n%s" % (what, result.stdout[-6000:])
  return result.stdout


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  """A scratch folder that links the repository and holds the stand-in downloads."""
  work = str(tmp_path_factory.mktemp("readme"))
  for name in os.listdir(REPO):
    if not name.startswith(".") and name not in ("tests", "docs"):
      os.symlink(os.path.join(REPO, name), os.path.join(work, name))
  shims = os.path.join(work, ".bin")
  os.makedirs(shims)
  with open(os.path.join(shims, "python"), "w") as handle:
    handle.write('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
  os.chmod(os.path.join(shims, "python"), 0o755)
  env = dict(os.environ, PATH=shims + os.pathsep + os.environ["PATH"],
             PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
  env.pop("CI", None)  # the recipes are what a user runs
  # The corpus, HFL's TF release (every head) and its Hugging Face export.
  os.makedirs(os.path.join(work, "corpus"))
  with io.open(os.path.join(work, "corpus", "a.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join([TINY_CORPUS_TEXT] * 12) + "\n")
  with open(os.path.join(work, "tiny_config.json"), "w") as f:
    json.dump(TINY_BERT_CONFIG, f)
  py = sys.executable
  _run([py, "create_pretraining_data.py", "--input_file=corpus/a.txt",
        "--input_format=doc_per_line", "--output_dir=seed_data", "--max_seq_length=64",
        "--max_predictions_per_seq=10", "--dupe_factor=1"], work, env, "seed data")
  _run([py, "run_pretraining.py", "--input_file=seed_data/*.tfrecord",
        "--output_dir=seed_model", "--bert_config_file=tiny_config.json", "--do_train",
        "--train_batch_size=4", "--max_seq_length=64", "--max_predictions_per_seq=10",
        "--num_train_steps=1", "--num_warmup_steps=0", "--pos_end_step=0",
        "--ner_end_step=0", "--dep_end_step=0"], work, env, "the stand-in release")
  release = os.path.join(work, "chinese_lert_base")
  os.makedirs(release)
  for name in os.listdir(os.path.join(work, "seed_model")):
    if name.startswith("model.ckpt-1."):
      shutil.copy(os.path.join(work, "seed_model", name),
                  os.path.join(release, "lert_model.ckpt" + name[len("model.ckpt-1"):]))
  shutil.copy(os.path.join(work, "tiny_config.json"), os.path.join(release, "lert_config.json"))
  shutil.copy(os.path.join(REPO, "vocab.txt"), os.path.join(release, "vocab.txt"))
  _run([py, "convert_lert_to_hf.py", "--checkpoint", "chinese_lert_base/lert_model.ckpt",
        "--output_dir", "chinese-lert-base"], work, env, "the stand-in hub model")
  for name in os.listdir(os.path.join(work, "chinese-lert-base")):
    if name.startswith("lert_heads"):  # the hub's weights have no linguistic heads
      os.remove(os.path.join(work, "chinese-lert-base", name))
  data = os.path.join(work, "data", "chnsenticorp")
  os.makedirs(data)
  rows = [(u"1", u"很好，非常满意，推荐"), (u"0", u"太差了，不满意，退货")]
  for split, count in (("train", 40), ("dev", 8), ("test", 8)):
    with io.open(os.path.join(data, split + ".tsv"), "w", encoding="utf-8") as f:
      f.write(u"label\ttext_a\n")
      for i in range(count):
        f.write(u"%s\t%s\n" % rows[i % 2])
  return work, env


def test_the_recipes_are_found():
  blocks = recipe_blocks()
  assert sorted(blocks) == ["Recipe 1: fine-tune from the released checkpoint",
                            "Recipe 2: continue pretraining on your corpus"]


def _heading(prefix):
  return [h for h in recipe_blocks() if h.startswith(prefix)][0]


def test_recipe_1_fine_tunes_from_the_hub_weights(workdir):
  work, env = workdir
  heading = _heading("Recipe 1")
  code = rewrite("Recipe 1", recipe_blocks()[heading], offline_rewrites(None))
  output = _run(["bash", "-euo", "pipefail", "-c", code], work, env, heading)
  assert os.path.isfile(os.path.join(work, "lert_base_tf", "lert_model.ckpt.index"))
  results = io.open(os.path.join(work, "runs", "chnsenticorp", "best_eval_results.txt"),
                    encoding="utf-8").read()
  assert re.search(r"^accuracy = [\d.]+$", results, re.M), results
  assert "chnsenticorp accuracy over 1 seeds, max (avg): " in output, output[-2000:]


def test_recipe_2_continues_pretraining(workdir, tmp_path):
  work, env = workdir
  tiny_ltp = None
  if _has_ltp():
    import ltp_tiny
    tiny_ltp = str(tmp_path / "ltp_tiny")
    ltp_tiny.build_tiny_ltp(tiny_ltp, vocab_file=os.path.join(REPO, "vocab.txt"))
  heading = _heading("Recipe 2")
  code = rewrite("Recipe 2", recipe_blocks()[heading], offline_rewrites(tiny_ltp))
  _run(["bash", "-euo", "pipefail", "-c", code], work, env, heading)
  with open(os.path.join(work, "data512", "lert_data.json")) as f:
    sidecar = json.load(f)
  assert sidecar["annotator"] == ("ltp" if tiny_ltp else "jieba")
  results = io.open(os.path.join(work, "lert-continued", "eval_results.txt"),
                    encoding="utf-8").read()
  assert "global_step = 3" in results, results
  assert re.search(r"^masked_lm_accuracy = ", results, re.M), results
