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
