"""The pretraining data generator behind create_pretraining_data.py.

Data flow: `options` (the settings table, Options, their checks) -> `shard_jobs`
plans the shards once (the cache's manifest) and makes one Job per unfinished
shard, which `job_runner` runs in this process or in worker processes, or
`beam_pipeline` on an Apache Beam runner (--runner). A job
annotates: `corpus_reader` reads a shard's lines (UTF-8 checks, cleaning) and
groups them into documents (`preannotated` parses and groups the formats that
carry their own annotation), `annotators` label them (jieba, LTP, the input's
own), `annotation_cache` stores them as JSON lines. Then it builds:
`instance_builder` tokenizes, labels, cuts and masks instances, which
lert.records encodes into a TFRecord shard. Each stage counts into
`counters` (declared counters, a shard's statistics); `data_stats` sums them
and writes the sidecar `lert_data.json`; `output_merge` fills Google's
--output_file files; `progress` keeps the work directories (done markers,
leftovers, log). `annotation_types` (input formats, splitters, a sentence's
annotation) is what the stages pass each other; it imports none of them.
"""
