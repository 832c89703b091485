"""The piecewise n-grams are exactly the analyzer's, for every vectorizer they accept."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from classifiers.word_grams import WordGrams, for_vectorizer

POOL = [
    "disk", "Disk", "full", "api", "down", "label_instance", "label_instance_web_1", "ΑΣ", "σας",
    "İstanbul", "x", "node-exporter", "5xx", "p99", "latency", "high", "_", "a.b", "Σ", "ß",
]  # fmt: skip
ALPHABET = "abcd\u03a3\u03c3\u03c2\u0130\u0131\u00dfx_-.0129 \t\n"  # Greek sigmas, Turkish i
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n", " - ", ". "]


def _corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(POOL) for _ in range(rng.randint(1, 12))) for _ in range(60)]


VECTORIZERS = [
    TfidfVectorizer(ngram_range=(1, 2), min_df=2),
    TfidfVectorizer(ngram_range=(1, 1)),
    TfidfVectorizer(ngram_range=(2, 3), min_df=2),
    TfidfVectorizer(token_pattern=r"\S+", lowercase=False, min_df=2, ngram_range=(1, 2)),
    TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 3)),
    # Pruned by size too: a token outside the vocabulary may be inside one of its bigrams.
    TfidfVectorizer(ngram_range=(1, 2), max_features=15),
    TfidfVectorizer(ngram_range=(1, 2), max_df=0.3),
]
FITTED = [v.fit(_corpus(i)) for i, v in enumerate(VECTORIZERS)]

word = st.sampled_from(POOL) | st.text(ALPHABET, min_size=1, max_size=6)
texts = st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), max_size=16).map(
    lambda parts: "".join(w + s for w, s in parts)
)


def _expected(v: Any, text: str) -> tuple[str, ...]:
    analyze = v.build_analyzer()
    return tuple(sorted(g for g in analyze(text) if g in v.vocabulary_))


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8))
def test_equal_to_the_analyzer_filtered_by_the_vocabulary(batch: list[str]) -> None:
    for v in FITTED:
        grams = for_vectorizer(v)
        assert isinstance(grams, WordGrams)
        for text in batch:  # twice: the second answer comes from what the first remembered
            assert grams(text) == _expected(v, text), (v, text)
            assert grams(text) == _expected(v, text), (v, text)


def test_a_pruned_vocabulary_still_yields_grams_across_unknown_tokens_when_it_must() -> None:
    """max_features drops a frequent word's unigram but may keep its bigrams: it is no separator."""
    corpus = ["aa bb"] * 3 + ["aa cc", "dd bb"]
    v = TfidfVectorizer(ngram_range=(1, 2), max_df=0.7).fit(corpus)  # "aa" and "bb" are too frequent
    assert "aa" not in v.vocabulary_
    assert "aa bb" in v.vocabulary_
    grams = for_vectorizer(v)
    assert grams is not None
    assert grams("aa bb") == _expected(v, "aa bb") == ("aa bb",)


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)),
        TfidfVectorizer(stop_words="english"),
        TfidfVectorizer(token_pattern=r"[^,]+"),  # may match a space
        TfidfVectorizer(strip_accents="unicode"),
    ],
)
def test_other_analyzers_are_left_to_scikit_learn(vectorizer: TfidfVectorizer) -> None:
    assert for_vectorizer(vectorizer.fit(_corpus(0))) is None
