# coding=utf-8
"""Tests for tokenization.py (BERT FullTokenizer API with LERT's control rule)."""

import collections
import hashlib
import os
import random
import subprocess
import sys
import unicodedata

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
  sys.path.insert(0, REPO_ROOT)

import tokenization  # noqa: E402

VOCAB_FILE = os.path.join(REPO_ROOT, "vocab.txt")
VOCAB_SHA256 = "45bbac6b341c319adc98a532532882e91a9cefc0329aa57bac9ae761c27b291c"

LONG_WORD = "abc" * 70  # 210 characters: over BERT's 200-character limit
MEDIUM_WORD = "ab" * 75  # 150 characters: under BERT's limit, over HF's default 100

# Mixed text covering what a Chinese corpus throws at the tokenizer.
FIXTURE_LINES = [
    u"哈工大位于冰城哈尔滨。",
    u"數學是研究數量、結構、變化以及空間等概念的一門學科。",
    u"LERT 由 HFL（哈工大讯飞联合实验室）发布，Google BERT 的 vocab 共 21128 个词。",
    u"Hello World! THE quick brown Fox's jump-over, e.g. 3.14159 and $100^2 `code`",
    u"全角字符：ＡＢＣ１２３，ｈｅｌｌｏ！ＷＯＲＬＤ？",
    u"表情 😀😎🔥 emoji 👍🏽 and ❤️ here",
    u"控制\x00字符\u200b零宽\u00ad软连字符\ufeffBOM\x7fDEL\x01\x1f结束",
    u"café naïve Ångström résumé São Paulo Zürich coöperate",
    u"超长单词 " + LONG_WORD + u" 之后 " + MEDIUM_WORD,
    u"标点「引号」『书名』《论语》〈篇〉【注】——……·、；：？！（）〔〕",
    u"tab\there\nnewline\r\ncarriage\u3000ideographic\u00a0nbsp\u2028line\u2029para",
    u"日本語のテキスト、ｶﾀｶﾅ、한국어 텍스트",
    u"mixed中英文mixed123数字456ABC",
    u"https://zh.wikipedia.org/wiki?curid=13&title=数学#History",
    u"   leading and trailing spaces   ",
    u"",
    u"\x00\u200b\ufeff",
    u"U+FFFD \ufffd replacement and \ue000 private \U000F0000 use",
    u"Ｔｈｅ ＦＵＬＬ－ＷＩＤＴＨ ｌａｔｉｎ ｄｉｇｉｔｓ ０１２３４５６７８９",
    u"compat ideographs \uf900\uf9dc\ufa0e and ext-B \U00020000\U0002a6d6 rare",
    u"accents only \u0301\u0301 and combining a\u0301b\u0302c",
    u"İstanbul İİ DŽ ǅ ß ẞ ﬁ ﬀ ℌ K Å",
]


def make_tokenizer():
  return tokenization.FullTokenizer(VOCAB_FILE, do_lower_case=True)


def write_file(tmp_path, name, data):
  path = tmp_path / name
  path.write_bytes(data)
  return str(path)


# ---------------------------------------------------------------------------
# A literal, character-by-character implementation of the documented algorithm,
# used to check that the cached/translate-based fast paths change nothing.
# ---------------------------------------------------------------------------

def reference_basic_tokenize(text, do_lower_case=True):
  cleaned = []
  for char in text:
    category = unicodedata.category(char)
    if ord(char) in (0, 0xFFFD):
      continue
    if char not in "\t\n\r" and category.startswith("C"):
      continue
    cleaned.append(" " if (char in " \t\n\r" or category == "Zs") else char)
  padded = []
  for char in cleaned:
    if tokenization._is_chinese_char(ord(char)):
      padded.extend([" ", char, " "])
    else:
      padded.append(char)
  split_tokens = []
  for word in "".join(padded).split():
    if do_lower_case:
      word = word.lower()
      word = "".join(c for c in unicodedata.normalize("NFD", word)
                     if unicodedata.category(c) != "Mn")
    current = []
    for char in word:
      code = ord(char)
      is_punct = (33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96
                  or 123 <= code <= 126
                  or unicodedata.category(char).startswith("P"))
      if is_punct:
        if current:
          split_tokens.append("".join(current))
          current = []
        split_tokens.append(char)
      else:
        current.append(char)
    if current:
      split_tokens.append("".join(current))
  return " ".join(split_tokens).split()


def reference_wordpiece(token, vocab, max_chars=200):
  if len(token) > max_chars:
    return ["[UNK]"]
  pieces, start = [], 0
  while start < len(token):
    end = len(token)
    found = None
    while start < end:
      candidate = ("##" if start > 0 else "") + token[start:end]
      if candidate in vocab:
        found = candidate
        break
      end -= 1
    if found is None:
      return ["[UNK]"]
    pieces.append(found)
    start = end
  return pieces


def reference_full_tokenize(text, vocab):
  output = []
  for token in reference_basic_tokenize(text):
    output.extend(reference_wordpiece(token, vocab))
  return output


# Characters of every kind the pipeline distinguishes, for randomised comparisons.
RANDOM_POOL = (
    list(u"abcXYZ019 ,.!?-'$^`~_") + list(u"的中國学數\uf900\U00020001")
    + list(u"，。！？「」《》、：；（）—…·") + list(u"ＡＢＣ１２３ｘ")
    + list(u"éÉñÅçüößİΣσςΩ") + [u"\u0301", u"\u0308", u"\u0327"]
    + list(u"한국테ｶﾀ") + list(u"😀😎🔥👍\u2764\ufe0f")
    + [u"\x00", u"\x01", u"\x7f", u"\x85", u"\u200b", u"\u00ad", u"\ufeff", u"\ufffd",
       u"\ue000", u"\u0378", u"\t", u"\n", u"\r", u"\u3000", u"\u00a0", u"\u2028",
       u"\u1fef", u"\u037e", u"\u212a"]
)


def random_texts(count, seed, pool=RANDOM_POOL):
  rng = random.Random(seed)
  return [u"".join(rng.choice(pool) for _ in range(rng.randint(0, 40)))
          for _ in range(count)]


# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

def test_vocab_file_is_the_released_chinese_vocab():
  with open(VOCAB_FILE, "rb") as handle:
    assert hashlib.sha256(handle.read()).hexdigest() == VOCAB_SHA256
  vocab = tokenization.load_vocab(VOCAB_FILE)
  assert isinstance(vocab, collections.OrderedDict)
  assert len(vocab) == 21128
  expected = {"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103}
  assert {token: vocab[token] for token in expected} == expected
  assert list(vocab.items())[-1] == (u"##😎", 21127)
  assert list(vocab.values()) == list(range(21128))


def test_load_vocab_keeps_unicode_whitespace_tokens():
  vocab = tokenization.load_vocab(VOCAB_FILE)
  # Google's loader would strip these to "" and "##"; we keep the line as written.
  assert vocab[u"\u2028"] == 343
  assert vocab[u"##\u2028"] == 13502
  assert "" not in vocab and "##" not in vocab


def test_load_vocab_line_endings_bom_and_ascii_spaces(tmp_path):
  path = write_file(tmp_path, "v.txt", b"\xef\xbb\xbf[PAD]\r\n a \nb\t\n##c")
  vocab = tokenization.load_vocab(path)
  assert list(vocab.items()) == [("[PAD]", 0), ("a", 1), ("b", 2), ("##c", 3)]


@pytest.mark.parametrize("data, message", [
    (b"a\nb\na\n", r"v\.txt:3: token 'a' repeats line 1"),
    (b"a\n\xff\xfe\n", r"v\.txt:2: vocabulary line is not valid UTF-8"),
    (b"", r"v\.txt: vocabulary file is empty"),
])
def test_load_vocab_rejects_bad_files(tmp_path, data, message):
  path = write_file(tmp_path, "v.txt", data)
  with pytest.raises(ValueError, match=message):
    tokenization.load_vocab(path)


def test_load_vocab_missing_file_names_it(tmp_path):
  missing = str(tmp_path / "nope.txt")
  with pytest.raises(IOError, match="nope.txt"):
    tokenization.load_vocab(missing)


def test_reading_a_local_vocab_does_not_import_tensorflow():
  code = ("import sys; sys.path.insert(0, %r); import tokenization; "
          "t = tokenization.FullTokenizer(%r); t.tokenize('abc'); "
          "assert not any(m.startswith('tensorflow') for m in sys.modules), 'tf imported'"
          % (REPO_ROOT, VOCAB_FILE))
  subprocess.check_call([sys.executable, "-c", code])


def test_load_vocab_with_url_scheme_goes_through_tf_gfile(tmp_path):
  path = write_file(tmp_path, "v.txt", u"[PAD]\n中\n##😎\n".encode("utf-8"))
  # TensorFlow registers the "file" scheme, so this exercises the tf.io.gfile branch
  # exactly as gs:// would.
  vocab = tokenization.load_vocab("file://" + path)
  assert list(vocab.items()) == [("[PAD]", 0), (u"中", 1), (u"##😎", 2)]
  assert "tensorflow" in sys.modules


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def test_convert_to_unicode_and_printable_text():
  assert tokenization.convert_to_unicode(u"中文") == u"中文"
  assert tokenization.convert_to_unicode(u"中文".encode("utf-8")) == u"中文"
  # Invalid UTF-8 bytes are dropped, as in BERT.
  assert tokenization.convert_to_unicode(b"a\xffb") == u"ab"
  assert tokenization.printable_text(b"x\xe4\xb8\xad") == u"x中"
  with pytest.raises(ValueError, match="Unsupported string type: int"):
    tokenization.convert_to_unicode(5)


def test_convert_by_vocab_and_ids_round_trip():
  tokenizer = make_tokenizer()
  tokens = ["[CLS]", u"中", "##s", "[SEP]"]
  ids = tokenization.convert_tokens_to_ids(tokenizer.vocab, tokens)
  assert ids[0] == 101 and ids[-1] == 102
  assert tokenization.convert_ids_to_tokens(tokenizer.inv_vocab, ids) == tokens
  assert tokenizer.convert_tokens_to_ids(tokens) == ids
  assert tokenizer.convert_ids_to_tokens(ids) == tokens
  assert tokenization.convert_by_vocab({"a": 1}, ["a", "a"]) == [1, 1]
  with pytest.raises(KeyError, match="not-a-token"):
    tokenizer.convert_tokens_to_ids(["not-a-token"])
  with pytest.raises(KeyError, match="99999"):
    tokenizer.convert_ids_to_tokens([99999])


def test_whitespace_tokenize():
  assert tokenization.whitespace_tokenize(u"  a b\tc\n d  ") == ["a", "b", "c", "d"]
  assert tokenization.whitespace_tokenize(u"") == []
  assert tokenization.whitespace_tokenize(u" \n ") == []
  assert tokenization.whitespace_tokenize(u"x\u2028y\u3000z") == ["x", "y", "z"]


def test_is_whitespace():
  for char in u" \t\n\r\u3000\u00a0\u2003":
    assert tokenization._is_whitespace(char), repr(char)
  for char in u"a中\u200b\x00\u2028":
    assert not tokenization._is_whitespace(char), repr(char)


def test_is_control_uses_lerts_every_c_category_rule():
  # Cc, Cf: control in Google BERT too.
  for char in u"\x00\x01\x1f\x7f\x85\u200b\u00ad\ufeff\u200e":
    assert tokenization._is_control(char), repr(char)
  # Co (private use), Cn (unassigned), Cs (lone surrogate): control only under
  # LERT's rule: every Unicode "C*" category is a control character; Google's original
  # module kept them.
  for char in u"\ue000\U000F0000\u0378\ud800":
    assert tokenization._is_control(char), repr(char)
  for char in u"\t\n\r a中😀\u3000":
    assert not tokenization._is_control(char), repr(char)


def test_is_punctuation():
  for char in u"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~，。「」《》、…—·\u037e":
    assert tokenization._is_punctuation(char), repr(char)
  for char in u"aZ09 中😀￥\u1fef":
    assert not tokenization._is_punctuation(char), repr(char)


def test_is_chinese_char_ranges():
  for code in (0x4E00, 0x9FFF, 0x3400, 0x20000, 0x2A6DF, 0x2B740, 0xF900, 0x2FA1F):
    assert tokenization._is_chinese_char(code), hex(code)
  for code in (0x3041, 0xAC00, 0x3000, 0xFF01, 0x41, 0x2FA20):
    assert not tokenization._is_chinese_char(code), hex(code)


# ---------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------

def test_basic_tokenizer_lower_case():
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  assert basic.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
      "hello", "!", "how", "are", "you", "?"]
  assert basic.tokenize(u"Café naïve") == ["cafe", "naive"]
  assert basic.tokenize(u"中文abc，。") == [u"中", u"文", "abc", u"，", u"。"]
  assert basic.tokenize(u"a\x00b\u200bc d\ue000e") == ["abc", "de"]
  assert basic.tokenize(b"caf\xc3\xa9") == ["cafe"]


def test_basic_tokenizer_keeps_case_and_accents_without_lower_case():
  basic = tokenization.BasicTokenizer(do_lower_case=False)
  assert basic.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == [
      "HeLLo", "!", "how", "Are", "yoU", "?"]
  assert basic.tokenize(u"Café") == [u"Café"]


def test_wordpiece_tokenizer_greedy_longest_match():
  vocab = {token: index for index, token in enumerate(
      ["[UNK]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", "a", "##b"])}
  wordpiece = tokenization.WordpieceTokenizer(vocab=vocab)
  assert wordpiece.tokenize(u"") == []
  assert wordpiece.tokenize(u"unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
  assert wordpiece.tokenize(u"unwantedX running") == ["[UNK]", "runn", "##ing"]
  limited = tokenization.WordpieceTokenizer(vocab=vocab, max_input_chars_per_word=3)
  assert limited.tokenize(u"abb abbb") == ["a", "##b", "##b", "[UNK]"]
  custom_unk = tokenization.WordpieceTokenizer(vocab=vocab, unk_token="<unk>")
  assert custom_unk.tokenize(u"zzz") == ["<unk>"]


def test_full_tokenizer_attributes():
  tokenizer = make_tokenizer()
  assert isinstance(tokenizer.basic_tokenizer, tokenization.BasicTokenizer)
  assert isinstance(tokenizer.wordpiece_tokenizer, tokenization.WordpieceTokenizer)
  assert tokenizer.basic_tokenizer.do_lower_case is True
  assert tokenizer.wordpiece_tokenizer.vocab is tokenizer.vocab
  assert tokenizer.wordpiece_tokenizer.max_input_chars_per_word == 200
  assert tokenizer.inv_vocab[103] == "[MASK]"
  assert len(tokenizer.inv_vocab) == len(tokenizer.vocab)


def test_full_tokenizer_known_sentence():
  tokenizer = make_tokenizer()
  tokens = tokenizer.tokenize(u"哈工大位于冰城哈尔滨。LERT模型 unaffable")
  assert tokens == [u"哈", u"工", u"大", u"位", u"于", u"冰", u"城", u"哈", u"尔", u"滨",
                    u"。", "le", "##rt", u"模", u"型", "u", "##na", "##ff", "##able"]
  assert tokenizer.tokenize(u"中文".encode("utf-8")) == [u"中", u"文"]
  # Special tokens in running text are just punctuation plus a word, as in BERT.
  assert tokenizer.tokenize(u"[MASK]") == ["[", "ma", "##sk", "]"]


def test_full_tokenizer_long_words_become_unk():
  tokenizer = make_tokenizer()
  assert tokenizer.tokenize(LONG_WORD) == ["[UNK]"]
  # 200 characters is still allowed.
  assert "[UNK]" not in tokenizer.tokenize(u"ab" * 100)
  assert tokenizer.tokenize(u"a\u0301" * 201) == ["[UNK]"]  # counted after NFD + strip


def test_final_sigma_follows_bert_word_level_lower():
  # BERT lower-cases each whitespace word with str.lower(), which applies the
  # Greek final-sigma rule: word-final Σ -> ς. HF's slow tokenizer lower-cases the
  # text character by character first and gets σ; we follow BERT.
  tokenizer = make_tokenizer()
  assert tokenizer.tokenize(u"ΟΔΟΣ") == [u"ο", u"##δ", u"##ο", u"##ς"]
  assert tokenizer.tokenize(u"ΣΑ") == [u"σ", u"##α"]


def test_fixture_matches_reference_algorithm():
  tokenizer = make_tokenizer()
  basic_cased = tokenization.BasicTokenizer(do_lower_case=False)
  for line in FIXTURE_LINES:
    assert tokenizer.tokenize(line) == reference_full_tokenize(line, tokenizer.vocab), line
    assert basic_cased.tokenize(line) == reference_basic_tokenize(line, False), line


def test_random_text_matches_reference_algorithm():
  tokenizer = make_tokenizer()
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  for text in random_texts(400, seed=1234):
    expected = reference_full_tokenize(text, tokenizer.vocab)
    assert tokenizer.tokenize(text) == expected, repr(text)
    # A second pass is served from the word cache and must not change anything.
    assert tokenizer.tokenize(text) == expected, repr(text)
    assert tokenizer.tokenize_with_offsets(text)[0] == expected, repr(text)
    assert basic.tokenize(text) == reference_basic_tokenize(text), repr(text)


def test_word_cache_is_bounded():
  cache = tokenization._BoundedCache(limit=2)
  for key in "abc":
    cache.store(key, key.upper())
  assert len(cache) <= 2 and cache["c"] == "C"
  tokenizer = make_tokenizer()
  tokenizer._word_cache.limit = 3
  text = u"one two three four five six 中文"
  assert tokenizer.tokenize(text) == tokenizer.tokenize(text)
  assert len(tokenizer._word_cache) <= 3


# ---------------------------------------------------------------------------
# Offsets
# ---------------------------------------------------------------------------

def check_offsets(text, tokens, starts, ends):
  assert len(tokens) == len(starts) == len(ends)
  previous_start = 0
  for token, start, end in zip(tokens, starts, ends):
    assert 0 <= start < end <= len(text), (token, start, end)
    assert start >= previous_start, (token, start)
    previous_start = start
    # A span never starts or ends on a character the cleaner dropped or on a space.
    for char in (text[start], text[end - 1]):
      assert not tokenization._is_control(char) and not char.isspace(), repr(text)


def test_offsets_agree_with_tokenize_on_fixture():
  tokenizer = make_tokenizer()
  for line in FIXTURE_LINES:
    tokens, starts, ends = tokenizer.tokenize_with_offsets(line)
    assert tokens == tokenizer.tokenize(line), line
    check_offsets(line, tokens, starts, ends)
    basic_tokens, basic_starts, basic_ends = (
        tokenizer.basic_tokenizer.tokenize_with_offsets(line))
    assert basic_tokens == tokenizer.basic_tokenizer.tokenize(line), line
    check_offsets(line, basic_tokens, basic_starts, basic_ends)


def test_offsets_agree_with_tokenize_on_random_text():
  tokenizer = make_tokenizer()
  for text in random_texts(300, seed=99):
    tokens, starts, ends = tokenizer.tokenize_with_offsets(text)
    assert tokens == tokenizer.tokenize(text), repr(text)
    check_offsets(text, tokens, starts, ends)


def spans(tokenizer, text):
  tokens, starts, ends = tokenizer.tokenize_with_offsets(text)
  return [(token, text[start:end]) for token, start, end in zip(tokens, starts, ends)]


def test_offsets_exact_spans():
  tokenizer = make_tokenizer()
  assert spans(tokenizer, u"哈工大 LERT，Café！") == [
      (u"哈", u"哈"), (u"工", u"工"), (u"大", u"大"), ("le", "LE"), ("##rt", "RT"),
      (u"，", u"，"), ("cafe", u"Café"), (u"！", u"！")]
  # Control characters inside a word are skipped but stay inside the span.
  assert spans(tokenizer, u"\x00ab\u200bc\x00 中") == [("abc", u"ab\u200bc"), (u"中", u"中")]
  # A decomposed accent belongs to the letter before it.
  assert spans(tokenizer, u"e\u0301t\u00e9") == [("et", u"e\u0301t"), ("##e", u"\u00e9")]
  # [UNK] covers the whole punctuation-split word it replaces.
  text = u"x " + LONG_WORD + u"!"
  assert spans(tokenizer, text) == [("x", "x"), ("[UNK]", LONG_WORD), ("!", "!")]
  # Full-width letters map one to one.
  assert spans(tokenizer, u"ＡＢ") == [(u"ａ", u"Ａ"), (u"##ｂ", u"Ｂ")]
  # Offsets index the original string even after whitespace of every kind.
  tokens, starts, ends = tokenizer.tokenize_with_offsets(u"\t\u3000a\u2028b\r\n")
  assert (tokens, starts, ends) == (["a", "b"], [2, 4], [3, 5])
  assert tokenizer.tokenize_with_offsets(u"") == ([], [], [])


def test_offsets_when_one_character_becomes_several():
  tokenizer = make_tokenizer()
  # İ lower-cases to "i" + U+0307; the dot is stripped, so "is" spans "İs".
  tokens, starts, ends = tokenizer.tokenize_with_offsets(u"İs")
  assert tokens == tokenizer.tokenize(u"İs")
  assert (starts[0], ends[-1]) == (0, 2)
  # NFD splits a Hangul syllable into jamo; pieces inside it share its span.
  text = u"한"
  tokens, starts, ends = tokenizer.tokenize_with_offsets(text)
  assert len(tokens) > 1 and set(zip(starts, ends)) == {(0, 1)}


# ---------------------------------------------------------------------------
# Checkpoint case validation
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("checkpoint", [
    "/models/cased_L-12_H-768_A-12/bert_model.ckpt",
    "gs://bucket/multi_cased_L-12_H-768_A-12/bert_model.ckpt",
    "cased_L-24_H-1024_A-16/bert_model.ckpt",
])
def test_validate_case_rejects_lower_case_with_cased_checkpoint(checkpoint):
  with pytest.raises(ValueError, match="cased model"):
    tokenization.validate_case_matches_checkpoint(True, checkpoint)
  tokenization.validate_case_matches_checkpoint(False, checkpoint)


@pytest.mark.parametrize("checkpoint", [
    "/models/uncased_L-12_H-768_A-12/bert_model.ckpt",
    "/models/chinese_L-12_H-768_A-12/bert_model.ckpt",
    "/models/chinese_lert_base_L-12_H-768_A-12/bert_model.ckpt",
    "/models/chinese-lert-large/bert_model.ckpt",
    "/models/hfl/chinese-roberta-wwm-ext/model.ckpt-1000",
    "/models/chinese_roberta_wwm_large_ext_L-24_H-1024_A-16/bert_model.ckpt",
    "/models/chinese_macbert_base/chinese_macbert_base.ckpt",
    "/models/chinese-bert-wwm-ext/bert_model.ckpt",
])
def test_validate_case_rejects_cased_with_lower_cased_checkpoint(checkpoint):
  with pytest.raises(ValueError, match="lower-cased model"):
    tokenization.validate_case_matches_checkpoint(False, checkpoint)
  tokenization.validate_case_matches_checkpoint(True, checkpoint)


@pytest.mark.parametrize("checkpoint", [
    None, "", "/tmp/my_run/model.ckpt-500", "/tmp/cased_L-12_H-768_A-12_finetuned/x.ckpt"])
def test_validate_case_accepts_unknown_checkpoints(checkpoint):
  tokenization.validate_case_matches_checkpoint(True, checkpoint)
  tokenization.validate_case_matches_checkpoint(False, checkpoint)


# ---------------------------------------------------------------------------
# Agreement with HF transformers (installed in .venv-tf2 only)
# ---------------------------------------------------------------------------

def make_hf_tokenizer():
  transformers = pytest.importorskip("transformers")  # .venv-tf1 has no transformers
  hf = transformers.BertTokenizer(VOCAB_FILE, do_lower_case=True)
  # HF defaults to 100 characters per word; BERT (and LERT) use 200.
  hf.wordpiece_tokenizer.max_input_chars_per_word = 200
  return hf


def test_agrees_with_hf_bert_tokenizer_on_fixture():
  hf = make_hf_tokenizer()
  tokenizer = make_tokenizer()
  for line in FIXTURE_LINES:
    ours = tokenizer.tokenize(line)
    assert ours == hf.tokenize(line), line
    assert tokenizer.convert_tokens_to_ids(ours) == hf.convert_tokens_to_ids(ours), line
    assert hf.encode(line, add_special_tokens=False) == tokenizer.convert_tokens_to_ids(ours)


def test_agrees_with_hf_default_word_limit_below_100_chars():
  transformers = pytest.importorskip("transformers")
  hf_default = transformers.BertTokenizer(VOCAB_FILE, do_lower_case=True)
  tokenizer = make_tokenizer()
  # A 150-character word: HF's default limit of 100 gives [UNK], BERT's 200 does not.
  assert hf_default.tokenize(MEDIUM_WORD) == ["[UNK]"]
  assert "[UNK]" not in tokenizer.tokenize(MEDIUM_WORD)


def test_agrees_with_hf_on_random_text():
  hf = make_hf_tokenizer()
  tokenizer = make_tokenizer()
  # Upper-case Σ is left out: see test_final_sigma_follows_bert_word_level_lower.
  pool = [char for char in RANDOM_POOL if char != u"Σ"]
  for text in random_texts(300, seed=7, pool=pool):
    assert tokenizer.tokenize(text) == hf.tokenize(text), repr(text)
