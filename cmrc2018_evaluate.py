"""The CMRC 2018 / DRCD evaluation command, with the official script's interface:

    python cmrc2018_evaluate.py DATA.json PREDICTIONS.json

prints one JSON line with AVERAGE, F1, EM (percentages, 3 decimals), TOTAL
(questions), SKIP (questions without a prediction) and FILE.

The metric itself is lert/finetune/cmrc2018_metric.py; its public functions
stay importable from here, as they were before it moved.
"""

import collections
import json
import sys

from lert import errors
from lert import fileio
from lert.finetune.cmrc2018_metric import (  # noqa: F401  (the public API, see above)
    PUNCTUATION, em_score, evaluate, evaluate_references, f1_score, longest_common_run,
    mixed_segmentation, references_from_dataset, remove_punctuation, split_sentences,
    treebank_tokenize, word_tokenize)


def format_result(result, prediction_file):
  """The official output line: scores as '%.3f' strings, counts as ints."""
  out = collections.OrderedDict()
  for key in ("AVERAGE", "F1", "EM"):
    out[key] = "%.3f" % result[key]
  out["TOTAL"] = result["TOTAL"]
  out["SKIP"] = result["SKIP"]
  out["FILE"] = prediction_file
  return json.dumps(out)


def _main(argv):
  argv = sys.argv[1:] if argv is None else argv
  if len(argv) != 2:
    raise errors.UserError("usage: python cmrc2018_evaluate.py DATA.json PREDICTIONS.json")
  data_file, prediction_file = argv
  dataset = fileio.read_json(data_file, "data file")
  predictions = fileio.read_json(prediction_file, "prediction file")
  result = evaluate(dataset, predictions, source=data_file,
                    prediction_source=prediction_file)
  print(format_result(result, prediction_file))
  return 0


def main(argv=None):
  """The command: prints the scores; a user error is one line and exit status 2."""
  return errors.call_main(_main, argv)


if __name__ == "__main__":
  sys.exit(main())
