"""The urgency model: a scikit-learn Pipeline of built-ins, and the wrapper the daemon calls.

Pipeline (``build_pipeline``)::

    cols: ColumnTransformer
        name       TfidfVectorizer(words 1-2 grams)             alertname words, on their own
        name_char  TfidfVectorizer(char_wb 3-5 grams, min_df=2) alertname words, spelling variants
        text       TfidfVectorizer(words 1-2 grams, min_df=2)   name, summary, description, label tokens
        lexicon    TfidfVectorizer(tokens, no idf)              outage/strain/info/full word groups
        expr       TfidfVectorizer(whitespace tokens)           PromQL metrics, functions, comparison,
                                                                threshold bucket, absent(), up == 0
        log_num    log1p -> StandardScaler                      history counts
        num        StandardScaler                               threshold magnitude, has-threshold
    clf: LogisticRegression(C=1, class_weight=CLASS_WEIGHT)

Why this shape: chosen by cross-source macro-F1 and critical recall (train on two
catalogues, test on the third's unseen alertnames; ``classifiers.evaluate
--holdout-source``), never by in-sample fit. Schema 2 (lexicon groups, threshold
buckets, ``absent``/``up == 0`` tokens, name character n-grams, C 4 -> 1, info 2x)
moved the three hold-outs from 0.50/0.37/0.51 to 0.57/0.34/0.56 macro-F1 and
grouped CV from 0.615 to 0.637. Schema 3 leaves numbers out of the prose (live alerts
render sample values there): 0.573/0.343/0.555 and 0.641, the same within noise, and
instances of one rule now share one model input (see ``UrgencyModel._key``).
Measured and not kept, all within noise or worse (the info class has 7-25 hold-out
rows, so one hit moves macro-F1 by ~0.03):
calibrated LinearSVC (0.48 mean over hold-outs vs 0.46 baseline), HistGradientBoosting
on 200 SVD components (0.45, and no per-feature reasons), "balanced" weights without
the critical boost (same F1, lower critical recall), per-source or per-rule-group
sample weights (0.46/0.48: the near-duplicate catalogue is not what hurts), the rule
group name and ``for`` (absent from live alerts, so blanked at test time: 0.47 vs 0.49 without),
character n-grams of the prose (+0.01, 20k more columns). A linear model over sparse
text also explains itself (coefficient x feature value gives ``top_features``),
persists as plain arrays, and costs tens of microseconds per alert in a batch.
Class weights are "balanced" with critical 1.5x: critical recall rose 3-6 points on
every split for about 1 point of macro-F1.

Columns not used, on purpose: ``for`` (live Alertmanager alerts never carry it);
the ``severity`` label and the namespace/job/service/env slots (catalogue rules carry
none, so a learned weight would be noise, and a one-hot "none" that is constant in
training acts as a hidden intercept that shifts every live alert that has the label).
Training with severity absent means the sender's severity can never move the output.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from classifiers import word_grams
from classifiers.features import COLUMNS, EXPR_COLUMNS, HISTORY_KEYS, NONE, to_features
from classifiers.generations import Generations

CLASSES = ("critical", "warning", "info")
TOP_FEATURES = 5
# Predictions remembered by exact model input (see ``UrgencyModel._key``), per generation:
# new instances of a known rule (another host, another pod) are the bulk of new alerts.
PREDICTION_CACHE = 4096
# Raw column strings whose in-vocabulary analysis is remembered, per generation and column.
# The name, lexicon and expression columns repeat per rule and always hit; the text column
# (it carries the instance's labels) rarely does, so this stays small (~10 MiB at most).
ANALYSIS_CACHE = 4096
# "balanced" (inverse frequency over 1,964 deduplicated rules: 779 critical, 1,131 warning,
# 54 info) with critical weighted 1.5x more (a missed critical costs more than a false one)
# and info 2x more (otherwise almost never predicted on an unseen catalogue).
CLASS_WEIGHT = {"critical": 1.5 * 1964 / (3 * 779), "warning": 1964 / (3 * 1131), "info": 2 * 1964 / (3 * 54)}

_INDEX = {name: i for i, name in enumerate(COLUMNS)}


def features_matrix(rows: Sequence[Mapping[str, float | str]]) -> npt.NDArray[np.object_]:
    """Feature mappings -> one object array with the columns of ``COLUMNS``, as the pipeline expects.

    Why not pandas: it would be a dependency for one rectangular table.
    """
    table = np.empty((len(rows), len(COLUMNS)), dtype=object)
    for i, row in enumerate(rows):
        table[i] = [row[name] for name in COLUMNS]
    return table


def without_expr(x: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """A copy of ``x`` as if no PromQL were known (a live alert without a generatorURL).

    Training on these copies too keeps expression features from becoming an
    always-present baseline whose absence alone would shift a live prediction.
    """
    blank = x.copy()
    for name in EXPR_COLUMNS:
        blank[:, _INDEX[name]] = {"expr_tokens": "", "cmp_op": NONE}.get(name, 0.0)
    return blank


def build_pipeline(*, c: float = 1.0, seed: int = 0) -> Pipeline:
    """The untrained pipeline (see the module docstring for why each step)."""
    text = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float64)
    expr = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, min_df=2, sublinear_tf=True)
    # Character 3-5-grams of the name words: "crashlooping" shares "crash" with "crashed".
    name_char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True)
    # Lexicon groups are few and dense: counts, not rarity, carry the signal (no idf).
    lexicon = TfidfVectorizer(token_pattern=r"\S+", lowercase=False, sublinear_tf=True, use_idf=False)
    log_num = Pipeline(
        [
            ("log", FunctionTransformer(np.log1p, validate=True, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]
    )
    cols = ColumnTransformer(
        [
            ("name", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), _INDEX["name"]),
            ("name_char", name_char, _INDEX["name"]),
            ("text", text, _INDEX["text"]),
            ("lexicon", lexicon, _INDEX["lexicon"]),
            ("expr", expr, _INDEX["expr_tokens"]),
            ("log_num", log_num, [_INDEX[n] for n in HISTORY_KEYS]),
            ("num", StandardScaler(), [_INDEX["threshold_log10"], _INDEX["has_threshold"]]),
        ],
        remainder="drop",
        sparse_threshold=1.0,
    )
    clf = LogisticRegression(C=c, class_weight=CLASS_WEIGHT, max_iter=5000, random_state=seed)
    return Pipeline([("cols", cols), ("clf", clf)])


def feature_names(pipeline: Pipeline) -> list[str]:
    """Readable names of the transformed columns (``text:down``, ``cat:severity_none``...)."""
    cols: ColumnTransformer = pipeline.named_steps["cols"]
    names: list[str] = []
    for name, transformer, columns in cols.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        inputs = [COLUMNS[i] for i in np.atleast_1d(columns)]
        names.extend(f"{name}:{out}" for out in transformer.get_feature_names_out(inputs))
    return names


@dataclass(frozen=True)
class Prediction:
    """The model's urgency for one alert, why, and which model said so."""

    urgency: str
    probabilities: dict[str, float]
    top_features: tuple[tuple[str, float], ...]
    model_version: str


class UrgencyModel:
    """A fitted pipeline plus its card; ``predict`` works on whole batches for speed."""

    def __init__(self, pipeline: Pipeline, card: Mapping[str, Any]) -> None:
        """Wrap a fitted pipeline; the card supplies ``model_version``."""
        self.pipeline = pipeline
        self.card = dict(card)
        self.version = str(card.get("model_version", "untracked"))
        clf: LogisticRegression = pipeline.named_steps["clf"]
        self._classes = [str(c) for c in clf.classes_]
        coef = np.asarray(clf.coef_, dtype=np.float64)
        if coef.shape[0] == 1:  # binary: sklearn keeps one row, the positive class
            coef = np.vstack([-coef[0], coef[0]])
        self._coef = coef
        self._names = feature_names(pipeline)
        self._plan = _key_plan(pipeline.named_steps["cols"])
        self._known: Generations[tuple[Any, ...], Prediction] = Generations(PREDICTION_CACHE)
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def classes(self) -> list[str]:
        """Class labels in the order of the probability columns."""
        return list(self._classes)

    def predict(self, batch: Sequence[Mapping[str, Any]]) -> list[Prediction]:
        """Predict urgency for a batch of alert fields (as ``to_features`` reads them).

        Rows whose model input was seen before (exactly: see ``_key``) reuse that
        prediction; the rest get one transform and one matrix product for the batch,
        so per-alert cost in a batch of 100 is a small fraction of a single call's.
        """
        if not batch:
            return []
        rows = [to_features(fields) for fields in batch]
        keys = [self._key(row) for row in rows]
        found: dict[tuple[Any, ...], Prediction] = {}
        todo: dict[tuple[Any, ...], Mapping[str, float | str]] = {}
        for key, row in zip(keys, rows, strict=True):
            if key in found or key in todo:
                continue
            known = self._known.get(key)
            if known is None:
                todo[key] = row
            else:
                found[key] = known
        self.cache_misses += len(todo)
        self.cache_hits += len(rows) - len(todo)
        if todo:
            for key, prediction in zip(todo, self._predict_rows(list(todo.values())), strict=True):
                found[key] = prediction
                self._known.put(key, prediction)
        return [found[key] for key in keys]

    def _predict_rows(self, rows: Sequence[Mapping[str, float | str]]) -> list[Prediction]:
        table = features_matrix(rows)
        x = sparse.csr_matrix(self.pipeline.named_steps["cols"].transform(table))
        proba = self.pipeline.named_steps["clf"].predict_proba(x)
        best = proba.argmax(axis=1)
        results = []
        for i, k in enumerate(best):
            probabilities = {c: round(float(p), 4) for c, p in zip(self._classes, proba[i], strict=True)}
            results.append(
                Prediction(
                    urgency=self._classes[k],
                    probabilities=probabilities,
                    top_features=self._top_features(x, i, int(k)),
                    model_version=self.version,
                )
            )
        return results

    def _key(self, row: Mapping[str, float | str]) -> tuple[Any, ...]:
        """What the fitted pipeline can see of ``row``, and nothing else.

        A fitted vectorizer's output depends only on the counts of the n-grams in its
        vocabulary, so each text column becomes its sorted in-vocabulary n-grams; other
        columns the pipeline reads keep their values; columns it drops are left out.
        Two rows with equal keys get equal predictions, so the cache can never change
        an answer (a test compares it with uncached predictions). The words that differ
        between instances of one rule (host names, pod ids) are rarely in the vocabulary.
        """
        return tuple(step.part(row) for step in self._plan)

    def clear_cache(self) -> None:
        """Forget every remembered prediction (tests compare cached with fresh answers)."""
        self._known.clear()

    def _top_features(self, x: sparse.csr_matrix, row: int, k: int) -> tuple[tuple[str, float], ...]:
        """Features with the largest coefficient x value toward class ``k``, positive ones only."""
        start, end = x.indptr[row], x.indptr[row + 1]
        columns = x.indices[start:end]
        contributions = x.data[start:end] * self._coef[k, columns]
        order = np.argsort(-contributions)[:TOP_FEATURES]
        return tuple(
            (self._names[columns[j]], round(float(contributions[j]), 4))
            for j in order
            if contributions[j] > 0
        )


class _ColumnKey:
    """One input column's part of a prediction key (``UrgencyModel._key``)."""

    def __init__(self, column: str, transformer: Any) -> None:
        self.column = column
        vocabulary = getattr(transformer, "vocabulary_", None)
        analyzer = getattr(transformer, "build_analyzer", None)
        self._grams: Callable[[str], tuple[str, ...]] | None = None
        if analyzer is not None and vocabulary is not None:
            self._grams = word_grams.for_vectorizer(transformer) or _analyzed(analyzer(), vocabulary)
        self._known: Generations[str, tuple[str, ...]] = Generations(ANALYSIS_CACHE)

    def part(self, row: Mapping[str, float | str]) -> Any:
        value = row[self.column]
        if self._grams is None:
            return value
        text = str(value)
        known = self._known.get(text)
        if known is None:
            known = self._grams(text)
            self._known.put(text, known)
        return known


def _analyzed(
    analyze: Callable[[str], list[str]], vocabulary: Mapping[str, int]
) -> Callable[[str], tuple[str, ...]]:
    """scikit-learn's analyzer filtered by the vocabulary: for analyzers ``word_grams`` cannot mirror."""
    return lambda text: tuple(sorted(g for g in analyze(text) if g in vocabulary))


def _key_plan(cols: ColumnTransformer) -> list[_ColumnKey]:
    """A key part for every (transformer, input column) the fitted ``cols`` reads."""
    plan: list[_ColumnKey] = []
    for name, transformer, columns in cols.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        for i in np.atleast_1d(columns):
            plan.append(_ColumnKey(COLUMNS[int(i)], transformer))
    return plan
