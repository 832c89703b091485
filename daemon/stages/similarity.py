"""Text similarity: alerts whose labels say little but whose words say the same thing.

Vectors are scikit-learn's ``HashingVectorizer`` (word 1-2-grams of the alertname split
into words plus the summary, no vocabulary to fit or store). Candidates come from
MinHash-LSH band keys over the hashed features, looked up like any group key, so an
alert is compared with a handful of incidents, never with all of them, and replicas
share the index through the store. A candidate joins only if the cosine of the two
vectors reaches the threshold.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

from daemon.correlation_settings import SimilaritySettings
from daemon.matchers import label_scope

_BANDS, _ROWS = 8, 2  # P(candidate) ~ 1-(1-J^2)^8: 0.5 at Jaccard 0.3, 0.92 at 0.6
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\$labels\.\w+|\$value")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20261127)  # fixed: every replica must compute the same keys
_A = _rng.integers(1, _PRIME, size=_BANDS * _ROWS, dtype=np.int64)
_B = _rng.integers(0, _PRIME, size=_BANDS * _ROWS, dtype=np.int64)


def alert_text(labels: Mapping[str, str], annotations: Mapping[str, str]) -> str:
    """What is compared: the alertname as words, then the summary without templates."""
    name = _CAMEL.sub(" ", labels.get("alertname", "")).replace("_", " ")
    summary = annotations.get("summary") or annotations.get("description") or ""
    return f"{name} {_TEMPLATE.sub(' ', summary)}"[:500].lower()


class Similarity:
    """Vectors, band keys and the join test of one configuration."""

    def __init__(self, settings: SimilaritySettings) -> None:
        self.settings = settings
        self._vectorizer = HashingVectorizer(
            n_features=2**18,
            ngram_range=(1, 2),
            alternate_sign=False,
            norm="l2",
            token_pattern=r"[a-z0-9]{2,}",
        )

    @property
    def enabled(self) -> bool:
        """Whether similarity takes part at all."""
        return self.settings.enabled

    def scope(self, labels: Mapping[str, str]) -> str:
        """Only alerts of one scope (cluster, namespace by default) are ever compared."""
        return label_scope(labels, self.settings.scope)

    def keys(self, labels: Mapping[str, str], text: str) -> list[str]:
        """LSH band keys: alerts with similar words share at least one with high probability."""
        indices = self._vectorizer.transform([text]).indices
        if len(indices) == 0:
            return []
        x = indices.astype(np.int64)[:, None]
        sig = ((x * _A[None, :] + _B[None, :]) % _PRIME).min(axis=0)
        scope = self.scope(labels)
        out = []
        for band in range(_BANDS):
            chunk = sig[band * _ROWS : (band + 1) * _ROWS].tobytes()
            out.append(f"sim:{scope}:{band}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
        return out

    def similar(self, a: str, b: str) -> float:
        """Cosine similarity of two texts' hashed vectors."""
        m = self._vectorizer.transform([a, b])
        return float((m[0].multiply(m[1])).sum())

    def joins(self, a: str, b: str) -> bool:
        """Whether two alert texts are close enough to be one incident."""
        return self.similar(a, b) >= self.settings.threshold
