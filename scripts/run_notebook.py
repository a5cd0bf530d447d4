"""Executes a notebook headless, top to bottom; fails on the first cell that raises.

  .venv-tf-latest/bin/python scripts/run_notebook.py notebooks/lert_quickstart.ipynb \
      --output notebook_output/lert_quickstart.executed.ipynb

The kernel is this Python (its ipykernel). The notebook in git stays without outputs;
the executed copy, with every output, goes to --output. `make notebook` runs this in
.venv-tf-latest with LERT_TORCH_PYTHON pointing at .venv-tf2 for the PyTorch cells.
"""

import argparse
import os
import sys
import time

import nbclient
import nbformat

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lert import errors  # noqa: E402
from lert import fileio  # noqa: E402


def write_notebook(notebook, path):
  """The executed copy, whole or not at all."""
  fileio.write_atomically(path, nbformat.writes(notebook).encode("utf-8"))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("notebook")
  parser.add_argument("--output", required=True, help="where the executed copy goes")
  parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
  args = parser.parse_args(argv)
  notebook = nbformat.read(args.notebook, as_version=4)
  client = nbclient.NotebookClient(notebook, timeout=args.timeout, kernel_name="python3",
                                   resources={"metadata": {"path": os.getcwd()}})
  os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
  started = time.time()
  try:
    client.execute()
  except nbclient.exceptions.CellExecutionError as error:
    write_notebook(notebook, args.output)
    sys.stderr.write("error: %s: a cell failed (executed copy in %s):\n%s\n" % (
        args.notebook, args.output, error))
    return 1
  write_notebook(notebook, args.output)
  cells = sum(1 for cell in notebook.cells if cell.cell_type == "code")
  print("notebook: %s ran %d code cells in %.0f s; executed copy in %s" % (
      args.notebook, cells, time.time() - started, args.output))
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
