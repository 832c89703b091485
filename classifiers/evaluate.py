"""Offline evaluation CLI: grouped cross-validation, cross-source hold-out, and two baselines.

Why grouped: one alertname often appears as a warning tier and a critical tier, or
copied across files; random row splits would put copies on both sides and flatter
the model. Folds are therefore grouped by alertname (``GroupKFold``), and the
cross-source mode (``--holdout-source``) tests on one catalogue with every
alertname seen in training removed, which is the closest to "an organisation's own
rules the model never saw". A model is only worth shipping if it beats both the
majority class and a keyword rule of thumb.

    .venv/bin/python -m classifiers.evaluate --data data/alert-rules/*.jsonl --json
    .venv/bin/python -m classifiers.evaluate --data data/alert-rules/*.jsonl --holdout-source kube-prometheus
    .venv/bin/python -m classifiers.evaluate --data data/alert-rules/*.jsonl --holdout-source all

``--holdout-source all`` holds out each source in turn (the table a model change is
judged by); its ``macro_f1`` and ``critical_recall`` are the means over sources.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold

from classifiers.features import COLUMNS
from classifiers.model import CLASSES
from classifiers.train import Dataset, fit, load_dataset

N_SPLITS = 5
ALL_SOURCES = "all"
CALIBRATION_BINS = 10
_TEXT = COLUMNS.index("text")
_CRITICAL_WORDS = frozenset(
    [
        "down",
        "fail",
        "failed",
        "failing",
        "failure",
        "critical",
        "error",
        "errors",
        "unreachable",
        "crash",
        "crashed",
        "crashlooping",
        "dead",
        "lost",
        "missing",
        "unavailable",
        "outage",
        "panic",
        "fatal",
    ]
)
_WARNING_WORDS = frozenset(
    ["high", "slow", "warn", "warning", "latency", "degraded", "full", "filling", "low", "pressure"]
)


def keyword_baseline(x: npt.NDArray[np.object_]) -> list[str]:
    """The rule of thumb an operator would write: failure words -> critical, strain words -> warning."""
    predictions = []
    for text in x[:, _TEXT]:
        words = set(str(text).split())
        if words & _CRITICAL_WORDS:
            predictions.append("critical")
        elif words & _WARNING_WORDS:
            predictions.append("warning")
        else:
            predictions.append("info")
    return predictions


def majority_baseline(y_train: Sequence[str], n: int) -> list[str]:
    """Always the most frequent training class."""
    return [Counter(y_train).most_common(1)[0][0]] * n


def calibration(y: Sequence[str], proba: npt.NDArray[np.float64], classes: Sequence[str]) -> dict[str, float]:
    """Multiclass Brier score and expected calibration error of the top-class probability."""
    onehot = np.array([[1.0 if label == c else 0.0 for c in classes] for label in y])
    brier = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    confidence = proba.max(axis=1)
    correct = np.array([classes[k] == label for k, label in zip(proba.argmax(axis=1), y, strict=True)])
    bins = np.minimum((confidence * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    ece = sum(
        abs(float(correct[bins == b].mean()) - float(confidence[bins == b].mean()))
        * float(np.mean(bins == b))
        for b in range(CALIBRATION_BINS)
        if np.any(bins == b)
    )
    return {"brier": round(brier, 4), "ece": round(float(ece), 4)}


def scores(y: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows = truth)."""
    labels = list(CLASSES)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=labels, zero_division=0
    )
    return {
        "n": len(y),
        "macro_f1": round(float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0)), 4),
        "accuracy": round(float(np.mean([a == b for a, b in zip(y, predicted, strict=True)])), 4),
        "per_class": {
            c: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, c in enumerate(labels)
        },
        "confusion_matrix": {
            "labels": labels,
            "matrix": confusion_matrix(y, predicted, labels=labels).tolist(),
        },
    }


def _report(
    y: Sequence[str], predicted: Sequence[str], proba: npt.NDArray[np.float64], classes: Sequence[str],
    x: npt.NDArray[np.object_], y_train: Sequence[str],
) -> dict[str, Any]:  # fmt: skip
    result = scores(y, predicted)
    result["calibration"] = calibration(y, proba, classes)
    result["baselines"] = {
        "majority": scores(y, majority_baseline(y_train, len(y))),
        "keyword": scores(y, keyword_baseline(x)),
    }
    return result


def grouped_cv(data: Dataset, *, seed: int = 0, n_splits: int = N_SPLITS) -> dict[str, Any]:
    """Out-of-fold predictions with folds grouped by alertname, scored once over all rows."""
    y = np.array(data.y)
    predicted = np.empty(len(y), dtype=object)
    proba = np.zeros((len(y), len(CLASSES)))
    for train_idx, test_idx in GroupKFold(n_splits=n_splits).split(data.x, y, data.groups):
        pipeline = fit(Dataset(data.x[train_idx], list(y[train_idx]), [], [], []), seed=seed)
        predicted[test_idx] = pipeline.predict(data.x[test_idx])
        order = [list(pipeline.classes_).index(c) for c in CLASSES]
        proba[test_idx] = pipeline.predict_proba(data.x[test_idx])[:, order]
    result = _report(list(y), list(predicted), proba, CLASSES, data.x, data.y)
    result["mode"] = f"grouped-cv (GroupKFold({n_splits}) by alertname)"
    return result


def cross_source(data: Dataset, holdout: str, *, seed: int = 0) -> dict[str, Any]:
    """Train on the other sources; test on ``holdout`` rows whose alertname training never saw."""
    train_idx = [i for i, s in enumerate(data.sources) if s != holdout]
    if len(train_idx) == len(data.y):
        raise SystemExit(
            f"--holdout-source {holdout!r} matches no data file (have: {sorted(set(data.sources))})"
        )
    seen = {data.groups[i] for i in train_idx}
    test_idx = [i for i, s in enumerate(data.sources) if s == holdout and data.groups[i] not in seen]
    y_train = [data.y[i] for i in train_idx]
    pipeline = fit(Dataset(data.x[train_idx], y_train, [], [], []), seed=seed)
    x_test = data.x[test_idx]
    y_test = [data.y[i] for i in test_idx]
    order = [list(pipeline.classes_).index(c) for c in CLASSES]
    result = _report(
        y_test,
        list(pipeline.predict(x_test)),
        pipeline.predict_proba(x_test)[:, order],
        CLASSES,
        x_test,
        y_train,
    )
    result["mode"] = f"cross-source: train on the others, test on {holdout} (unseen alertnames only)"
    result["n_train"] = len(train_idx)
    result["n_holdout_dropped_seen"] = sum(1 for s in data.sources if s == holdout) - len(test_idx)
    return result


def holdout_feasible(data: Dataset, source: str) -> bool:
    """A source can be held out when the rest still has two classes to learn from
    (a small feedback file is a source too, and may hold one class only)."""
    rest = {y for y, s in zip(data.y, data.sources, strict=True) if s != source}
    return len(rest) >= 2


def every_source(data: Dataset, *, seed: int = 0) -> dict[str, Any]:
    """``cross_source`` for each source in turn, with the unweighted means a model is chosen by."""
    holdouts = {
        source: cross_source(data, source, seed=seed)
        for source in sorted(set(data.sources))
        if holdout_feasible(data, source)
    }
    if not holdouts:
        raise ValueError("no source can be held out: each needs the others to cover two classes")
    return {
        "mode": "cross-source, each source held out in turn (unseen alertnames only)",
        "n": sum(r["n"] for r in holdouts.values()),
        "macro_f1": round(float(np.mean([r["macro_f1"] for r in holdouts.values()])), 4),
        "critical_recall": round(
            float(np.mean([r["per_class"]["critical"]["recall"] for r in holdouts.values()])), 4
        ),
        "holdouts": holdouts,
    }


def evaluate(
    paths: Sequence[Path], *, model_dir: Path | None = None, holdout_source: str | None = None, seed: int = 0
) -> dict[str, Any]:
    """Evaluate by grouped CV (default), cross-source hold-out, or a saved model on ``paths``.

    A saved model scored on its own training files measures fit, not generalisation;
    use it on new rule files.
    """
    data = load_dataset(paths)
    if holdout_source == ALL_SOURCES:
        return every_source(data, seed=seed)
    if holdout_source is not None:
        return cross_source(data, holdout_source, seed=seed)
    if model_dir is None:
        return grouped_cv(data, seed=seed)
    from classifiers.load import load_model

    model = load_model(model_dir)
    proba = model.pipeline.predict_proba(data.x)
    predicted = [model.classes[k] for k in proba.argmax(axis=1)]
    result = _report(data.y, predicted, proba, model.classes, data.x, data.y)
    result["mode"] = f"saved model {model.version} from {model_dir}"
    return result


def _summary(result: dict[str, Any]) -> str:
    if "holdouts" in result:
        means = f"mean macro-F1={result['macro_f1']:.3f} critical recall={result['critical_recall']:.3f}"
        head = f"{result['mode']}\n{means}"
        return "\n\n".join([head, *(_summary(r) for r in result["holdouts"].values())])
    lines = [result["mode"], f"n={result['n']}"]
    rows = [("model", result), *((f"baseline {k}", v) for k, v in result["baselines"].items())]
    for name, r in rows:
        per = " ".join(
            f"{c}: P={v['precision']:.2f} R={v['recall']:.2f} F1={v['f1']:.2f}"
            for c, v in r["per_class"].items()
        )
        lines.append(f"{name:18} macro-F1={r['macro_f1']:.3f}  {per}")
    lines.append(f"calibration: {result['calibration']}")
    lines.append(f"confusion (rows truth, cols predicted {CLASSES}): {result['confusion_matrix']['matrix']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m classifiers.evaluate --data FILE... [--model DIR] [--holdout-source NAME] [--json]``."""
    parser = argparse.ArgumentParser(prog="classifiers.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, required=True, help="alert-rule JSONL files")
    parser.add_argument(
        "--model", type=Path, help="score a saved model directory instead of cross-validating"
    )
    parser.add_argument(
        "--holdout-source", help="file stem to hold out (e.g. kube-prometheus), or 'all' for each in turn"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = evaluate(args.data, model_dir=args.model, holdout_source=args.holdout_source, seed=args.seed)
    print(json.dumps(result, sort_keys=True) if args.json else _summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
