"""pytest set-up shared by every test: the repo root on sys.path, TF in graph mode."""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow.compat.v1 as tf  # noqa: E402

# The project's code is TF 1.x graph code; on TF 2 switch v2 behaviour off once.
tf.disable_v2_behavior()

# Under CI, a skip for want of a package this environment installs is a failure.
from require_installed import pytest_runtest_makereport  # noqa: E402,F401
