# coding=utf-8
"""The fine-tuning layer shared by run_classifier.py, run_cmrc2018.py, run_ner.py.

- A task registry: a task is a name, a family, its split files and a reader
  (see `Task`); the scripts register their tasks in a few lines each.
- Three families, each with its features, TFRecord schema, head and
  evaluation: sequence classification (pooled output -> dense), span
  extraction (sequence output -> start/end logits) and token tagging (sequence
  output -> a tag per character).
- One model_fn builder, one driver (train; evaluate after every checkpoint and
  keep the best one; predict) and one flag block.

Evaluation runs the estimator's predict and scores in Python, so all three
families share one path and the CMRC / NER metrics are the exact ones.
"""

import collections
import io
import json
import os
import random
import time

from absl import flags
import tensorflow.compat.v1 as tf

import lert

import cmrc2018_evaluate
from lert import errors
from lert.engine import estimators
from lert.finetune import finetuning_data
from lert.engine import input_pipeline
import modeling
import optimization
from lert.records import record_schema
from lert import settings
from lert.engine import summaries
from lert.checkpoints import tf_checkpoints
import tokenization

CLASSIFICATION = "classification"
SPAN = "span"
TAGGING = "tagging"
FAMILIES = (CLASSIFICATION, SPAN, TAGGING)

_REPO_DIR = lert.REPO_DIR


# ---------------------------------------------------------------------------
# Task registry
# ---------------------------------------------------------------------------


class Task(object):
  """A fine-tuning task.

  Args:
    name: the --task_name value.
    family: CLASSIFICATION, SPAN or TAGGING.
    splits: {split name: file name inside --data_dir}, official names.
    reader: function(path) -> (examples, stats) (see finetuning_data); for
      tagging tasks function(path, labels), as --tag_scheme picks the labels.
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
  """Path of a split's official file; DataError if the split or file is missing."""
  if split not in task.splits:
    raise finetuning_data.DataError(
        "task %s has no split %r (splits: %s)" %
        (task.name, split, ", ".join(task.splits)))
  path = os.path.join(data_dir, task.splits[split])
  if not os.path.isfile(path):
    raise finetuning_data.DataError(
        "task %s: the %s split needs %s, which does not exist" %
        (task.name, split, path))
  return path


def read_split(task, data_dir, split):
  """(examples, stats) of one split, the stats logged."""
  path = split_path(task, data_dir, split)
  if task.family == TAGGING:
    examples, stats = task.reader(path, task.labels)
  else:
    examples, stats = task.reader(path)
  tf.logging.info("%s %s (%s): %s", task.name, split, path,
                  ", ".join("%s=%s" % kv for kv in stats.items()))
  return examples, stats


# ---------------------------------------------------------------------------
# Families: features, schema, head, outputs
# ---------------------------------------------------------------------------

InputSettings = collections.namedtuple(
    "InputSettings", ["max_seq_length", "doc_stride", "max_query_length",
                      "n_best_size", "max_answer_length"])


def _output_layer(inputs, units, bert_config, name):
  return modeling.dense(
      inputs, units, name=name,
      kernel_initializer=modeling.create_initializer(
          bert_config.initializer_range))


def _masked_mean(per_item_loss, weights):
  weights = tf.cast(weights, tf.float32)
  return tf.reduce_sum(per_item_loss * weights) / (tf.reduce_sum(weights) +
                                                   1e-5)


def _labels_present(examples, has_label):
  missing = sum(1 for ex in examples if not has_label(ex))
  return missing == 0


class ClassificationFamily(object):
  """[CLS] pooled output -> dropout -> dense(num_labels); accuracy."""

  name = CLASSIFICATION
  main_metric = "accuracy"

  def convert(self, task, examples, tokenizer, settings, is_training):
    del is_training
    features, stats = finetuning_data.convert_classification_examples(
        examples, task.labels, tokenizer, settings.max_seq_length)
    return features, features, stats

  def feature_spec(self, task, settings, is_training):
    del task, is_training
    return record_schema.CLASSIFICATION.tf_spec(
        max_seq_length=settings.max_seq_length)

  def head(self, task, bert_config, model, features, is_training):
    pooled = model.get_pooled_output()  # [B, H]
    if is_training:
      pooled = modeling.dropout(pooled, bert_config.hidden_dropout_prob)
    logits = _output_layer(pooled, len(task.labels), bert_config,
                           "finetune/classifier")  # [B, C]
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    labels = tf.reshape(features["label_ids"], [-1])  # [B]
    per_example = -tf.reduce_sum(
        tf.one_hot(labels, len(task.labels)) * log_probs, axis=-1)  # [B]
    loss = _masked_mean(per_example,
                        tf.reshape(features["is_real_example"], [-1]))
    predictions = {"unique_id": tf.reshape(features["unique_id"], [-1]),
                   "probabilities": tf.exp(log_probs)}
    return loss, predictions

  def write_outputs(self, task, examples, features, outputs, settings,
                    out_dir):
    del settings
    probs = [outputs[f["unique_id"][0]]["probabilities"] for f in features]
    predicted = [int(max(range(len(p)), key=lambda i: p[i])) for p in probs]
    with tf.gfile.GFile(os.path.join(out_dir, "predictions.tsv"), "w") as f:
      f.write("id\tlabel\tprobability\n")
      for ex, pred, p in zip(examples, predicted, probs):
        f.write("%s\t%s\t%.6f\n" % (ex.guid, task.labels[pred], p[pred]))
    if not _labels_present(examples, lambda ex: ex.label is not None):
      return None
    accuracy = finetuning_data.classification_accuracy(examples, predicted,
                                                       task.labels)
    return collections.OrderedDict([("accuracy", 100.0 * accuracy),
                                    ("examples", len(examples))])


class SpanFamily(object):
  """Sequence output -> dense(2) start/end logits; CMRC EM and F1."""

  name = SPAN
  main_metric = "F1"

  def convert(self, task, examples, tokenizer, settings, is_training):
    del task
    features, stats = finetuning_data.convert_span_examples(
        examples, tokenizer, settings.max_seq_length, settings.doc_stride,
        settings.max_query_length, is_training)
    return features, [f.to_record(is_training) for f in features], stats

  def feature_spec(self, task, settings, is_training):
    del task
    record_type = record_schema.SPAN_TRAINING if is_training else record_schema.SPAN
    return record_type.tf_spec(max_seq_length=settings.max_seq_length)

  def head(self, task, bert_config, model, features, is_training):
    del task
    sequence = model.get_sequence_output()  # [B, S, H]
    logits = _output_layer(sequence, 2, bert_config, "finetune/span")  # [B,S,2]
    start_logits, end_logits = tf.unstack(logits, axis=-1)  # [B, S] each
    predictions = {"unique_id": tf.reshape(features["unique_id"], [-1]),
                   "start_logits": start_logits, "end_logits": end_logits}
    if not is_training:
      return None, predictions
    seq_length = modeling.get_shape_list(sequence)[1]

    def position_loss(logits, positions):
      positions = tf.reshape(positions, [-1])  # [B]
      log_probs = tf.nn.log_softmax(logits, axis=-1)  # [B, S]
      return -tf.reduce_mean(tf.reduce_sum(
          tf.one_hot(positions, seq_length) * log_probs, axis=-1))

    loss = 0.5 * (position_loss(start_logits, features["start_positions"]) +
                  position_loss(end_logits, features["end_positions"]))
    return loss, predictions

  def write_outputs(self, task, examples, features, outputs, settings,
                    out_dir):
    del task
    results = dict((uid, (list(o["start_logits"]), list(o["end_logits"])))
                   for uid, o in outputs.items())
    predictions, nbest = finetuning_data.decode_spans(
        examples, features, results, settings.n_best_size,
        settings.max_answer_length)
    for name, obj in (("predictions.json", predictions),
                      ("nbest_predictions.json", nbest)):
      with tf.gfile.GFile(os.path.join(out_dir, name), "w") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
    if not _labels_present(examples, lambda ex: ex.answers):
      return None
    references = [(ex.qas_id, [a["text"] for a in ex.answers])
                  for ex in examples]
    scores = cmrc2018_evaluate.evaluate_references(references, predictions,
                                                   log=io.StringIO())
    return collections.OrderedDict(
        [("EM", scores["EM"]), ("F1", scores["F1"]),
         ("AVERAGE", scores["AVERAGE"]), ("TOTAL", scores["TOTAL"]),
         ("SKIP", scores["SKIP"])])


class TaggingFamily(object):
  """Sequence output -> dropout -> dense(num_labels) per character; entity F1."""

  name = TAGGING
  main_metric = "f1"

  def convert(self, task, examples, tokenizer, settings, is_training):
    del is_training
    features, stats = finetuning_data.convert_tagging_examples(
        examples, task.labels, tokenizer, settings.max_seq_length,
        settings.doc_stride)
    return features, [f.to_record() for f in features], stats

  def feature_spec(self, task, settings, is_training):
    del task, is_training
    return record_schema.TAGGING.tf_spec(max_seq_length=settings.max_seq_length)

  def head(self, task, bert_config, model, features, is_training):
    sequence = model.get_sequence_output()  # [B, S, H]
    if is_training:
      sequence = modeling.dropout(sequence, bert_config.hidden_dropout_prob)
    logits = _output_layer(sequence, len(task.labels), bert_config,
                           "finetune/tagger")  # [B, S, L]
    predictions = {"unique_id": tf.reshape(features["unique_id"], [-1]),
                   "tag_ids": tf.argmax(logits, axis=-1, output_type=tf.int32)}
    if not is_training:
      return None, predictions
    log_probs = tf.nn.log_softmax(logits, axis=-1)  # [B, S, L]
    per_token = -tf.reduce_sum(
        tf.one_hot(features["label_ids"], len(task.labels)) * log_probs,
        axis=-1)  # [B, S]
    # Only character positions count, not [CLS], [SEP] or padding.
    return _masked_mean(per_token, features["label_mask"]), predictions

  def write_outputs(self, task, examples, features, outputs, settings,
                    out_dir):
    del settings
    results = dict((uid, list(o["tag_ids"])) for uid, o in outputs.items())
    tags = finetuning_data.assemble_tag_predictions(examples, features,
                                                    results, task.labels)
    with tf.gfile.GFile(os.path.join(out_dir, "predictions.txt"), "w") as f:
      f.write(finetuning_data.format_char_tag_file(examples, tags))
    if not _labels_present(examples, lambda ex: ex.labels is not None):
      return None
    scores = finetuning_data.entity_f1([ex.labels for ex in examples], tags)
    metrics = collections.OrderedDict()
    for key in ("precision", "recall", "f1"):
      metrics[key] = 100.0 * scores[key]
    for key in ("gold", "predicted", "correct"):
      metrics["entities_" + key] = scores[key]
    for etype, s in scores["per_type"].items():
      metrics["f1_" + etype] = 100.0 * s["f1"]
    return metrics


FAMILY_IMPLS = {CLASSIFICATION: ClassificationFamily(), SPAN: SpanFamily(),
                TAGGING: TaggingFamily()}


# ---------------------------------------------------------------------------
# model_fn
# ---------------------------------------------------------------------------


def model_fn_builder(task, bert_config, init_checkpoint, learning_rate,
                     num_train_steps, num_warmup_steps, use_tpu,
                     use_one_hot_embeddings, optimizer_name="adamw",
                     grad_accum_steps=1, use_amp=False, seed=None):
  """model_fn for TPUEstimator: BertModel plus the task family's head.

  Training returns the loss and train op; prediction returns the head's
  outputs keyed by unique_id (evaluation is prediction scored in Python).
  """
  family = FAMILY_IMPLS[task.family]

  def model_fn(features, labels, mode, params):
    del labels, params
    if mode == estimators.ModeKeys.EVAL:
      raise ValueError("fine-tuning evaluates through predict (see run())")
    if seed is not None:
      tf.set_random_seed(seed)
    is_training = mode == estimators.ModeKeys.TRAIN
    model = estimators.bert_from_features(bert_config, features, is_training,
                                          use_one_hot_embeddings)
    loss, predictions = family.head(task, bert_config, model, features,
                                    is_training)
    scaffold_fn, _ = tf_checkpoints.init_from_checkpoint(init_checkpoint,
                                                         use_tpu)
    if is_training:
      train_op = optimization.create_optimizer(
          loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu,
          optimizer_name=optimizer_name, grad_accum_steps=grad_accum_steps,
          use_amp=use_amp)
      return estimators.ModelSpec(
          mode=mode, loss=loss, train_op=train_op, scaffold_fn=scaffold_fn)
    return estimators.ModelSpec(
        mode=mode, predictions=predictions, scaffold_fn=scaffold_fn)

  return model_fn


# ---------------------------------------------------------------------------
# Best checkpoint
# ---------------------------------------------------------------------------


def _write_results(path, metrics, extra=None):
  lines = dict(metrics)
  lines.update(extra or {})
  summaries.write_results(path, lines)


class BestCheckpointKeeper(object):
  """Keeps a copy of the checkpoint with the best dev metric.

  The copy lives in `<output_dir>/best/` (with the split's prediction files)
  and its scores in `<output_dir>/best_eval_results.txt`; the estimator's own
  checkpoint rotation can then delete the original.
  """

  def __init__(self, output_dir, metric):
    self.output_dir = output_dir
    self.metric = metric
    self.best_dir = os.path.join(output_dir, "best")
    self.best_value = None
    self.best_checkpoint = None
    results = os.path.join(output_dir, "best_eval_results.txt")
    latest = tf.train.latest_checkpoint(self.best_dir) if tf.gfile.IsDirectory(
        self.best_dir) else None
    if latest and tf.gfile.Exists(results):
      with tf.gfile.GFile(results) as f:
        for line in f:
          key, _, value = line.partition(" = ")
          if key == metric:
            self.best_value = float(value)
            self.best_checkpoint = latest

  def update(self, metrics, checkpoint_path, prediction_dir):
    """Keeps `checkpoint_path` if its metric beats the best so far."""
    value = metrics[self.metric]
    if self.best_value is not None and value <= self.best_value:
      return False
    if tf.gfile.IsDirectory(self.best_dir):
      tf.gfile.DeleteRecursively(self.best_dir)
    tf.gfile.MakeDirs(self.best_dir)
    name = os.path.basename(checkpoint_path)
    for src in tf.gfile.Glob(checkpoint_path + ".*"):
      tf.gfile.Copy(src, os.path.join(self.best_dir, os.path.basename(src)),
                    overwrite=True)
    tf.train.update_checkpoint_state(self.best_dir, name)
    for src in tf.gfile.ListDirectory(prediction_dir):
      tf.gfile.Copy(os.path.join(prediction_dir, src),
                    os.path.join(self.best_dir, src), overwrite=True)
    self.best_value = value
    self.best_checkpoint = os.path.join(self.best_dir, name)
    _write_results(os.path.join(self.output_dir, "best_eval_results.txt"),
                   metrics, {"checkpoint": self.best_checkpoint})
    tf.logging.info("New best %s = %.4f: kept %s", self.metric, value,
                    self.best_checkpoint)
    return True


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

# Every setting of a run but the runtime ones (settings.RUNTIME_SETTINGS): the
# scripts' flags are made from this table, so a setting has one name, one help
# text and one default per family (a dict {family: default} where they differ).
FinetuneSetting = collections.namedtuple(
    "FinetuneSetting", ["name", "kind", "default", "help", "families"])
FinetuneSetting.__doc__ = """A row of SETTINGS; `families` None means all."""

SETTINGS = [
    FinetuneSetting("task_name", "string", None, "Task to run.", None),
    FinetuneSetting(
        "data_dir", "string", None,
        "Local folder with the task's official files (e.g. .../chnsenticorp); "
        "output_dir may be remote (gs://) for TPUs.", None),
    FinetuneSetting("output_dir", "string", None,
                    "Checkpoints, TFRecords, predictions and results go here.", None),
    FinetuneSetting("bert_config_file", "string", None,
                    "Model config JSON (lert_config.json / bert_config.json).", None),
    FinetuneSetting("vocab_file", "string", os.path.join(_REPO_DIR, "vocab.txt"),
                    "WordPiece vocabulary.", None),
    FinetuneSetting(
        "init_checkpoint", "string", None,
        "Pretrained (or fine-tuned) checkpoint prefix or directory; empty = "
        "random init.", None),
    FinetuneSetting("do_lower_case", "bool", True, "Lower-case the input (LERT: True).",
                    None),
    FinetuneSetting("max_seq_length", "integer",
                    {CLASSIFICATION: 128, SPAN: 512, TAGGING: 256},
                    "Tokens per input, [CLS] and [SEP] included.", None),
    FinetuneSetting("do_train", "bool", False, "Fine-tune on the train split.", None),
    FinetuneSetting(
        "do_eval", "bool", False,
        "Score the eval split (after every checkpoint when training) and keep "
        "the best checkpoint in output_dir/best.", None),
    FinetuneSetting(
        "do_predict", "bool", False,
        "Write predictions for the predict split (with the best checkpoint if "
        "one was kept).", None),
    FinetuneSetting("train_split", "string", "train",
                    "Split for --do_train (e.g. OCNLI's train_10k).", None),
    FinetuneSetting("eval_split", "string", "",
                    "Split for --do_eval; empty = the task's reporting split.", None),
    FinetuneSetting("predict_split", "string", "",
                    "Split for --do_predict; empty = the task's test split.", None),
    FinetuneSetting("train_batch_size", "integer", 32, "Global training batch size.",
                    None),
    FinetuneSetting(
        "predict_batch_size", "integer", 32,
        "Batch size of evaluation and prediction (both run the model's "
        "predict).", None),
    FinetuneSetting("learning_rate", "float",
                    {CLASSIFICATION: 2e-5, SPAN: 3e-5, TAGGING: 3e-5},
                    "Peak learning rate.", None),
    FinetuneSetting("num_train_epochs", "float",
                    {CLASSIFICATION: 3.0, SPAN: 2.0, TAGGING: 3.0},
                    "Training epochs over the features.", None),
    FinetuneSetting(
        "num_train_steps", "integer", 0,
        "If > 0: train exactly this many updates (overrides num_train_epochs).", None),
    FinetuneSetting("warmup_proportion", "float", 0.1,
                    "Fraction of the updates with linear learning-rate warm-up.", None),
    FinetuneSetting("seed", "integer", 12345,
                    "Seed of initialisation, dropout and data shuffling.", None),
    FinetuneSetting(
        "doc_stride", "integer", 128,
        "Inputs longer than one window are cut into overlapping windows that "
        "advance by this many tokens; each token is scored in the window where "
        "it has the most context.", (SPAN, TAGGING)),
    FinetuneSetting(
        "tag_scheme", "enum:bio,bioes", "bio",
        "Tags of the files: bio (B-, I-, O) or bioes (adds E- for the last and "
        "S- for single-character entities).", (TAGGING,)),
    FinetuneSetting("max_query_length", "integer", 64, "Question tokens kept.", (SPAN,)),
    FinetuneSetting("n_best_size", "integer", 20,
                    "Candidate answers kept per question (nbest_predictions.json).",
                    (SPAN,)),
    FinetuneSetting("max_answer_length", "integer", 30, "Longest answer, in tokens.",
                    (SPAN,)),
]
# Fine-tuning keeps fewer checkpoints than pretraining: the best is copied aside.
RUNTIME_DEFAULTS = {"keep_checkpoint_max": 3}


def _with_defaults_of(family, rows):
  """settings.Setting rows of `rows` (SETTINGS rows) with `family`'s defaults."""
  return [settings.Setting(row.name, row.kind,
                           row.default[family] if isinstance(row.default, dict)
                           else row.default, row.help)
          for row in rows]


class FinetuneConfig(object):
  """Every setting of one run: SETTINGS with `family`'s defaults, plus `runtime`.

  Unknown names are an error.  Settings of other families keep their defaults
  (e.g. doc_stride for a classification run).
  """

  def __init__(self, family=None, runtime=None, **values):
    settings.check_names(SETTINGS, values, "fine-tuning setting")
    if family not in FAMILIES:
      raise ValueError("family must be one of %s, got %r" %
                       (", ".join(FAMILIES), family))
    self.__dict__.update(settings.complete(_with_defaults_of(family, SETTINGS),
                                           values, "fine-tuning setting"))
    self.family = family
    self.runtime = runtime if runtime is not None else settings.RuntimeConfig(
        **RUNTIME_DEFAULTS)


def settings_for(family):
  """The rows of SETTINGS that `family`'s scripts have as flags."""
  return [s for s in SETTINGS if s.families is None or family in s.families]


def define_flags(flag_values, family):
  """Defines the flags of one family's script: its SETTINGS rows and the runtime ones.

  Called when the script starts, not at import, so the scripts (and e.g.
  run_pretraining.py) can be imported together, each with its own defaults.
  """
  tasks = ", ".join(n for n, t in TASKS.items() if t.family == family)
  table = [row._replace(help="Task to run: %s." % tasks) if row.name == "task_name"
           else row for row in _with_defaults_of(family, settings_for(family))]
  settings.define_flags(flag_values, table)
  return settings.define_runtime_flags(flag_values, **RUNTIME_DEFAULTS)


def config_from_flags(flag_values, family):
  """FinetuneConfig from the parsed flags of one family's script."""
  values = dict((s.name, flag_values[s.name].value) for s in settings_for(family))
  return FinetuneConfig(family, settings.runtime_from_flags(flag_values), **values)


def _input_settings(config):
  return InputSettings(config.max_seq_length, config.doc_stride,
                       config.max_query_length, config.n_best_size,
                       config.max_answer_length)


def _check_config(task, config, bert_config):
  if config.family != task.family:
    raise ValueError("task %s is a %s task, the config is for %s" %
                     (task.name, task.family, config.family))
  if not (config.do_train or config.do_eval or config.do_predict):
    raise errors.UserError("At least one of --do_train, --do_eval, --do_predict "
                           "must be set.")
  for name in ("data_dir", "output_dir", "bert_config_file"):
    if not getattr(config, name):
      raise errors.UserError("--%s is required" % name)
  if config.max_seq_length > bert_config.max_position_embeddings:
    raise errors.UserError(
        "--max_seq_length %d exceeds max_position_embeddings %d of %s" %
        (config.max_seq_length, bert_config.max_position_embeddings,
         config.bert_config_file))
  if task.family in (SPAN, TAGGING) and config.doc_stride < 1:
    raise errors.UserError("--doc_stride must be positive")


def _pad_records(records, batch_size):
  """Fills the last batch with copies marked unique_id -1 (for TPUs)."""
  records = list(records)
  if records and len(records) % batch_size:
    filler = dict(records[-1])
    filler["unique_id"] = [-1]
    if "is_real_example" in filler:
      filler["is_real_example"] = [0]
    records += [filler] * (batch_size - len(records) % batch_size)
  return records


class _SplitData(object):
  """A split's examples, features and TFRecord file, converted once."""

  def __init__(self, task, config, tokenizer, split, is_training, report):
    family = FAMILY_IMPLS[task.family]
    self.split = split
    self.examples, read_stats = read_split(task, config.data_dir, split)
    self.features, records, conv_stats = family.convert(
        task, self.examples, tokenizer, _input_settings(config), is_training)
    tf.logging.info("%s %s features: %s", task.name, split,
                    ", ".join("%s=%s" % kv for kv in conv_stats.items()))
    report[split] = collections.OrderedDict(
        [("file", task.splits[split]), ("read", read_stats),
         ("features", conv_stats)])
    if not records:
      raise finetuning_data.DataError(
          "task %s: the %s split gave no features" % (task.name, split))
    if is_training:
      # The TFRecord shuffle buffer is small; files are often sorted by label.
      random.Random(config.seed).shuffle(records)
    elif config.runtime.use_tpu:
      records = _pad_records(records, config.predict_batch_size)
    self.path = os.path.join(config.output_dir, "%s.tf_record" % split)
    self.num_records = input_pipeline.write_examples(self.path, records)
    self.spec = family.feature_spec(task, _input_settings(config), is_training)


Splits = collections.namedtuple("Splits", ["train", "eval", "predict"])


def read_splits(task, config, tokenizer):
  """The splits the run needs, converted; writes output_dir/data_report.json.

  Every split is read before training, so a missing or malformed file fails
  first.  A split not needed is None.
  """
  report = collections.OrderedDict()
  train = eval_data = predict_data = None
  if config.do_train:
    train = _SplitData(task, config, tokenizer, config.train_split, True, report)
  if config.do_eval:
    eval_data = _SplitData(task, config, tokenizer,
                           config.eval_split or task.eval_split, False, report)
  if config.do_predict:
    split = config.predict_split or task.predict_split
    if eval_data is not None and eval_data.split == split:
      predict_data = eval_data
    else:
      predict_data = _SplitData(task, config, tokenizer, split, False, report)
  with tf.gfile.GFile(os.path.join(config.output_dir, "data_report.json"),
                      "w") as f:
    f.write(json.dumps(report, indent=2) + "\n")
  return Splits(train, eval_data, predict_data)


TrainingSteps = collections.namedtuple("TrainingSteps", ["updates", "warmup"])


def training_steps(config, train):
  """Updates and warm-up updates: num_train_steps, or epochs over `train`."""
  if train is None:
    return TrainingSteps(0, 0)
  updates = config.num_train_steps or max(1, int(
      train.num_records / config.train_batch_size * config.num_train_epochs))
  return TrainingSteps(updates, int(updates * config.warmup_proportion))


def build_estimator(task, config, bert_config, init_checkpoint, steps):
  runtime = config.runtime
  model_fn = model_fn_builder(
      task=task, bert_config=bert_config, init_checkpoint=init_checkpoint,
      learning_rate=config.learning_rate, num_train_steps=steps.updates,
      num_warmup_steps=steps.warmup, use_tpu=runtime.use_tpu,
      use_one_hot_embeddings=runtime.use_tpu, optimizer_name=runtime.optimizer,
      grad_accum_steps=runtime.grad_accum_steps, use_amp=runtime.use_amp,
      seed=config.seed)
  return estimators.make_estimator(
      model_fn, config.output_dir, runtime,
      train_batch_size=config.train_batch_size,
      predict_batch_size=config.predict_batch_size)


def _predict(estimator, data, config, checkpoint_path):
  """Runs the model over a split: {unique_id: prediction dict}."""
  input_fn = input_pipeline.tfrecord_input_fn_builder(
      [data.path], data.spec, is_training=False,
      drop_remainder=config.runtime.use_tpu)
  outputs = {}
  for p in estimator.predict(input_fn, checkpoint_path=checkpoint_path,
                             yield_single_examples=True):
    uid = int(p["unique_id"])
    if uid >= 0:
      outputs[uid] = p
  return outputs


def _score(task, estimator, data, config, checkpoint_path):
  """Predicts a split, writes its files under output_dir/<split>/, scores it."""
  family = FAMILY_IMPLS[task.family]
  out_dir = os.path.join(config.output_dir, data.split)
  tf.gfile.MakeDirs(out_dir)
  start = time.time()
  outputs = _predict(estimator, data, config, checkpoint_path)
  metrics = family.write_outputs(task, data.examples, data.features, outputs,
                                 _input_settings(config), out_dir)
  tf.logging.info("%s %s: %s (%.1fs)", task.name, data.split,
                  metrics if metrics is not None else "no labels, not scored",
                  time.time() - start)
  return metrics, out_dir


def _global_step(checkpoint_path):
  if not checkpoint_path:
    return 0
  return int(tf.train.load_variable(checkpoint_path, "global_step"))


def evaluate_checkpoint(task, estimator, data, config, keeper, checkpoint_path):
  """Scores the eval split at a checkpoint: eval_results.txt, the best kept."""
  metrics, out_dir = _score(task, estimator, data, config, checkpoint_path)
  if metrics is None:
    raise finetuning_data.DataError(
        "task %s: the %s split has no labels, so --do_eval cannot score it"
        % (task.name, data.split))
  _write_results(os.path.join(config.output_dir, "eval_results.txt"), metrics,
                 {"global_step": _global_step(checkpoint_path),
                  "checkpoint": checkpoint_path or "none"})
  if checkpoint_path:
    keeper.update(metrics, checkpoint_path, out_dir)
  return metrics


def checkpoint_stops(updates, save_checkpoints_steps, evaluate):
  """Global steps to train to, one after the other: each checkpoint when evaluating."""
  if not evaluate:
    return [updates]
  return list(range(save_checkpoints_steps, updates, save_checkpoints_steps)) + [updates]


def train_and_evaluate(task, estimator, splits, steps, config, keeper):
  """Trains to steps.updates, scoring the eval split (if any) at every checkpoint.

  Returns (train summary, metrics of the last evaluation or None); the train
  summary is also written to output_dir/train_results.txt.
  """
  runtime = config.runtime
  train = splits.train
  tf.logging.info("***** Training %s: %d features, batch %d, %d updates "
                  "(%d warm-up) *****", task.name, train.num_records,
                  config.train_batch_size, steps.updates, steps.warmup)
  input_fn = input_pipeline.tfrecord_input_fn_builder(
      [train.path], train.spec, is_training=True, drop_remainder=True,
      seed=config.seed)
  hook = summaries.ExamplesPerSecondHook(
      config.train_batch_size, runtime.log_step_count_steps, log=False)
  seconds = 0.0
  metrics = None
  first_step = _global_step(tf.train.latest_checkpoint(config.output_dir))
  for stop in checkpoint_stops(steps.updates, runtime.save_checkpoints_steps,
                               splits.eval is not None):
    if stop <= first_step:
      continue
    start = time.time()
    estimator.train(input_fn, max_steps=stop, hooks=[hook])
    seconds += time.time() - start
    if splits.eval is not None:
      metrics = evaluate_checkpoint(task, estimator, splits.eval, config, keeper,
                                    tf.train.latest_checkpoint(config.output_dir))
  updates_done = max(0, steps.updates - first_step)
  rates = [rate for _, rate in hook.history]
  summary = collections.OrderedDict([
      ("updates", updates_done), ("seconds", seconds),
      ("examples_per_second",
       sum(rates) / len(rates) if rates else
       (updates_done * config.train_batch_size / seconds if seconds else 0.0))])
  _write_results(os.path.join(config.output_dir, "train_results.txt"), summary)
  return summary, metrics


def predict_split(task, estimator, data, config, checkpoint):
  """Writes the predict split's files; its metrics when it has labels, else None."""
  metrics, _ = _score(task, estimator, data, config, checkpoint)
  if metrics is not None:
    _write_results(os.path.join(config.output_dir, "predict_results.txt"),
                   metrics, {"checkpoint": checkpoint or "none",
                             "split": data.split})
  return metrics


def run(task, config):
  """Fine-tunes, evaluates and/or predicts `task` as `config` says.

  Returns a dict with what was measured: "eval" (last eval metrics), "best"
  (best eval metrics), "predict" (metrics of a labelled predict split), and
  "train" (updates, seconds, examples/s).
  """
  bert_config = modeling.BertConfig.from_json_file(config.bert_config_file)
  _check_config(task, config, bert_config)
  if task.family == TAGGING:
    task = task.with_labels(finetuning_data.tag_labels(
        finetuning_data.entity_types(task.labels), config.tag_scheme))
  tokenization.validate_case_matches_checkpoint(config.do_lower_case,
                                                config.init_checkpoint)
  tokenizer = tokenization.FullTokenizer(config.vocab_file,
                                         config.do_lower_case)
  # Every token id must have an embedding row; checked before any graph is built.
  modeling.check_config(bert_config, config.bert_config_file,
                        vocab_size=len(tokenizer.vocab))
  tf.gfile.MakeDirs(config.output_dir)
  init_checkpoint = tf_checkpoints.resolve_checkpoint(config.init_checkpoint)
  splits = read_splits(task, config, tokenizer)
  steps = training_steps(config, splits.train)
  estimator = build_estimator(task, config, bert_config, init_checkpoint, steps)
  keeper = BestCheckpointKeeper(config.output_dir,
                                FAMILY_IMPLS[task.family].main_metric)

  summary = {}
  metrics = None
  if splits.train is not None:
    summary["train"], metrics = train_and_evaluate(task, estimator, splits, steps,
                                                   config, keeper)
  elif splits.eval is not None:
    metrics = evaluate_checkpoint(task, estimator, splits.eval, config, keeper,
                                  tf.train.latest_checkpoint(config.output_dir))
  if metrics is not None:
    summary["eval"] = metrics
  if keeper.best_value is not None:
    summary["best"] = {keeper.metric: keeper.best_value,
                       "checkpoint": keeper.best_checkpoint}
  if splits.predict is not None:
    metrics = predict_split(task, estimator, splits.predict, config,
                            keeper.best_checkpoint or
                            tf.train.latest_checkpoint(config.output_dir))
    if metrics is not None:
      summary["predict"] = metrics
  return summary


def main_for_family(family, flag_values):
  """Body of a run_*.py main(): flags -> FinetuneConfig -> run()."""
  tf.logging.set_verbosity(tf.logging.INFO)
  config = config_from_flags(flag_values, family)
  if not config.task_name:
    raise errors.UserError("--task_name is required")
  return run(get_task(config.task_name, family), config)


def run_script(family, main):
  """A run_*.py's entry point: defines the family's flags, then runs `main`.

  absl runs it; a user error, bad data included, ends the run with one
  `error:` line (errors.py).
  """
  define_flags(flags.FLAGS, family)

  def main_with_data_errors_reported(argv):
    try:
      return main(argv)
    except finetuning_data.DataError as e:
      # A data file that cannot be read (named in the message) is the
      # user's to fix, like every UserError.
      raise errors.UserError(str(e))

  errors.run_main(main_with_data_errors_reported)
