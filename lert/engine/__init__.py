"""The training engine: what runs a model_fn, on any TensorFlow from 1.15 on.

A script builds a TPUEstimator-style model_fn and hands it, with its
settings.RuntimeConfig, to `estimators.make_estimator`, which picks the engine:
TPUEstimator (TPU, GPU, CPU), tf.estimator.Estimator under a tf.distribute
strategy, or `session_runner.Estimator` where TensorFlow has no tf.estimator
(2.16+). model_fns use `estimators.ModelSpec` / `ModeKeys` and never learn
which engine runs them.

Data flows in through `input_pipeline` (TFRecords written with the declared
record types, checked against the parsing spec, read by an input_fn); what a
run reports flows out through `summaries` (TensorBoard scalars, examples/sec,
results files). Warm starts come from lert.checkpoints.tf_checkpoints.
"""
