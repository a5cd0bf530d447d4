# LERT toolkit: the commands a user types.  See README.md.
SHELL := /bin/bash
TF1 := .venv-tf1/bin/python
TF2 := .venv-tf2/bin/python

.PHONY: setup setup-tf1 setup-tf2 setup-tf-latest test test-tf1 test-tf2 test-tf-latest lint notebook demo ablation bench

## Build the three virtual environments (.venv-tf1: Py3.7+TF1.15.5, .venv-tf2: Py3.11+TF2.15.1,
## .venv-tf-latest: Py3.12+the newest TF). GPU=1 installs TensorFlow's GPU build instead.
setup:
	bash scripts/setup_envs.sh all

setup-tf1:
	bash scripts/setup_envs.sh tf1

setup-tf2:
	bash scripts/setup_envs.sh tf2

setup-tf-latest:
	bash scripts/setup_envs.sh tf-latest

## Run the whole test suite in every environment, side by side (CI=true: a missing env fails;
## TEST_SERIAL=1: one after another).
test:
	bash scripts/run_tests.sh all

test-tf1:
	bash scripts/run_tests.sh tf1

test-tf2:
	bash scripts/run_tests.sh tf2

test-tf-latest:
	bash scripts/run_tests.sh tf-latest

## Lint: ruff (ruff.toml) and the 2-space indentation check, over every Python file.
lint:
	$(TF2) -m ruff check .
	$(TF2) scripts/check_indent.py .

## Execute notebooks/lert_quickstart.ipynb headless in .venv-tf-latest (PyTorch cells: .venv-tf2).
notebook:
	mkdir -p notebook_output
	LERT_TORCH_PYTHON=$(CURDIR)/.venv-tf2/bin/python LERT_NOTEBOOK_OUTPUT=$(CURDIR)/notebook_output/work \
	  .venv-tf-latest/bin/python scripts/run_notebook.py notebooks/lert_quickstart.ipynb \
	  --output notebook_output/lert_quickstart.executed.ipynb

## Pretrain a small LERT on People's Daily 1998 + reviews and fine-tune it, offline (docs/demo-and-ablation.md).
demo:
	bash scripts/demo.sh

## The paper's ablation at small scale: MLM only vs LERT with jieba vs gold labels, then
## sentiment and NER over 3 seeds each (scripts/ablation.sh; table in docs/demo-and-ablation.md).
ablation:
	bash scripts/ablation.sh

## Benchmarks (print figures; docs/measured-figures.md says what each measures).
bench:
	bash bench/run_all.sh
