# coding=utf-8
"""LERT pretraining: MLM plus POS/NER/DEP heads under the LIP schedule.

Runs through TPUEstimator on TPU, GPU and CPU (and tf.distribute strategies for
several GPUs or machines).  Every flag of LERT's released `run.pretrain.sh`
keeps its name and meaning; the LIP end steps, the optimizer, gradient
accumulation, XLA, mixed precision, distribution and prediction are new.

  python run_pretraining.py --input_file=data/*.tfrecord --output_dir=out \
    --bert_config_file=lert_config.json --do_train --do_eval \
    --train_batch_size=1024 --max_seq_length=512 --max_predictions_per_seq=75 \
    --num_train_steps=2000000 --num_warmup_steps=10000 --learning_rate=1e-4

Resume versus warm start: if `output_dir` already holds a checkpoint, training
resumes from it (step, weights and optimizer state) and `init_checkpoint` is
ignored; otherwise `init_checkpoint` (a LERT or Google-BERT-family checkpoint)
initialises every variable it has under the same name and shape.
"""

import json
import os

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

import estimator_utils
import linguistics
import modeling
import optimization
import pretraining_data
import tokenization

FLAGS = flags.FLAGS

# Flags of the released run.pretrain.sh (names and meanings unchanged).
flags.DEFINE_string("bert_config_file", None, "Model config JSON (lert_config.json).")
flags.DEFINE_string("input_file", None,
                    "Comma-separated globs of TFRecords from create_pretraining_data.py.")
flags.DEFINE_string("output_dir", None, "Where checkpoints and results are written.")
flags.DEFINE_string("init_checkpoint", None,
                    "Warm start from a LERT or BERT-family checkpoint (prefix or dir).")
flags.DEFINE_integer("max_seq_length", 512, "Sequence length of the data.")
flags.DEFINE_integer("max_predictions_per_seq", 75, "Masked positions per sequence.")
flags.DEFINE_bool("do_train", False, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate every head on the input files.")
flags.DEFINE_bool("do_lower_case", True, "Lower-case text when predicting.")
flags.DEFINE_integer("train_batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 8, "Global evaluation batch size.")
flags.DEFINE_float("learning_rate", 1e-4, "Peak learning rate.")
flags.DEFINE_integer("num_train_steps", 100000, "Optimizer updates to train for.")
flags.DEFINE_integer("num_warmup_steps", 10000, "Linear warm-up updates.")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint every N updates.")
flags.DEFINE_integer("iterations_per_loop", 1000, "Steps per TPU loop.")
flags.DEFINE_integer("max_eval_steps", 100, "Maximum evaluation batches.")
flags.DEFINE_bool("use_tpu", False, "Run on a TPU.")
flags.DEFINE_string("tpu_name", None, "Cloud TPU name or grpc address.")
flags.DEFINE_string("tpu_zone", None, "GCE zone of the Cloud TPU.")
flags.DEFINE_string("gcp_project", None, "GCP project of the Cloud TPU.")
flags.DEFINE_string("master", None, "TensorFlow master URL.")
flags.DEFINE_integer("num_tpu_cores", 8, "TPU cores (8 for a v3-8).")

# New flags.
flags.DEFINE_integer("pos_end_step", linguistics.PAPER_LIP_END_STEPS["pos"],
                     "LIP: step at which the POS loss reaches full weight (0: from step 0).")
flags.DEFINE_integer("ner_end_step", linguistics.PAPER_LIP_END_STEPS["ner"],
                     "LIP: step at which the NER loss reaches full weight (0: from step 0).")
flags.DEFINE_integer("dep_end_step", linguistics.PAPER_LIP_END_STEPS["dep"],
                     "LIP: step at which the DEP loss reaches full weight (0: from step 0).")
flags.DEFINE_list("linguistic_tasks", list(linguistics.TASKS),
                  "Linguistic heads to train (empty: MLM only). Tasks the data's "
                  "sidecar marks unlabelled are switched off whatever this says.")
flags.DEFINE_string("data_sidecar", None,
                    "Sidecar JSON of the data (default: found beside the input files).")
flags.DEFINE_enum("optimizer", "adamw", ["adamw", "lamb"], "Optimizer.")
flags.DEFINE_integer("grad_accum_steps", 1,
                     "Micro-batches accumulated per update (train_batch_size is per micro-batch).")
flags.DEFINE_bool("use_xla", False, "XLA auto-clustering (jit).")
flags.DEFINE_bool("use_amp", False,
                  "Mixed precision: float16 with dynamic loss scaling on GPUs; "
                  "bfloat16 through oneDNN on CPUs (TF 2.9+).")
flags.DEFINE_enum("distribution", "none", list(estimator_utils.DISTRIBUTIONS),
                  "tf.distribute strategy for several GPUs (mirrored) or machines "
                  "(multi_worker, cluster from TF_CONFIG).")
flags.DEFINE_integer("num_gpus", 0, "GPUs for distribution=mirrored (0: all visible).")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept.")
flags.DEFINE_integer("inter_op_threads", None,
                     "Ops run side by side (default: 1 without a GPU, else TF's choice).")
flags.DEFINE_integer("intra_op_threads", 0, "Threads inside one op (0: all cores).")
flags.DEFINE_integer("log_step_count_steps", 100, "Log loss and examples/s every N steps.")
flags.DEFINE_bool("do_predict", False,
                  "Predict MLM top-k and POS/NER/DEP tags at masked positions.")
flags.DEFINE_string("predict_input_file", None,
                    "Text file: one sentence per line, with [MASK] where to predict "
                    "(or plain sentences with --mask_each_word).")
flags.DEFINE_string("predict_output_file", None,
                    "JSONL output (default: output_dir/predictions.jsonl).")
flags.DEFINE_bool("mask_each_word", False,
                  "Predict for plain sentences by masking each word in turn.")
flags.DEFINE_string("vocab_file", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "vocab.txt"), "Vocabulary for predict.")
flags.DEFINE_integer("predict_batch_size", 8, "Prediction batch size.")
flags.DEFINE_integer("top_k", 5, "MLM candidates per masked position in predictions.")


def lip_end_steps_from(pos_end_step, ner_end_step, dep_end_step):
  return {"pos": pos_end_step, "ner": ner_end_step, "dep": dep_end_step}


def model_fn_builder(bert_config, init_checkpoint, learning_rate, num_train_steps,
                     num_warmup_steps, use_tpu, use_one_hot_embeddings,
                     active_tasks, lip_end_steps, output_dir, optimizer_name="adamw",
                     grad_accum_steps=1, use_amp=False, top_k=5):
  """model_fn for TPUEstimator: LERT's pretraining graph.

  Args:
    active_tasks: linguistic tasks trained and evaluated; the others keep
      their variables (so checkpoints carry every head) but get no loss.
    lip_end_steps: dict task -> LIP end step.
  """
  active_tasks = tuple(t for t in linguistics.TASKS if t in active_tasks)

  def model_fn(features, labels, mode, params):
    del labels, params
    is_training = mode == tf.estimator.ModeKeys.TRAIN
    model = estimator_utils.bert_from_features(bert_config, features, is_training,
                                               use_one_hot_embeddings)
    predict = mode == tf.estimator.ModeKeys.PREDICT
    heads = linguistics.TASKS if predict else active_tasks
    logits = modeling.lert_pretraining_heads(
        bert_config, model.get_sequence_output(), model.get_embedding_table(),
        features["masked_lm_positions"], tasks=heads)

    tvars = tf.trainable_variables()
    scaffold_fn, _ = estimator_utils.init_from_checkpoint(init_checkpoint, use_tpu,
                                                         tvars)

    if predict:
      return tf.estimator.tpu.TPUEstimatorSpec(
          mode=mode, predictions=prediction_tensors(logits, features, top_k),
          scaffold_fn=scaffold_fn)

    weights = features["masked_lm_weights"]
    label_ids = {"mlm": features["masked_lm_ids"]}
    for task in active_tasks:
      label_ids[task] = features["%s_labels" % task]
    losses, per_position, log_probs = {}, {}, {}
    for head in ("mlm",) + active_tasks:
      losses[head], per_position[head], log_probs[head] = (
          modeling.masked_cross_entropy(logits[head], label_ids[head], weights))
    global_step = tf.train.get_or_create_global_step()
    lambdas = modeling.lip_weights(global_step,
                                   {t: lip_end_steps[t] for t in active_tasks})
    total_loss = losses["mlm"]
    for task in active_tasks:
      total_loss += lambdas[task] * losses[task]

    if is_training:
      train_op = optimization.create_optimizer(
          total_loss, learning_rate, num_train_steps, num_warmup_steps, use_tpu,
          optimizer_name=optimizer_name, grad_accum_steps=grad_accum_steps,
          use_amp=use_amp)
      scalars = {"loss/total": total_loss,
                 "learning_rate": optimization.learning_rate_schedule(
                     learning_rate, global_step, num_train_steps, num_warmup_steps)}
      for head, value in losses.items():
        scalars["loss/%s" % head] = value
      for task, value in lambdas.items():
        scalars["lambda/%s" % task] = value
      return tf.estimator.tpu.TPUEstimatorSpec(
          mode=mode, loss=total_loss, train_op=train_op,
          host_call=estimator_utils.scalar_host_call(output_dir, scalars, global_step),
          scaffold_fn=scaffold_fn)

    # Evaluation: loss and accuracy of every active head over masked positions.
    metric_heads = ("mlm",) + active_tasks

    def metric_fn(weights, *tensors):
      weights = tf.reshape(weights, [-1])
      metrics = {}
      for i, head in enumerate(metric_heads):
        head_losses, head_log_probs, head_labels = tensors[3 * i:3 * i + 3]
        predictions = tf.argmax(head_log_probs, axis=-1, output_type=tf.int32)
        metrics["%s_accuracy" % head] = tf.metrics.accuracy(
            labels=tf.reshape(head_labels, [-1]), predictions=predictions,
            weights=weights)
        metrics["%s_loss" % head] = tf.metrics.mean(
            values=head_losses, weights=weights)
      return metrics

    metric_tensors = [weights]
    for head in metric_heads:
      metric_tensors += [per_position[head], log_probs[head], label_ids[head]]
    return tf.estimator.tpu.TPUEstimatorSpec(
        mode=mode, loss=total_loss, eval_metrics=(metric_fn, metric_tensors),
        scaffold_fn=scaffold_fn)

  return model_fn


def prediction_tensors(logits, features, top_k):
  """MLM top-k and each linguistic head's best tag at every masked position."""
  batch_size, num_positions = modeling.get_shape_list(
      features["masked_lm_positions"], expected_rank=2)
  predictions = {"masked_lm_positions": features["masked_lm_positions"],
                 "masked_lm_weights": features["masked_lm_weights"],
                 "input_ids": features["input_ids"]}
  probs = tf.nn.softmax(logits["mlm"])
  top_probs, top_ids = tf.nn.top_k(probs, k=top_k)
  predictions["mlm_top_ids"] = tf.reshape(top_ids, [batch_size, num_positions, top_k])
  predictions["mlm_top_probs"] = tf.reshape(top_probs,
                                            [batch_size, num_positions, top_k])
  for task in linguistics.TASKS:
    task_probs = tf.nn.softmax(logits[task])
    predictions["%s_ids" % task] = tf.reshape(
        tf.argmax(task_probs, axis=-1, output_type=tf.int32),
        [batch_size, num_positions])
    predictions["%s_probs" % task] = tf.reshape(
        tf.reduce_max(task_probs, axis=-1), [batch_size, num_positions])
  return predictions


def resolve_active_tasks(requested, sidecar):
  """Tasks to train: those requested that the data labels. Logs what is off."""
  requested = [t.strip() for t in requested if t.strip()]
  unknown = [t for t in requested if t not in linguistics.TASKS]
  if unknown:
    raise ValueError("--linguistic_tasks: unknown task(s) %s (choose from %s)" %
                     (", ".join(unknown), ", ".join(linguistics.TASKS)))
  labelled = list(linguistics.TASKS)
  if sidecar is not None:
    labelled = list(sidecar.get("labelled_tasks", linguistics.TASKS))
  active, off = [], {}
  for task in linguistics.TASKS:
    if task not in requested:
      off[task] = "not requested (--linguistic_tasks)"
    elif task not in labelled:
      off[task] = "unlabelled in the data (annotator %s)" % (
          (sidecar or {}).get("annotator", "unknown"))
    else:
      active.append(task)
  for task, why in off.items():
    tf.logging.info("LIP: the %s head is off (weight 0): %s", task.upper(), why)
  return active, off


def main(_):
  tf.logging.set_verbosity(tf.logging.INFO)
  if not (FLAGS.do_train or FLAGS.do_eval or FLAGS.do_predict):
    raise ValueError("At least one of --do_train, --do_eval, --do_predict must be set.")
  for name in ("bert_config_file", "output_dir"):
    if not getattr(FLAGS, name):
      raise ValueError("--%s is required" % name)
  if (FLAGS.do_train or FLAGS.do_eval) and not FLAGS.input_file:
    raise ValueError("--input_file is required for --do_train / --do_eval")
  bert_config = modeling.BertConfig.from_json_file(FLAGS.bert_config_file)
  if FLAGS.max_seq_length > bert_config.max_position_embeddings:
    raise ValueError("--max_seq_length %d exceeds max_position_embeddings %d of %s" % (
        FLAGS.max_seq_length, bert_config.max_position_embeddings,
        FLAGS.bert_config_file))
  if FLAGS.grad_accum_steps < 1:
    raise ValueError("--grad_accum_steps must be at least 1")
  if FLAGS.grad_accum_steps > 1 and FLAGS.distribution != "none":
    # The accumulators live outside the strategy's replica aggregation.
    raise ValueError("--grad_accum_steps > 1 is not supported with --distribution=%s; "
                     "raise train_batch_size across replicas instead" % FLAGS.distribution)
  tf.gfile.MakeDirs(FLAGS.output_dir)

  init_checkpoint = estimator_utils.resolve_checkpoint(FLAGS.init_checkpoint)
  tokenization.validate_case_matches_checkpoint(FLAGS.do_lower_case, init_checkpoint)
  if init_checkpoint and tf.train.latest_checkpoint(FLAGS.output_dir):
    tf.logging.info("Resuming from %s; --init_checkpoint %s is ignored.",
                    tf.train.latest_checkpoint(FLAGS.output_dir), init_checkpoint)

  input_files, sidecar = [], None
  if FLAGS.input_file:
    input_files = estimator_utils.expand_input_files(FLAGS.input_file)
    sidecar = pretraining_data.load_sidecar(input_files, FLAGS.data_sidecar)
    pretraining_data.check_sidecar(sidecar, FLAGS.max_seq_length,
                                   FLAGS.max_predictions_per_seq)
  lip_end_steps = lip_end_steps_from(FLAGS.pos_end_step, FLAGS.ner_end_step,
                                     FLAGS.dep_end_step)
  active_tasks, off_tasks = list(linguistics.TASKS), {}
  if FLAGS.do_train or FLAGS.do_eval:
    active_tasks, off_tasks = resolve_active_tasks(FLAGS.linguistic_tasks, sidecar)
    tf.logging.info("LIP end steps: %s; active heads: %s", lip_end_steps,
                    ", ".join(active_tasks) or "none (MLM only)")

  model_fn = model_fn_builder(
      bert_config=bert_config,
      init_checkpoint=init_checkpoint,
      learning_rate=FLAGS.learning_rate,
      num_train_steps=FLAGS.num_train_steps,
      num_warmup_steps=FLAGS.num_warmup_steps,
      use_tpu=FLAGS.use_tpu,
      use_one_hot_embeddings=FLAGS.use_tpu,
      active_tasks=active_tasks,
      lip_end_steps=lip_end_steps,
      output_dir=FLAGS.output_dir,
      optimizer_name=FLAGS.optimizer,
      grad_accum_steps=FLAGS.grad_accum_steps,
      use_amp=FLAGS.use_amp,
      top_k=FLAGS.top_k)
  estimator = estimator_utils.make_estimator(
      model_fn=model_fn,
      output_dir=FLAGS.output_dir,
      use_tpu=FLAGS.use_tpu,
      tpu_name=FLAGS.tpu_name,
      tpu_zone=FLAGS.tpu_zone,
      gcp_project=FLAGS.gcp_project,
      master=FLAGS.master,
      num_tpu_cores=FLAGS.num_tpu_cores,
      iterations_per_loop=FLAGS.iterations_per_loop,
      save_checkpoints_steps=FLAGS.save_checkpoints_steps,
      keep_checkpoint_max=FLAGS.keep_checkpoint_max,
      use_xla=FLAGS.use_xla,
      train_batch_size=FLAGS.train_batch_size,
      eval_batch_size=FLAGS.eval_batch_size,
      predict_batch_size=FLAGS.predict_batch_size,
      distribution=FLAGS.distribution,
      num_gpus=FLAGS.num_gpus,
      log_step_count_steps=FLAGS.log_step_count_steps,
      inter_op_threads=FLAGS.inter_op_threads,
      intra_op_threads=FLAGS.intra_op_threads,
      use_amp=FLAGS.use_amp)

  name_to_features = pretraining_data.feature_spec(FLAGS.max_seq_length,
                                                   FLAGS.max_predictions_per_seq)
  if FLAGS.do_train:
    train_input_fn = estimator_utils.tfrecord_input_fn_builder(
        input_files, name_to_features, is_training=True, drop_remainder=True)
    hooks = [estimator_utils.ExamplesPerSecondHook(
        FLAGS.train_batch_size, FLAGS.log_step_count_steps, FLAGS.output_dir)]
    # The global step counts optimizer updates, also under gradient
    # accumulation, so max_steps and save_checkpoints_steps count updates.
    tf.logging.info("***** Training: batch %d x %d micro-batch(es), %d updates *****",
                    FLAGS.train_batch_size, FLAGS.grad_accum_steps,
                    FLAGS.num_train_steps)
    if FLAGS.distribution == "multi_worker":
      # Multi-worker Estimator training runs through train_and_evaluate.
      tf.estimator.train_and_evaluate(
          estimator,
          tf.estimator.TrainSpec(train_input_fn, max_steps=FLAGS.num_train_steps,
                                 hooks=hooks),
          tf.estimator.EvalSpec(train_input_fn, steps=1, throttle_secs=10 ** 9))
    else:
      estimator.train(input_fn=train_input_fn,
                      max_steps=FLAGS.num_train_steps, hooks=hooks)

  if FLAGS.do_eval:
    eval_input_fn = estimator_utils.tfrecord_input_fn_builder(
        input_files, name_to_features, is_training=False, drop_remainder=True)
    result = estimator.evaluate(input_fn=eval_input_fn, steps=FLAGS.max_eval_steps)
    for task, why in off_tasks.items():
      result["%s_head" % task] = "off (%s)" % why
    output_eval_file = os.path.join(FLAGS.output_dir, "eval_results.txt")
    estimator_utils.write_results(output_eval_file, result)
    tf.logging.info("***** Eval results (%s) *****", output_eval_file)
    for key in sorted(result):
      tf.logging.info("  %s = %s", key, result[key])

  if FLAGS.do_predict:
    run_predict(estimator, bert_config)


def run_predict(estimator, bert_config):
  """Writes MLM top-k and POS/NER/DEP tags at the masked positions as JSONL."""
  if not FLAGS.predict_input_file:
    raise ValueError("--do_predict needs --predict_input_file")
  tokenizer = tokenization.FullTokenizer(FLAGS.vocab_file, FLAGS.do_lower_case)
  if len(tokenizer.vocab) != bert_config.vocab_size:
    raise ValueError("%s has %d tokens but the config's vocab_size is %d" % (
        FLAGS.vocab_file, len(tokenizer.vocab), bert_config.vocab_size))
  instances = pretraining_data.read_prediction_instances(
      FLAGS.predict_input_file, tokenizer, FLAGS.max_seq_length,
      FLAGS.max_predictions_per_seq, FLAGS.mask_each_word)
  input_fn = pretraining_data.prediction_input_fn_builder(
      instances, FLAGS.max_seq_length, FLAGS.max_predictions_per_seq,
      pad_to_multiple=FLAGS.predict_batch_size if FLAGS.use_tpu else 1)
  output_file = FLAGS.predict_output_file or os.path.join(FLAGS.output_dir,
                                                          "predictions.jsonl")
  written = 0
  with tf.gfile.GFile(output_file, "w") as writer:
    for instance, result in zip(instances, estimator.predict(input_fn=input_fn,
                                                            yield_single_examples=True)):
      record = pretraining_data.format_prediction(instance, result, tokenizer)
      writer.write(json.dumps(record, ensure_ascii=False) + "\n")
      written += 1
  tf.logging.info("Wrote %d predictions to %s", written, output_file)


if __name__ == "__main__":
  app.run(main)
