# coding=utf-8
"""The registry: the three families, and the tasks the scripts register.

A task is a name, a family, its split files and a reader (see common.Task);
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
