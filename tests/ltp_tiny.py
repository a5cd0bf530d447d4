# coding=utf-8
"""Builds a tiny, randomly initialised LTP 4 model directory that `ltp.LTP(dir)` loads.

The hub is unreachable here, so the `ltp` annotator is tested end to end with
this model: its labels are random, but they go through LTP's real code path
(tokenizer, backbone, CWS/POS/NER/DEP heads and decoders, Eisner) and through our
tag mapping. The directory holds what `ltp.nerual.LTP._from_pretrained` reads
from a local path (ltp 4.2.14):
  config.json        {"nerual": true, "vocabs": {...}, "model": {"_ltp_target_": ...}}
                     (the model section is instantiated by ltp_core's `instantiate`)
  pytorch_model.bin  the LTPModule's state dict
  vocab.txt          for the ELECTRA tokenizer (AutoTokenizer with the backbone config)

The label vocabularies are LTP's: POS includes `g` and `x` and DEP includes `IS`,
which LERT's inventories drop, and `favour_unmapped` raises their output biases
so that the mapping of tags outside the inventories is always exercised.

Usage: python tests/ltp_tiny.py OUTPUT_DIR [--vocab_file vocab.txt]
"""

import argparse
import json
import os
import shutil
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)

from lert import linguistics  # noqa: E402

# LTP's tag sets: LERT's inventories plus the tags LERT drops (LTP's 863 POS set has
# g and x, which LERT lacks; its dependency set has IS).
LTP_POS = list(linguistics.POS_LABELS[:-1]) + ["g", "x", "%"]
LTP_NER = list(linguistics.NER_LABELS)
LTP_DEP = list(linguistics.DEP_LABELS) + ["IS"]
LTP_CWS = ["I-W", "B-W"]


def tiny_config(vocab_size, hidden_size=32):
  """The config.json of a tiny LTP model (ELECTRA backbone, one layer)."""
  def token_head(num_labels):
    return {"_ltp_target_": "ltp_core.models.components.token.MLPTokenClassifier",
            "input_size": hidden_size, "num_labels": num_labels, "dropout": 0.0}
  return {
      "nerual": True,
      "vocabs": {"cws": LTP_CWS, "pos": LTP_POS, "ner": LTP_NER, "dep": LTP_DEP},
      "model": {
          "_ltp_target_": "ltp_core.models.ltp_model.LTPModule",
          "backbone": {
              "_ltp_target_": "ltp_core.models.utils.load_transformers",
              "config": {
                  "model_type": "electra", "vocab_size": vocab_size,
                  "embedding_size": hidden_size, "hidden_size": hidden_size,
                  "num_hidden_layers": 1, "num_attention_heads": 2,
                  "intermediate_size": 2 * hidden_size,
                  "max_position_embeddings": 512, "type_vocab_size": 2,
              },
          },
          "processor": {
              "cws": {"_ltp_target_": "ltp_core.models.processor.TokenOnly"},
              "pos": {"_ltp_target_": "ltp_core.models.processor.WordsOnly"},
              "ner": {"_ltp_target_": "ltp_core.models.processor.WordsOnly"},
              "dep": {"_ltp_target_": "ltp_core.models.processor.WordsWithHead"},
          },
          "heads": {
              "cws": token_head(len(LTP_CWS)),
              "pos": token_head(len(LTP_POS)),
              "ner": token_head(len(LTP_NER)),
              "dep": {"_ltp_target_": "ltp_core.models.components.graph.BiaffineClassifier",
                      "input_size": hidden_size, "num_labels": len(LTP_DEP),
                      "dropout": 0.0, "arc_hidden_size": 16, "rel_hidden_size": 16},
          },
      },
  }


def build_tiny_ltp(directory, vocab_file=None, seed=0, hidden_size=32,
                   favour_unmapped=1.0):
  """Writes a tiny random LTP model into `directory`; returns the directory."""
  import torch
  from ltp_core.models.utils import instantiate
  vocab_file = vocab_file or os.path.join(REPO_ROOT, "vocab.txt")
  with open(vocab_file, "rb") as handle:
    vocab_size = sum(1 for _ in handle)
  config = tiny_config(vocab_size, hidden_size)
  torch.manual_seed(seed)
  model = instantiate(config["model"])
  with torch.no_grad():
    # Word starts more often than not, so words are short and varied.
    model.task_heads["cws"].classifier[0].bias[LTP_CWS.index("B-W")] += 0.3
    for tag in ("g", "x"):
      model.task_heads["pos"].classifier[0].bias[LTP_POS.index(tag)] += favour_unmapped
    model.task_heads["dep"].rel_atten.weight[LTP_DEP.index("IS"), -1, -1] += (
        favour_unmapped)
  os.makedirs(directory, exist_ok=True)
  torch.save(model.state_dict(), os.path.join(directory, "pytorch_model.bin"))
  with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as handle:
    json.dump(config, handle, indent=1)
  shutil.copyfile(vocab_file, os.path.join(directory, "vocab.txt"))
  with open(os.path.join(directory, "tokenizer_config.json"), "w") as handle:
    json.dump({"do_lower_case": True, "model_max_length": 512}, handle)
  return directory


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("output_dir")
  parser.add_argument("--vocab_file", default=None)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  print(build_tiny_ltp(args.output_dir, args.vocab_file, args.seed))


if __name__ == "__main__":
  main()
