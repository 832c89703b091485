"""A fitted word vectorizer's in-vocabulary n-grams of a text, without its analyzer.

Why: the prediction cache (``UrgencyModel._key``) keys each alert by the n-grams the
model can see. The text column carries the alert's own labels (host names, pod ids),
so nearly every new alert's text is new, and running scikit-learn's analyzer over it
(lowercase, a regex over the whole text, every n-gram joined and looked up) was a third
of the model's cost per new alert. Two facts make most of that work unnecessary:

- Tokenizing a text is tokenizing each of its space-separated pieces in turn, when the
  token pattern never matches a space; and the pieces repeat (a label pair, a word of a
  summary), so each is tokenized once and remembered.
- A token outside the vocabulary is in no n-gram of the vocabulary, when the vocabulary
  was pruned by ``min_df`` alone from candidates that include every token: an n-gram
  occurs in at most as many documents as each of its tokens. So such a token (a host
  name) only separates n-grams; it is replaced by a separator, and texts that differ
  only there share one computation.

Exact only when the analyzer is built that way: a space-free token pattern, no accent
stripping, stop words, custom tokenizer or preprocessor (``for_vectorizer`` returns
``None`` otherwise and the caller keeps the analyzer); without the pruning condition every
token is kept as it is. A property test compares the result with the analyzer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from itertools import chain
from typing import Any

from classifiers.generations import Generations

# Token patterns known never to match a space: scikit-learn's default, and whitespace-split.
SPACE_FREE_PATTERNS = frozenset({r"(?u)\b\w\w+\b", r"\S+"})
# Stands for a token outside the vocabulary; a real token is never empty.
SEPARATOR = ""
# Pieces (label pairs, words) and separated token sequences remembered, per generation.
PIECES = 16384
SEQUENCES = 4096


def for_vectorizer(vectorizer: Any) -> Callable[[str], tuple[str, ...]] | None:
    """The equivalent of ``vectorizer``'s analyzer filtered by its vocabulary, or None."""
    vocabulary = getattr(vectorizer, "vocabulary_", None)
    if vocabulary is None or not _plain_word_analyzer(vectorizer):
        return None
    low, high = vectorizer.ngram_range
    # Unigrams must be in the running too: with ngram_range (2, 3) no token is in the vocabulary.
    pruned_by_min_df_only = (
        low == 1
        and vectorizer.vocabulary is None
        and vectorizer.max_features is None
        and vectorizer.max_df == 1.0
    )
    return WordGrams(
        vocabulary,
        re.compile(vectorizer.token_pattern),
        lowercase=vectorizer.lowercase,
        ngram_range=(low, high),
        separate_unknown=pruned_by_min_df_only,
    )


def _plain_word_analyzer(v: Any) -> bool:
    return (
        getattr(v, "analyzer", None) == "word"
        and getattr(v, "input", None) == "content"
        and v.tokenizer is None
        and v.preprocessor is None
        and v.stop_words is None
        and v.strip_accents is None
        and v.token_pattern in SPACE_FREE_PATTERNS
    )


class WordGrams:
    """Sorted in-vocabulary n-grams of a text, as ``TfidfVectorizer``'s word analyzer makes them."""

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        pattern: re.Pattern[str],
        *,
        lowercase: bool,
        ngram_range: tuple[int, int],
        separate_unknown: bool,
    ) -> None:
        self._vocabulary = vocabulary
        self._pattern = pattern
        self._lowercase = lowercase
        self._low, self._high = ngram_range
        self._separate_unknown = separate_unknown
        self._pieces: Generations[str, tuple[str, ...]] = Generations(PIECES)
        self._sequences: Generations[tuple[str, ...], tuple[str, ...]] = Generations(SEQUENCES)

    def __call__(self, text: str) -> tuple[str, ...]:
        pieces = text.split(" ")
        # C-level lookups for the common case (every piece known); the rest one by one.
        parts = list(map(self._pieces.hot.get, pieces))
        if None in parts:
            for i, part in enumerate(parts):
                if part is None:
                    parts[i] = self._piece(pieces[i])
        sequence = tuple(chain.from_iterable(parts))  # type: ignore[arg-type]
        grams = self._sequences.get(sequence)
        if grams is None:
            grams = self._grams(sequence)
            self._sequences.put(sequence, grams)
        return grams

    def _piece(self, piece: str) -> tuple[str, ...]:
        found = self._pieces.get(piece)
        if found is None:
            tokens = self._pattern.findall(piece.lower() if self._lowercase else piece)
            if self._separate_unknown:
                vocabulary = self._vocabulary
                tokens = [t if t in vocabulary else SEPARATOR for t in tokens]
            found = tuple(tokens)
            self._pieces.put(piece, found)
        return found

    def _grams(self, tokens: tuple[str, ...]) -> tuple[str, ...]:
        vocabulary = self._vocabulary
        grams = [t for t in tokens if t in vocabulary] if self._low == 1 else []
        for n in range(max(2, self._low), self._high + 1):
            runs = zip(*(tokens[i:] for i in range(n)), strict=False)
            joined = (" ".join(run) for run in runs if SEPARATOR not in run)
            grams.extend(g for g in joined if g in vocabulary)
        return tuple(sorted(grams))
