# coding=utf-8
"""The fine-tuning driver shared by run_classifier.py, run_cmrc2018.py, run_ner.py.

Its settings (one table of settings.Setting rows shared by every family, plus
each family's own rows and defaults), the model_fn (BertModel plus the
family's head), and the run: read and convert the splits, train, evaluate
after every checkpoint and keep the best one, predict.

Evaluation runs the estimator's predict and scores in Python, so all three
families share one path and the CMRC / NER metrics are the exact ones.
"""

import collections
import json
import os
import random
import time

import tensorflow.compat.v1 as tf

import lert
from lert import errors
from lert import fileio
from lert import settings
from lert.checkpoints import tf_checkpoints
from lert.engine import estimators
from lert.engine import input_pipeline
from lert.engine import summaries
from lert.finetune import common
from lert.finetune import tagging
from lert.finetune import tasks
import modeling
import optimization
import tokenization

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

# The settings of every family's script but the runtime ones
# (settings.RUNTIME_SETTINGS); each family adds its own rows (`extra_settings`) and
# its defaults (`defaults`) for the rows whose default is None here.
SHARED_SETTINGS = (
    settings.Setting("task_name", "string", None, "Task to run."),
    settings.Setting(
        "data_dir", "string", None,
        "Local folder with the task's official files (e.g. .../chnsenticorp); "
        "output_dir may be remote (gs://) for TPUs."),
    settings.Setting("output_dir", "string", None,
                     "Checkpoints, TFRecords, predictions and results go here."),
    settings.Setting("bert_config_file", "string", None,
                     "Model config JSON (lert_config.json / bert_config.json)."),
    settings.Setting("vocab_file", "string", os.path.join(lert.REPO_DIR, "vocab.txt"),
                     "WordPiece vocabulary."),
    settings.Setting(
        "init_checkpoint", "string", None,
        "Pretrained (or fine-tuned) checkpoint prefix or directory; empty = "
        "random init."),
    settings.Setting("do_lower_case", "bool", True, "Lower-case the input (LERT: True)."),
    settings.Setting("max_seq_length", "integer", None,
                     "Tokens per input, [CLS] and [SEP] included."),
    settings.Setting("do_train", "bool", False, "Fine-tune on the train split."),
    settings.Setting(
        "do_eval", "bool", False,
        "Score the eval split (after every checkpoint when training) and keep "
        "the best checkpoint in output_dir/best."),
    settings.Setting(
        "do_predict", "bool", False,
        "Write predictions for the predict split (with the best checkpoint if "
        "one was kept)."),
    settings.Setting("train_split", "string", "train",
                     "Split for --do_train (e.g. OCNLI's train_10k)."),
    settings.Setting("eval_split", "string", "",
                     "Split for --do_eval; empty = the task's reporting split."),
    settings.Setting("predict_split", "string", "",
                     "Split for --do_predict; empty = the task's test split."),
    settings.Setting("train_batch_size", "integer", 32, "Global training batch size."),
    settings.Setting(
        "predict_batch_size", "integer", 32,
        "Batch size of evaluation and prediction (both run the model's "
        "predict)."),
    settings.Setting("learning_rate", "float", None, "Peak learning rate."),
    settings.Setting("num_train_epochs", "float", None,
                     "Training epochs over the features."),
    settings.Setting(
        "num_train_steps", "integer", 0,
        "If > 0: train exactly this many updates (overrides num_train_epochs)."),
    settings.Setting("warmup_proportion", "float", 0.1,
                     "Fraction of the updates with linear learning-rate warm-up."),
    settings.Setting("seed", "integer", 12345,
                     "Seed of initialisation, dropout and data shuffling."),
)


def settings_for(family):
  """The rows that `family`'s script has as flags: the shared ones, then its own."""
  return SHARED_SETTINGS + tuple(tasks.FAMILIES[family].extra_settings)


# Every row of every family, once: what a FinetuneConfig holds.
SETTINGS = SHARED_SETTINGS + tuple(collections.OrderedDict(
    (row.name, row) for family in tasks.FAMILIES.values()
    for row in family.extra_settings).values())
# Fine-tuning keeps fewer checkpoints than pretraining: the best is copied aside.
RUNTIME_DEFAULTS = {"keep_checkpoint_max": 3}


class FinetuneConfig(object):
  """Every setting of one run: SETTINGS with `family`'s defaults, plus `runtime`.

  Unknown names are an error.  Settings of other families keep their defaults
  (e.g. doc_stride for a classification run). `preserve_unused_tokens` is
  passed to the tokenizer (Google's flag of that name, see config_from_flags).
  """

  def __init__(self, family=None, runtime=None, preserve_unused_tokens=False, **values):
    settings.check_names(SETTINGS, values, "fine-tuning setting")
    if family not in tasks.FAMILIES:
      raise ValueError("family must be one of %s, got %r" %
                       (", ".join(tasks.FAMILIES), family))
    values = dict(tasks.FAMILIES[family].defaults, **values)
    self.__dict__.update(settings.complete(SETTINGS, values, "fine-tuning setting"))
    self.family = family
    self.preserve_unused_tokens = preserve_unused_tokens
    self.runtime = runtime if runtime is not None else settings.RuntimeConfig(
        **RUNTIME_DEFAULTS)

  def input_settings(self):
    """What the family's conversion and decoding read."""
    return common.InputSettings(self.max_seq_length, self.doc_stride,
                                self.max_query_length, self.n_best_size,
                                self.max_answer_length, self.span_recipe)


def make_tokenizer(config):
  """The run's tokenizer: the shared settings and the family's options."""
  options = tasks.FAMILIES[config.family].tokenizer_options(config.input_settings())
  return tokenization.FullTokenizer(
      config.vocab_file, config.do_lower_case,
      preserve_unused_tokens=config.preserve_unused_tokens, **options)


def define_flags(flag_values, family):
  """Defines the flags of one family's script: its rows and the runtime ones.

  Called when the script starts, not at import, so the scripts (and e.g.
  run_pretraining.py) can be imported together, each with its own defaults.
  """
  names = ", ".join(n for n, t in tasks.TASKS.items() if t.family == family)
  table = [row._replace(help="Task to run: %s." % names) if row.name == "task_name"
           else row for row in settings_for(family)]
  settings.define_flags(flag_values, table, defaults=tasks.FAMILIES[family].defaults)
  return settings.define_runtime_flags(flag_values, **RUNTIME_DEFAULTS)


def config_from_flags(flag_values, family):
  """FinetuneConfig from the parsed flags of one family's script."""
  values = settings.read_flags(flag_values, settings_for(family))
  # tokenization.py defines Google's --preserve_unused_tokens on absl's global flags,
  # so the scripts accept it; other FlagValues (tests) lack it.
  preserve = ("preserve_unused_tokens" in flag_values and
              flag_values["preserve_unused_tokens"].value)
  return FinetuneConfig(family, settings.runtime_from_flags(flag_values), preserve, **values)


# ---------------------------------------------------------------------------
# model_fn
# ---------------------------------------------------------------------------


def model_fn_builder(task, config, bert_config, init_checkpoint, steps,
                     head_layout=common.LERT_LAYOUT):
  """model_fn for TPUEstimator: BertModel plus the task family's head.

  `config` is the run's FinetuneConfig, `steps` its TrainingSteps,
  `init_checkpoint` the resolved checkpoint (or None) and `head_layout` the
  head's variable names (resolve_head_layout). Training returns the
  loss and train op; prediction returns the head's outputs keyed by
  unique_id (evaluation is prediction scored in Python).
  """
  family = tasks.FAMILIES[task.family]
  runtime = config.runtime

  def model_fn(features, labels, mode, params):
    del labels, params
    if mode == estimators.ModeKeys.EVAL:
      raise ValueError("fine-tuning evaluates through predict (see run())")
    if config.seed is not None:
      tf.set_random_seed(config.seed)
    is_training = mode == estimators.ModeKeys.TRAIN
    model = estimators.bert_from_features(bert_config, features, is_training,
                                          runtime.use_tpu)
    loss, predictions = family.head(task, bert_config, model, features,
                                    is_training, config.input_settings(), head_layout)
    scaffold_fn, _ = tf_checkpoints.init_from_checkpoint(init_checkpoint,
                                                         runtime.use_tpu)
    if is_training:
      train_op = optimization.create_optimizer(
          loss, config.learning_rate, steps.updates, steps.warmup, runtime.use_tpu,
          optimizer_name=runtime.optimizer, grad_accum_steps=runtime.grad_accum_steps,
          use_amp=runtime.use_amp)
      return estimators.ModelSpec(
          mode=mode, loss=loss, train_op=train_op, scaffold_fn=scaffold_fn)
    return estimators.ModelSpec(
        mode=mode, predictions=predictions, scaffold_fn=scaffold_fn)

  return model_fn


def build_estimator(task, config, bert_config, init_checkpoint, steps,
                    head_layout=common.LERT_LAYOUT):
  """The estimator of a run (model_fn_builder's arguments)."""
  return estimators.make_estimator(
      model_fn_builder(task, config, bert_config, init_checkpoint, steps, head_layout),
      config.output_dir, config.runtime,
      train_batch_size=config.train_batch_size,
      predict_batch_size=config.predict_batch_size)


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
      value = summaries.read_results(results).get(metric)
      if value is not None:
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
# The run
# ---------------------------------------------------------------------------


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
  if task.family in (common.SPAN, common.TAGGING) and config.doc_stride < 1:
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
    family = tasks.FAMILIES[task.family]
    self.split = split
    self.examples, read_stats = tasks.read_split(task, config.data_dir, split)
    self.features, records, conv_stats = family.convert(
        task, self.examples, tokenizer, config.input_settings(), is_training)
    tf.logging.info("%s %s features: %s", task.name, split,
                    ", ".join("%s=%s" % kv for kv in conv_stats.items()))
    report[split] = collections.OrderedDict(
        [("file", task.splits[split]), ("read", read_stats),
         ("features", conv_stats)])
    if not records:
      raise errors.UserError(
          "task %s: the %s split gave no features" % (task.name, split))
    if is_training:
      # The TFRecord shuffle buffer is small; files are often sorted by label.
      random.Random(config.seed).shuffle(records)
    elif config.runtime.use_tpu:
      records = _pad_records(records, config.predict_batch_size)
    self.path = os.path.join(config.output_dir, "%s.tf_record" % split)
    self.num_records = input_pipeline.write_examples(self.path, records,
                                                     family.record_type(is_training))
    self.spec = family.feature_spec(task, config.input_settings(), is_training)


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
    if not tasks.FAMILIES[task.family].is_labelled(eval_data.examples):
      # Found before any training rather than at the first evaluation.
      raise errors.UserError(
          "task %s: the %s split has no labels, so --do_eval cannot score it"
          % (task.name, eval_data.split))
  if config.do_predict:
    split = config.predict_split or task.predict_split
    if eval_data is not None and eval_data.split == split:
      predict_data = eval_data
    else:
      predict_data = _SplitData(task, config, tokenizer, split, False, report)
  with fileio.atomic_text(os.path.join(config.output_dir, "data_report.json")) as f:
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
  family = tasks.FAMILIES[task.family]
  out_dir = os.path.join(config.output_dir, data.split)
  tf.gfile.MakeDirs(out_dir)
  start = time.time()
  outputs = _predict(estimator, data, config, checkpoint_path)
  metrics = family.write_outputs(task, data.examples, data.features, outputs,
                                 config.input_settings(), out_dir)
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
  # read_splits refused an eval split without labels: there are metrics.
  metrics, out_dir = _score(task, estimator, data, config, checkpoint_path)
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


def _layouts_in(family, checkpoint):
  """The head layouts whose variables are all in `checkpoint`."""
  stored = set(name for name, _ in tf.train.list_variables(checkpoint))
  return [layout for layout in family.head_layouts()
          if all(name in stored for name in family.head_variables(layout))]


def resolve_head_layout(task, config, init_checkpoint):
  """The head's layout, and a refusal to score weights nobody trained.

  The run resumes from output_dir's latest checkpoint, else starts from
  `init_checkpoint`: that checkpoint's head decides the layout (--head_layout
  auto), or must agree with the one asked for. Evaluating or predicting
  without training needs that checkpoint to hold the task's head: a head
  initialised at random would give a number for weights nobody trained.
  """
  family = tasks.FAMILIES[task.family]
  wanted = config.head_layout
  if wanted == common.GOOGLE_LAYOUT and not family.google_head:
    raise errors.UserError("--head_layout=google: the %s head has no Google layout "
                           "(Google published no script for it)" % task.family)
  resume = tf.train.latest_checkpoint(config.output_dir)
  checkpoint, flag = ((resume, "--output_dir %s" % config.output_dir) if resume else
                      (init_checkpoint, "--init_checkpoint"))
  found = _layouts_in(family, checkpoint) if checkpoint else []
  if not found and not config.do_train:
    names = " and ".join("/".join(family.head_variables(layout))
                         for layout in family.head_layouts())
    if not checkpoint:
      raise errors.UserError(
          "--do_eval/--do_predict without --do_train need a fine-tuned checkpoint, but "
          "--output_dir %s holds none and no --init_checkpoint was given" %
          config.output_dir)
    raise errors.UserError(
        "%s %s has no trained %s head (no %s): --do_eval/--do_predict would score a "
        "randomly initialised head; pass a checkpoint fine-tuned for task %s, or add "
        "--do_train" % (flag, checkpoint, task.family, names, task.name))
  if not found:
    return common.LERT_LAYOUT if wanted == "auto" else wanted
  if wanted == "auto":
    return found[0]
  if wanted in found:
    return wanted
  raise errors.UserError(
      "--head_layout=%s, but %s %s holds the %s layout's head (%s); use --head_layout=%s "
      "or auto" % (wanted, flag, checkpoint, found[0],
                   ", ".join(family.head_variables(found[0])), found[0]))


def run(task, config):
  """Fine-tunes, evaluates and/or predicts `task` as `config` says.

  Returns a dict with what was measured: "eval" (last eval metrics), "best"
  (best eval metrics), "predict" (metrics of a labelled predict split), and
  "train" (updates, seconds, examples/s).
  """
  bert_config = modeling.BertConfig.from_json_file(config.bert_config_file)
  _check_config(task, config, bert_config)
  if task.family == common.TAGGING:
    task = task.with_labels(tagging.tag_labels(
        tagging.entity_types(task.labels), config.tag_scheme))
  tokenization.validate_case_matches_checkpoint(config.do_lower_case,
                                                config.init_checkpoint)
  tokenizer = make_tokenizer(config)
  # Every token id must have an embedding row; checked before any graph is built.
  modeling.check_config(bert_config, config.bert_config_file,
                        vocab_size=len(tokenizer.vocab))
  tf.gfile.MakeDirs(config.output_dir)
  init_checkpoint = tf_checkpoints.resolve_checkpoint(config.init_checkpoint)
  tf_checkpoints.check_model_fits(bert_config, config.bert_config_file, config.output_dir,
                                  init_checkpoint, with_heads=False)
  splits = read_splits(task, config, tokenizer)
  head_layout = resolve_head_layout(task, config, init_checkpoint)
  steps = training_steps(config, splits.train)
  estimator = build_estimator(task, config, bert_config, init_checkpoint, steps,
                              head_layout)
  keeper = BestCheckpointKeeper(config.output_dir,
                                tasks.FAMILIES[task.family].main_metric)

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
  return run(tasks.get_task(config.task_name, family), config)

