"""notebooks/lert_quickstart.ipynb: committed without outputs, every code cell valid Python.

`make notebook` (run by CI) executes it top to bottom in .venv-tf-latest; this test
keeps the file itself in shape in every environment.
"""

import ast
import json
import os

from conftest import REPO_ROOT

NOTEBOOK = os.path.join(REPO_ROOT, "notebooks", "lert_quickstart.ipynb")


def test_notebook_is_stripped_and_parses():
  with open(NOTEBOOK, encoding="utf-8") as handle:
    notebook = json.load(handle)
  assert notebook["nbformat"] == 4
  code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
  assert len(code_cells) >= 6
  for index, cell in enumerate(code_cells):
    assert cell["outputs"] == [] and cell["execution_count"] is None, (
        "code cell %d has outputs: strip them before committing" % index)
    ast.parse("".join(cell["source"]), filename="code cell %d" % index)
  text = json.dumps(notebook, ensure_ascii=False)
  # The steps the quickstart promises, each through the project's own command.
  for script in ("create_pretraining_data.py", "run_pretraining.py", "--do_predict",
                 "convert_lert_to_hf.py", "fill-mask", "lert_heads_torch",
                 "run_classifier.py", "requirements/colab.txt"):
    assert script in text, script


def _code_cells():
  with open(NOTEBOOK, encoding="utf-8") as handle:
    notebook = json.load(handle)
  return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_setup_cell_clones_the_repository_outside_a_checkout(tmp_path, monkeypatch):
  """Colab starts outside any checkout: the first cell clones REPO_URL into lert/."""
  setup = _code_cells()[0]
  head = setup.split("os.chdir(find_repository())")[0]
  monkeypatch.chdir(tmp_path)
  monkeypatch.setenv("LERT_REPO_URL", REPO_ROOT)
  monkeypatch.delenv("LERT_REPO", raising=False)
  namespace = {}
  exec(compile(head, "setup cell", "exec"), namespace)
  assert os.path.isfile(str(tmp_path / "lert" / "run_pretraining.py"))
  assert namespace["find_repository"]() == "lert"


def test_optional_cell_starts_from_the_released_checkpoint_or_says_it_skips():
  last = _code_cells()[-1]
  assert "hfl/chinese-lert-base" in last and "convert_hf_to_lert.py" in last
  assert 'print("skipped: hfl/chinese-lert-base is not available here' in last
