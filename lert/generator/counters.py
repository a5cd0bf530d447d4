# coding=utf-8
"""What the generator's stages count: declared counters and one shard's statistics.

Each stage counts under the names declared here (a name that is not declared
is a bug, not a new key), per shard, into `.progress/<shard>.json`;
data_stats.py sums them into the sidecar and the report. A counter of bad
input keeps the file:line of its first few cases. A leaf module: the reader,
the parsers, the cache and the instance builder import it, not data_stats.
"""

import collections

# Up to this many file:line examples are kept per kind of bad input.
MAX_EXAMPLES = 5

# A counter: `examples` names its list of file:line cases (None: it has none),
# `always` keeps it in the statistics when 0, `problem` puts it in the report's
# list of bad input.
Counter = collections.namedtuple("Counter", ["name", "examples", "always", "problem"])


def _counter(name, examples=None, always=False, problem=False):
  return Counter(name, examples, always, problem)


ANNOTATION_COUNTERS = (
    _counter("input_bytes", always=True),
    _counter("documents"),
    _counter("sentences"),
    _counter("characters"),
    _counter("empty_input_files", "empty_input_files_examples", problem=True),
    _counter("bad_utf8_lines", "bad_utf8_examples", problem=True),
    _counter("chars_removed", problem=True),
    _counter("empty_documents", "empty_document_examples", problem=True),
    _counter("unterminated_documents", "unterminated_document_examples",
             problem=True),
    _counter("lines_outside_documents", "lines_outside_documents_examples",
             problem=True),
    _counter("sentences_dropped", "sentences_dropped_examples", problem=True),
    # Pre-annotated input: words that were only characters the tokenizer removes.
    _counter("words_emptied", "words_emptied_examples", problem=True),
)

BUILD_COUNTERS = (
    _counter("instances", always=True),
    _counter("tokens", always=True),
    _counter("masked_tokens", always=True),
    _counter("documents", always=True),
    _counter("sentences", always=True),
    _counter("sentences_split", problem=True),
    _counter("words_cut", problem=True),
    _counter("chars_without_token", problem=True),
    _counter("documents_without_tokens", always=True, problem=True),
    _counter("instances_without_masks", problem=True),
)


class ShardStatistics(object):
  """The counters of one stage on one shard, and tables of counts.

  Tables are nested {key: count} dicts: the annotator's own statistics, and
  the build stage's distributions.
  """

  def __init__(self, counters):
    self._counters = counters
    self.counts = {counter.name: 0 for counter in counters}
    self._examples_key = {counter.name: counter.examples for counter in counters}
    self.examples = {}
    self.tables = {}

  def add(self, name, amount=1, example=None):
    """Counts `amount` under the declared `name`, with a file:line `example`."""
    self.counts[name] += amount
    if example is not None:
      examples = self.examples.setdefault(self._examples_key[name], [])
      if len(examples) < MAX_EXAMPLES:
        examples.append(example)

  def add_tables(self, tables):
    add_counts(self.tables, tables)

  def to_dict(self):
    """JSON-ready: counters that are set (or always kept), examples, tables."""
    result = {counter.name: self.counts[counter.name] for counter in self._counters
              if counter.always or self.counts[counter.name]}
    result.update(self.examples)
    result.update(self.tables)
    return result


def annotation_statistics():
  return ShardStatistics(ANNOTATION_COUNTERS)


def add_counts(total, counts):
  """Adds nested dicts of numbers (and lists of examples) into `total`."""
  for key, value in counts.items():
    if isinstance(value, dict):
      add_counts(total.setdefault(key, {}), value)
    elif isinstance(value, list):
      examples = total.setdefault(key, [])
      examples.extend(value[:max(0, MAX_EXAMPLES - len(examples))])
    else:
      total[key] = total.get(key, 0) + value
  return total
