# coding=utf-8
"""What the three fine-tuning families share.

Their names, the input settings that conversion and decoding read, the
readers' helpers (file and line in every error, counts to report), windows
over long inputs (span extraction and tagging), padding, and the pieces of a
head (the output layer, a masked mean loss).
"""

import collections
import io
import os

import tensorflow.compat.v1 as tf

from lert import errors
from lert import settings
import modeling

CLASSIFICATION = "classification"
SPAN = "span"
TAGGING = "tagging"

# What a family's conversion and decoding read from a run's settings.
InputSettings = collections.namedtuple(
    "InputSettings", ["max_seq_length", "doc_stride", "max_query_length",
                      "n_best_size", "max_answer_length"])

# The one setting span extraction and tagging share: both cut long inputs.
DOC_STRIDE = settings.Setting(
    "doc_stride", "integer", 128,
    "Inputs longer than one window are cut into overlapping windows that "
    "advance by this many tokens; each token is scored in the window where "
    "it has the most context.")


# ---------------------------------------------------------------------------
# Readers' helpers: bad input is a UserError naming the file and the line
# ---------------------------------------------------------------------------


def at(path, line_no=None):
  return "%s:%d" % (path, line_no) if line_no is not None else path


def new_stats(*names):
  return collections.OrderedDict((n, 0) for n in names)


def check_label(label, labels, path, line_no):
  if label not in labels:
    raise errors.UserError("%s: unknown label %r (expected one of %s)" %
                           (at(path, line_no), label, ", ".join(labels)))


def open_text(path, encoding="utf-8", newline="\n"):
  if not os.path.isfile(path):
    raise errors.UserError("%s: file not found" % path)
  # Lines end at "\n" only, so a stray "\r" inside a text stays in the text
  # (the csv module wants newline="" and handles "\r\n" itself).
  return io.open(path, "r", encoding=encoding, newline=newline)


# ---------------------------------------------------------------------------
# Windows over long inputs (shared by span extraction and tagging)
# ---------------------------------------------------------------------------


def make_windows(length, window, stride):
  """Splits range(length) into [(start, size)] windows advancing by `stride`.

  The last window ends at `length`; nothing is dropped. An empty input gives
  no windows.
  """
  if window <= 0:
    raise ValueError("window must be positive, got %d" % window)
  if stride <= 0:
    raise ValueError("stride must be positive, got %d" % stride)
  windows = []
  start = 0
  while start < length:
    size = min(window, length - start)
    windows.append((start, size))
    if start + size >= length:
      break
    start += min(size, stride)
  return windows


def best_window_per_position(length, windows):
  """For each position, the index of the window where it has most context.

  The score of a position in a window is min(left context, right context) plus
  0.01 * window size; ties go to the earlier window. Each position gets
  exactly one window, so overlapping windows score each position once.
  """
  best = [-1] * length
  best_score = [None] * length
  for w, (start, size) in enumerate(windows):
    for pos in range(start, start + size):
      score = min(pos - start, start + size - 1 - pos) + 0.01 * size
      if best_score[pos] is None or score > best_score[pos]:
        best_score[pos] = score
        best[pos] = w
  return best


def pad(values, length, value=0):
  return values + [value] * (length - len(values))


# ---------------------------------------------------------------------------
# Heads
# ---------------------------------------------------------------------------


def output_layer(inputs, units, bert_config, name):
  return modeling.dense(
      inputs, units, name=name,
      kernel_initializer=modeling.create_initializer(
          bert_config.initializer_range))


def masked_mean(per_item_loss, weights):
  weights = tf.cast(weights, tf.float32)
  return tf.reduce_sum(per_item_loss * weights) / (tf.reduce_sum(weights) +
                                                   1e-5)


def labels_present(examples, has_label):
  """True when every example has its gold answer (a split that can be scored)."""
  return all(has_label(ex) for ex in examples)
