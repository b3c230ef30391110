"""Near-duplicate detection: is this article a syndicated or lightly edited copy of that one?

Pure functions, no I/O; crawler/stories.py stores what they compute and asks the
database for candidates. Two stages, as in every large-scale near-duplicate system:

1. **Candidates by locality-sensitive hashing.** The body is reduced to words
   (case-folded, punctuation dropped, US/UK spellings folded to one form, see
   `canonical_word`) and to overlapping word `SHINGLE_WORDS`-grams. A MinHash
   signature of `NUM_PERM` values is computed over the shingles of the article's
   *lead* (its first `LEAD_WORDS` words), and cut into `BANDS` bands of `BAND_ROWS`
   values; each band is hashed to one signed 64-bit integer and stored in
   `story_bands`. Two articles whose lead shingles have Jaccard similarity J share at
   least one band with probability 1 - (1 - J**BAND_ROWS)**BANDS.

   Why the lead and not the whole body: outlets cut wire copy from the end, so a
   copy that keeps the first third of a long story has a whole-body Jaccard of about
   0.3 (which banding can't find without flooding the index with chance candidates),
   while its lead is intact. Edits that touch the lead (an intro sentence, an editor's
   note, a dateline) change a few dozen of its words, not most of them.

2. **Exact verification.** Candidates' bodies are loaded and compared shingle by
   shingle (`compare`): a copy merges when the shorter text is mostly contained in
   the longer one (`MIN_CONTAINMENT`), which holds for trimmed copies and for copies
   with an added intro, credit or note, and fails for two different articles that
   share one background paragraph or some leftover template text. Very short texts
   (feed summaries) carry too little evidence for containment: they merge only when
   essentially identical, or when wholly contained with the same headline.

The parameter values below were chosen by measurement on bench/dedup.py's labelled
syndication sets (`bench/dedup.py --sweep` reprints the numbers); the reasons are next
to each constant.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# Word 5-grams: with 3- or 4-grams two unrelated news texts share stock phrases ("said
# in a statement", "the United States and"), which lifts negatives' containment;
# longer grams make every edited word cost more shingles. 5 separated best (bench).
SHINGLE_WORDS = 5
# MinHash over the first LEAD_WORDS words of the body (see the module docstring).
LEAD_WORDS = 300
NUM_PERM = 64
BAND_ROWS = 4
BANDS = NUM_PERM // BAND_ROWS
# Verification: the share of the shorter text's shingles found in the longer one.
MIN_CONTAINMENT = 0.5
# Below this many words a text is "short" (a feed summary, a brief): see `compare`.
SHORT_WORDS = 40
# A short text merges when its shingles and the other's are this similar (Jaccard)...
SHORT_MIN_JACCARD = 0.8
# ...or when it is wholly contained (this much) and the headlines agree this much.
SHORT_MIN_CONTAINMENT = 0.9
SHORT_MIN_TITLE_SIMILARITY = 0.8

_WORD = re.compile(r"\w+")
_MASK64 = (1 << 64) - 1
_SEED = 0x6E657773  # "news": signatures are stored, so the hash functions must never change.

# --- words ------------------------------------------------------------------------

# British and American spellings of the same word fold to one form. Applied to both
# texts alike, so a rule that also folds two unrelated words (practise/practice) costs
# nothing: only equality after folding matters.
_IRREGULAR = {
    "aeroplane": "airplane", "aluminium": "aluminum", "amongst": "among", "cheque": "check",
    "cosy": "cozy", "draught": "draft", "enrol": "enroll", "fulfil": "fulfill", "grey": "gray",
    "jewellery": "jewelry", "kerb": "curb", "mum": "mom", "plough": "plow", "practise": "practice",
    "pyjamas": "pajamas", "sceptic": "skeptic", "sceptical": "skeptical", "skilful": "skillful",
    "storey": "story", "tyre": "tire", "tyres": "tires", "whilst": "while", "programme": "program",
    "programmes": "programs", "ageing": "aging", "judgement": "judgment", "artefact": "artifact",
    "mould": "mold", "moult": "molt", "smoulder": "smolder", "manoeuvre": "maneuver",
    "manoeuvres": "maneuvers", "percent": "per cent",
}
_RULES = [
    (re.compile(r"is(e|es|ed|ing|ation|ations|er|ers)$"), r"iz\1"),  # organise -> organize
    (re.compile(r"ys(e|es|ed|ing)$"), r"yz\1"),  # analyse -> analyze
    (re.compile(r"our(s|ed|ing|ite|ites|able|ful|er|ers)?$"), r"or\1"),  # colour -> color
    (re.compile(r"tre(s|d)?$"), r"ter\1"),  # centre -> center
    (re.compile(r"ll(ed|ing|er|ers|or|ors)$"), r"l\1"),  # travelled -> traveled
    (re.compile(r"ogue(s)?$"), r"og\1"),  # catalogue -> catalog
    (re.compile(r"ence(s)?$"), r"ense\1"),  # defence -> defense
    (re.compile(r"ae"), "e"),  # paediatric -> pediatric
    (re.compile(r"oe(?=[a-z])"), "e"),  # oestrogen -> estrogen
]


@lru_cache(maxsize=200_000)
def canonical_word(word: str) -> str:
    """One spelling for a (case-folded) word's British and American forms."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) < 5 or not word.isalpha():
        return word
    for pattern, replacement in _RULES:
        word = pattern.sub(replacement, word)
    return word


def words(text: str) -> list[str]:
    """The text's words, folded: case, Unicode compatibility forms, US/UK spelling."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    out: list[str] = []
    for word in _WORD.findall(folded):
        out.extend(canonical_word(word).split())
    return out


# --- shingles -----------------------------------------------------------------------


@lru_cache(maxsize=200_000)
def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised: every input bit affects every output bit."""
    values = values.copy()
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def shingles(word_list: list[str], size: int = SHINGLE_WORDS) -> np.ndarray:
    """The distinct word `size`-grams, as sorted 64-bit hashes (a text shorter than
    `size` words is one shingle)."""
    if not word_list:
        return np.empty(0, dtype=np.uint64)
    hashes = np.fromiter((_word_hash(w) for w in word_list), dtype=np.uint64,
                         count=len(word_list))
    count = max(len(word_list) - size + 1, 1)
    combined = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(min(size, len(word_list))):
            combined = _mix(combined ^ hashes[offset : offset + count])
    return np.unique(combined)


# --- MinHash signature and bands ----------------------------------------------------


def _permutations(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(_SEED)
    odd = rng.integers(0, 1 << 63, size=count, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    offsets = rng.integers(0, 1 << 63, size=count, dtype=np.uint64)
    return odd, offsets


_MULTIPLIERS, _OFFSETS = _permutations(NUM_PERM)
_CHUNK = 4096


def minhash(shingle_hashes: np.ndarray) -> np.ndarray:
    """`NUM_PERM` minima of multiply-shift hashes (a*x + b) >> 32 over the shingles.

    The shingles are already uniformly mixed 64-bit values, for which this 2-universal
    family is as good as random permutations in practice, and it is two vector ops.
    """
    signature = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for start in range(0, len(shingle_hashes), _CHUNK):
            chunk = shingle_hashes[start : start + _CHUNK, None]
            values = (chunk * _MULTIPLIERS + _OFFSETS) >> np.uint64(32)
            signature = np.minimum(signature, values.min(axis=0).astype(np.uint32))
    return signature


def band_hashes(signature: np.ndarray) -> list[int]:
    """One signed 64-bit hash per band of `BAND_ROWS` signature values (band index mixed
    in, so equal values in different bands don't collide)."""
    rows = signature.astype(np.uint64).reshape(BANDS, BAND_ROWS)
    with np.errstate(over="ignore"):
        combined = _mix(np.arange(BANDS, dtype=np.uint64) + np.uint64(_SEED))
        for column in range(BAND_ROWS):
            combined = _mix(combined ^ rows[:, column])
    return [int(value) for value in combined.view(np.int64)]


def signature_to_bytes(signature: np.ndarray) -> bytes:
    return signature.astype("<u4").tobytes()


def signature_from_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4").astype(np.uint32)


# --- fingerprints and verification --------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """What dedup knows about one text: its word count and shingles."""

    word_count: int
    shingles: np.ndarray
    summary: bool = False  # a feed's summary standing in for the article

    @property
    def is_short(self) -> bool:
        return self.summary or self.word_count < SHORT_WORDS


def fingerprint(text: str, summary: bool = False) -> Fingerprint:
    """The text's shingles; `summary` marks a feed summary, held to the short-text rule."""
    word_list = words(text)
    return Fingerprint(len(word_list), shingles(word_list), summary)


def lead_signature(text: str) -> np.ndarray | None:
    """The MinHash signature of the text's lead; None for a text with no words."""
    word_list = words(text)
    if not word_list:
        return None
    return minhash(shingles(word_list[:LEAD_WORDS]))


@dataclass(frozen=True)
class Similarity:
    jaccard: float
    containment: float  # of the shorter text's shingles in the longer one


def similarity(a: Fingerprint, b: Fingerprint) -> Similarity:
    if not len(a.shingles) or not len(b.shingles):
        return Similarity(0.0, 0.0)
    shared = len(np.intersect1d(a.shingles, b.shingles, assume_unique=True))
    union = len(a.shingles) + len(b.shingles) - shared
    return Similarity(shared / union, shared / min(len(a.shingles), len(b.shingles)))


def title_similarity(a: str, b: str) -> float:
    """Jaccard similarity of the headlines' folded word sets."""
    first, second = set(words(a)), set(words(b))
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def same_story(a: Fingerprint, b: Fingerprint, title_a: str = "", title_b: str = "") -> bool:
    """Whether two texts are copies of one article (the verification stage)."""
    return story_score(a, b, title_a, title_b) is not None


def story_score(a: Fingerprint, b: Fingerprint, title_a: str = "",
                title_b: str = "") -> float | None:
    """How surely `a` and `b` are one story (higher is surer), or None when they are not."""
    sim = similarity(a, b)
    if a.is_short or b.is_short:
        if sim.jaccard >= SHORT_MIN_JACCARD:
            return sim.containment
        if (sim.containment >= SHORT_MIN_CONTAINMENT
                and title_similarity(title_a, title_b) >= SHORT_MIN_TITLE_SIMILARITY):
            return sim.containment
        return None
    return sim.containment if sim.containment >= MIN_CONTAINMENT else None
