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


# A 2-layer, hidden-32 BERT over the real vocabulary: the scripts' tests train it in seconds.
TINY_BERT_CONFIG = {
    "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02,
    "intermediate_size": 64, "max_position_embeddings": 512,
    "num_attention_heads": 2, "num_hidden_layers": 2, "type_vocab_size": 2,
    "vocab_size": 21128}


# The one reader of `key = value` results files (eval_results.txt and the like).
from lert.engine.summaries import read_results  # noqa: E402,F401

# Sentences for a tiny raw corpus (repeated, they make a few pretraining instances).
TINY_CORPUS_TEXT = (u"哈工大位于冰城哈尔滨。北京是中国的首都，人民在这里生活和工作。"
                    u"今天天气很好，我们去公园散步。李明在上海的银行工作了三年。")
