# coding=utf-8
"""What the three fine-tuning families share.

Their names, a task (`Task`), the protocol of a family that the driver calls
(`Family`), the input settings that conversion and decoding read, the
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
FAMILY_NAMES = (CLASSIFICATION, SPAN, TAGGING)

# What a family's tokenizer, conversion, head and decoding read from a run's
# settings (span_recipe: span extraction's, see span.py).
InputSettings = collections.namedtuple(
    "InputSettings", ["max_seq_length", "doc_stride", "max_query_length",
                      "n_best_size", "max_answer_length", "span_recipe"])
InputSettings.__new__.__defaults__ = ("hfl",)

# Variable names of a task head. LERT's: `<scope>/kernel` [H, C] and `<scope>/bias`;
# Google's: one weights matrix [C, H] used transposed and a bias, under the names
# of Google's run_classifier / run_squad (and HFL's CMRC 2018 baseline), so a
# checkpoint fine-tuned by those scripts is read, and one written with it is
# readable by them.
LERT_LAYOUT = "lert"
GOOGLE_LAYOUT = "google"
HEAD_LAYOUT = settings.Setting(
    "head_layout", "enum:auto,%s,%s" % (LERT_LAYOUT, GOOGLE_LAYOUT), "auto",
    "Variable names of the task head: lert (finetune/<head>/kernel [H, C] and bias) or "
    "google (output_weights [C, H] and output_bias of Google's run_classifier; "
    "cls/squad/output_weights and cls/squad/output_bias of run_squad and HFL's CMRC "
    "2018 baseline), so checkpoints pass between those scripts and these. auto: the "
    "layout of the checkpoint resumed (--output_dir) or loaded (--init_checkpoint), "
    "else lert.")

# The one setting span extraction and tagging share: both cut long inputs.
DOC_STRIDE = settings.Setting(
    "doc_stride", "integer", 128,
    "Inputs longer than one window are cut into overlapping windows that "
    "advance by this many tokens; each token is scored in the window where "
    "it has the most context.")


class Task(object):
  """A fine-tuning task.

  Args:
    name: the --task_name value.
    family: CLASSIFICATION, SPAN or TAGGING.
    splits: {split name: file name inside --data_dir}, official names.
    reader: function(path) -> (examples, stats) (the family module's
      readers); for tagging tasks function(path, labels), as --tag_scheme
      picks the labels.
    labels: label inventory (classification and tagging); ids index into it.
      Tagging tasks give their BIO inventory; its entity types make the BIOES
      one.
    eval_split: split scored by --do_eval (the paper's reporting split).
    predict_split: split written by --do_predict.
  """

  def __init__(self, name, family, splits, reader, labels=None,
               eval_split="dev", predict_split="test"):
    if family not in FAMILY_NAMES:
      raise ValueError("task %s: unknown family %r" % (name, family))
    if family != SPAN and not labels:
      raise ValueError("task %s: a %s task needs labels" % (name, family))
    for split in (eval_split, predict_split):
      if split not in splits:
        raise ValueError("task %s: split %r has no file" % (name, split))
    self.name = name
    self.family = family
    self.splits = collections.OrderedDict(splits)
    self.reader = reader
    self.labels = tuple(labels) if labels else None
    self.eval_split = eval_split
    self.predict_split = predict_split

  def with_labels(self, labels):
    """A copy of this task with another label inventory."""
    return Task(self.name, self.family, self.splits, self.reader, labels,
                self.eval_split, self.predict_split)


class Family(object):
  """A task family: what the driver calls to convert, model and score its tasks.

  `inputs` is the run's InputSettings; `task` a Task of this family.
  """

  name = None  # CLASSIFICATION, SPAN or TAGGING
  main_metric = None  # the metric that picks the best checkpoint
  extra_settings = ()  # settings.Setting rows beyond driver.SHARED_SETTINGS
  defaults = {}  # the family's defaults of driver.SHARED_SETTINGS rows
  head_scope = None  # variable scope of the head's output layer (LERT layout)
  google_head = None  # (weights, bias) names of Google's layout; None: there is none

  def head_layouts(self):
    """The layouts this family's head has: LERT's, and Google's where one exists."""
    return [LERT_LAYOUT] + ([GOOGLE_LAYOUT] if self.google_head else [])

  def head_variables(self, layout):
    """Names of the head's variables in `layout` (LERT_LAYOUT or GOOGLE_LAYOUT)."""
    if layout == GOOGLE_LAYOUT:
      return list(self.google_head)
    return [self.head_scope + "/kernel", self.head_scope + "/bias"]

  def tokenizer_options(self, inputs):
    """Keyword arguments of tokenization.FullTokenizer beyond the shared ones."""
    del inputs
    return {}

  def convert(self, task, examples, tokenizer, inputs, is_training):
    """(features, TFRecord records, stats) of a split's examples."""
    raise NotImplementedError()

  def record_type(self, is_training):
    """The record_schema.RecordType of the records `convert` gives."""
    raise NotImplementedError()

  def feature_spec(self, task, inputs, is_training):
    """The TFRecord parsing spec of those records."""
    del task
    return self.record_type(is_training).tf_spec(max_seq_length=inputs.max_seq_length)

  def head(self, task, bert_config, model, features, is_training, inputs, layout):
    """(loss or None when predicting, predictions keyed by unique_id).

    `layout` names the output layer's variables (output_layer)."""
    raise NotImplementedError()

  def is_labelled(self, examples):
    """True when every example has its gold label (a split that can be scored)."""
    raise NotImplementedError()

  def write_outputs(self, task, examples, features, outputs, inputs, out_dir):
    """Writes the split's prediction files; its metrics, or None without labels."""
    raise NotImplementedError()


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


def output_layer(inputs, units, bert_config, family, layout):
  """The head's dense layer [..., H] -> [..., units], its variables in `layout`."""
  initializer = modeling.create_initializer(bert_config.initializer_range)
  if layout != GOOGLE_LAYOUT:
    return modeling.dense(inputs, units, name=family.head_scope,
                          kernel_initializer=initializer)
  weights_name, bias_name = family.google_head
  width = modeling.get_shape_list(inputs)[-1]
  weights = tf.get_variable(weights_name, [units, width], initializer=initializer)
  bias = tf.get_variable(bias_name, [units], initializer=tf.zeros_initializer())
  output = tf.tensordot(inputs, weights, axes=[[-1], [1]])  # weights used transposed
  return tf.nn.bias_add(output, bias)


def masked_mean(per_item_loss, weights):
  weights = tf.cast(weights, tf.float32)
  return tf.reduce_sum(per_item_loss * weights) / (tf.reduce_sum(weights) +
                                                   1e-5)

