# coding=utf-8
"""The registry: the three families, and the tasks the scripts register.

A task is a name, a family, its split files and a reader (see `Task`);
run_classifier.py, run_cmrc2018.py and run_ner.py register theirs in a few
lines each, and the driver looks them up by --task_name.
"""

import collections
import os

import tensorflow.compat.v1 as tf

from lert import errors
from lert.finetune import classification
from lert.finetune import common
from lert.finetune import span
from lert.finetune import tagging

# Family name -> the family (its settings, conversion, head and outputs).
FAMILIES = collections.OrderedDict(
    (family.name, family) for family in (classification.ClassificationFamily(),
                                         span.SpanFamily(), tagging.TaggingFamily()))


class Task(object):
  """A fine-tuning task.

  Args:
    name: the --task_name value.
    family: common.CLASSIFICATION, common.SPAN or common.TAGGING.
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
    if family not in FAMILIES:
      raise ValueError("task %s: unknown family %r" % (name, family))
    if family != common.SPAN and not labels:
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


TASKS = collections.OrderedDict()


def register_task(task):
  """Adds `task` to TASKS (registering the same object twice is a no-op)."""
  if TASKS.get(task.name, task) is not task:
    raise ValueError("task %s is already registered" % task.name)
  TASKS[task.name] = task
  return task


def get_task(name, family=None):
  """The registered task `name` (of `family`, if given)."""
  names = [n for n, t in TASKS.items() if family in (None, t.family)]
  if name not in names:
    raise errors.UserError("unknown task %r (choose from: %s)" %
                           (name, ", ".join(names)))
  return TASKS[name]


def split_path(task, data_dir, split):
  """Path of a split's official file; UserError if the split or file is missing."""
  if split not in task.splits:
    raise errors.UserError(
        "task %s has no split %r (splits: %s)" %
        (task.name, split, ", ".join(task.splits)))
  path = os.path.join(data_dir, task.splits[split])
  if not os.path.isfile(path):
    raise errors.UserError(
        "task %s: the %s split needs %s, which does not exist" %
        (task.name, split, path))
  return path


def read_split(task, data_dir, split):
  """(examples, stats) of one split, the stats logged."""
  path = split_path(task, data_dir, split)
  if task.family == common.TAGGING:
    examples, stats = task.reader(path, task.labels)
  else:
    examples, stats = task.reader(path)
  tf.logging.info("%s %s (%s): %s", task.name, split, path,
                  ", ".join("%s=%s" % kv for kv in stats.items()))
  return examples, stats
