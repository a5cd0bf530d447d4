"""The LERT toolkit's library; the commands at the repository root use it.

Layering (imports go down only): the root commands (`run_*.py`,
`create_pretraining_data.py`, the converters) use `lert.*` packages, which
use the Google-BERT-compatible base modules at the root (`modeling`,
`tokenization`, `optimization`); those use only `lert.errors`,
`lert.linguistics`, `lert.fileio` and `lert.settings` (TensorFlow-free modules that
use only `lert.errors`).
"""

import os

# The repository root: where vocab.txt and lert_config.json live.
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VOCAB_FILE = os.path.join(REPO_DIR, "vocab.txt")
