# coding=utf-8
"""Lists a checkpoint's variables grouped as encoder / MLM / linguistic heads / other.

  python inspect_checkpoint.py --checkpoint chinese_lert_base/lert_model.ckpt
  python inspect_checkpoint.py --config configs/lert_config_small.json --summary

With `--config` no checkpoint is needed: the model graph is built (nothing is
initialised) and its variables are counted.

Groups (checkpoint_names.variable_group):
  encoder           bert/...: embeddings, Transformer layers and pooler
  MLM               cls/predictions/transform/... and cls/predictions/output_bias
                    (the MLM output weights are the tied word embeddings)
  linguistic heads  cls/predictions/output_{pos,ner,dep}_layer/...
  other             optimizer slots, global step, Google's NSP head, unknown names

"Transformer only" in the README's table (~15M / ~102M / ~325M for
small / base / large) is the encoder group: every `bert/` variable, word
embeddings and pooler included, pretraining heads excluded.  Exactly:
small 15,083,776, base 102,267,648, large 325,522,432.

The library behind it, which the converters share: lert.checkpoints.inventory
(groups and counts) and lert.checkpoints.tf_checkpoints (finding checkpoints).
"""

import sys
from lert import errors
from lert.checkpoints import inventory
import modeling
from lert import settings
from lert.checkpoints import tf_checkpoints


def main(argv=None):
  parser = settings.ArgumentParser(description=__doc__.split("\n")[0])
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument("--checkpoint",
                      help="checkpoint prefix, or a directory holding one")
  source.add_argument("--config",
                      help="model config JSON: count the model it describes")
  parser.add_argument("--summary", action="store_true",
                      help="only the per-group counts, not every variable")
  args = parser.parse_args(argv)
  if args.checkpoint:
    prefix = tf_checkpoints.find_checkpoint(args.checkpoint)
    shapes = tf_checkpoints.checkpoint_shapes(prefix)
    title = "checkpoint %s" % prefix
  else:
    shapes = inventory.model_variable_shapes(modeling.BertConfig.from_json_file(args.config))
    title = "model of %s (no checkpoint)" % args.config
  print(inventory.format_inventory(shapes, list_variables=not args.summary, title=title))
  return 0


if __name__ == "__main__":
  sys.exit(errors.call_main(main))
