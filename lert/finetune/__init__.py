"""Fine-tuning on the paper's ten tasks, cut by task family as ELECTRA's finetune/.

- Families: `classification` (ChnSentiCorp, TNEWS, XNLI, LCQMC, BQ, OCNLI),
  `span` (CMRC 2018, DRCD) and `tagging` (MSRA-NER, People's Daily). Each
  holds its readers of the official files, feature conversion, head,
  decoding and metric, its own settings and defaults; `common` what they
  share (a task, `Task`; the protocol the driver calls, `Family`, that each
  family's class derives from; windows over long inputs, padding, the
  readers' helpers).
  `cmrc2018_metric` is the CMRC 2018 / DRCD metric (cmrc2018_evaluate.py at
  the root is its command).
- `tasks`: the registry of families and tasks; run_classifier.py,
  run_cmrc2018.py and run_ner.py each register theirs and call the driver.
- `driver`: the settings and flags, the model_fn, and the run.

The flow: official file -> reader (examples) -> conversion (features, a
TFRecord per split) -> BertModel + the family's head -> train, evaluate the
eval split after every checkpoint and keep the best in output_dir/best ->
predict -> decoding into the task's own prediction file -> metric.
"""
