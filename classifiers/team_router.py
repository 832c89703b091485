"""A learned team router: which team should own an incident, with its confidence.

Optional and subordinate: a route of the routing tree that names a team always wins;
the router only suggests a team for incidents no route claimed, and only acts when
its top probability reaches ``routing.learned_min_confidence``. Inputs are categorical
fields (for an incident: its labels, e.g. service, namespace, job, alertname; for the
ServiceNow log: category, subcategory, symptom, location, configuration item), one-hot
encoded with ``DictVectorizer``; the classifier is a multinomial logistic regression.

Evaluated on the real ServiceNow incident log (``data/servicenow-incidents/``) with a
time split (train on the earliest 80 % of incidents by ``opened_at``, test on the
latest 20 %), against the majority team and a "most frequent team per category" rule:
``triaged evaluate-router --servicenow data/servicenow-incidents/incident_event_log.zip``.

Files are skops with an explicit trusted-types list plus a card, like the urgency model.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops.io as sio
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from classifiers.errors import ModelCorrupt, ModelNotFound, ModelVersionMismatch
from classifiers.load import load_pipeline

MODEL_FILE = "router.skops"
CARD_FILE = "router.json"
SERVICENOW_FIELDS = (
    "category",
    "subcategory",
    "u_symptom",
    "location",
    "cmdb_ci",
    "contact_type",
    "impact",
    "urgency",
)
LABEL_FIELDS = ("service", "namespace", "job", "alertname", "cluster", "team_hint", "source")
TRUSTED_TYPES = [
    "builtins.dict",
    "builtins.list",
    "builtins.str",
    "builtins.tuple",
    "numpy.float64",
    "numpy.ndarray",
    "sklearn.feature_extraction._dict_vectorizer.DictVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
]


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The router's best team and how sure it is (the top class probability)."""

    team: str
    confidence: float


def build() -> Pipeline:
    """The router pipeline; everything in it is in ``TRUSTED_TYPES``."""
    return Pipeline(
        [
            ("vec", DictVectorizer(sparse=True)),
            ("clf", LogisticRegression(C=2.0, max_iter=300)),
        ]
    )


def features_from_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """An incident's routing fields: the labels that name who runs the thing."""
    return {k: str(labels[k]) for k in LABEL_FIELDS if labels.get(k)}


class TeamRouter:
    """A fitted router plus its card."""

    def __init__(self, pipeline: Pipeline, card: Mapping[str, Any]) -> None:
        self.pipeline = pipeline
        self.card = dict(card)
        self.classes = [str(c) for c in pipeline.classes_]

    def suggest(self, fields: Mapping[str, str]) -> Suggestion | None:
        """The most likely team, or None when the fields say nothing the router knows."""
        if not fields:
            return None
        proba = self.pipeline.predict_proba([dict(fields)])[0]
        best = int(np.argmax(proba))
        return Suggestion(self.classes[best], float(proba[best]))


# -- data ------------------------------------------------------------------------------


def servicenow_rows(path: Path) -> list[tuple[datetime, dict[str, str], str]]:
    """(opened_at, open-time fields, final assignment group) per incident of the export."""
    first: dict[str, dict[str, str]] = {}
    last: dict[str, dict[str, str]] = {}
    with zipfile.ZipFile(path) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".csv"))
        with archive.open(member) as raw:
            for row in csv.DictReader(io.TextIOWrapper(raw, encoding="ascii", newline="")):
                first.setdefault(row["number"], row)
                last[row["number"]] = row
    out = []
    for number, row in first.items():
        group = last[number]["assignment_group"]
        if group == "?":
            continue
        fields = {f: row[f] for f in SERVICENOW_FIELDS if row.get(f, "?") != "?"}
        out.append((datetime.strptime(row["opened_at"], "%d/%m/%Y %H:%M"), fields, group))
    out.sort(key=lambda r: r[0])
    return out


def jsonl_rows(path: Path) -> list[tuple[datetime, dict[str, str], str]]:
    """Rows ``{"fields": {...}, "team": "..."}`` (e.g. triaged's own incidents and their teams)."""
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row.get("fields"), dict) or not isinstance(row.get("team"), str):
            raise ValueError(f"{path}:{n}: expected {{'fields': {{...}}, 'team': '...'}}")
        out.append(
            (datetime.fromtimestamp(n, UTC), {k: str(v) for k, v in row["fields"].items()}, row["team"])
        )
    return out


# -- train, evaluate, save, load ---------------------------------------------------------


def fit(rows: Sequence[tuple[datetime, dict[str, str], str]]) -> Pipeline:
    """Fit on all rows."""
    pipeline = build()
    pipeline.fit([r[1] for r in rows], [r[2] for r in rows])
    return pipeline


def evaluate(rows: Sequence[tuple[datetime, dict[str, str], str]], split: float = 0.8) -> dict[str, Any]:
    """Time split: train on the earliest rows, test on the latest; top-1/top-3 accuracy and baselines."""
    cut = int(len(rows) * split)
    train, test = rows[:cut], rows[cut:]
    pipeline = fit(train)
    proba = pipeline.predict_proba([r[1] for r in test])
    classes = np.asarray(pipeline.classes_)
    truth = np.asarray([r[2] for r in test])
    top3 = classes[np.argsort(-proba, axis=1)[:, :3]]
    top1 = top3[:, 0]
    majority = Counter(r[2] for r in train).most_common(1)[0][0]
    per_category: dict[str, Counter[str]] = defaultdict(Counter)
    for _, fields, team in train:
        per_category[fields.get("category", "")][team] += 1
    by_rule = [
        (per_category[f.get("category", "")] or Counter({majority: 1})).most_common(1)[0][0]
        for _, f, _ in test
    ]
    confident = proba.max(axis=1) >= 0.5
    return {
        "n_train": len(train),
        "n_test": len(test),
        "teams": len(classes),
        "top1_accuracy": round(float(np.mean(top1 == truth)), 4),
        "top3_accuracy": round(float(np.mean([t in row for t, row in zip(truth, top3, strict=True)])), 4),
        "majority_baseline": round(float(np.mean(truth == majority)), 4),
        "category_rule_baseline": round(float(np.mean(np.asarray(by_rule) == truth)), 4),
        "confident_share": round(float(np.mean(confident)), 4),
        "confident_accuracy": round(float(np.mean(top1[confident] == truth[confident])), 4)
        if confident.any()
        else None,
        "split": f"time: first {split:.0%} of incidents by opened_at for training, the rest for testing",
    }


def save(pipeline: Pipeline, out: Path, sources: Iterable[str], scores: Mapping[str, Any]) -> dict[str, Any]:
    """Write the router and its card; returns the card."""
    blob = sio.dumps(pipeline)
    card = {
        "kind": "team_router",
        "sha256": hashlib.sha256(blob).hexdigest(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sklearn": sklearn.__version__,
        "training_data": list(sources),
        "teams": [str(c) for c in pipeline.classes_],
        "evaluation": dict(scores),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_bytes(blob)
    (out / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def load(directory: Path) -> TeamRouter:
    """Load a router; a tampered, foreign or mismatched file is refused with a reason."""
    card_path, model_path = directory / CARD_FILE, directory / MODEL_FILE
    if not card_path.is_file() or not model_path.is_file():
        raise ModelNotFound(f"{directory}: no {CARD_FILE} and {MODEL_FILE}")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ModelCorrupt(f"{card_path}: unreadable ({err})") from err
    if card.get("sklearn") != sklearn.__version__:
        raise ModelVersionMismatch(f"{card_path}: trained with scikit-learn {card.get('sklearn')}")
    pipeline = load_pipeline(model_path, str(card.get("sha256")), TRUSTED_TYPES, ("vec", "clf"))
    return TeamRouter(pipeline, card)


def _rows(args: argparse.Namespace) -> list[tuple[datetime, dict[str, str], str]]:
    rows: list[tuple[datetime, dict[str, str], str]] = []
    if args.servicenow:
        rows += servicenow_rows(args.servicenow)
    for path in args.data or []:
        rows += jsonl_rows(path)
    if not rows:
        raise SystemExit("give --servicenow ZIP and/or --data FILE.jsonl")
    return rows


def main(argv: list[str] | None = None, *, train: bool = True) -> int:
    """``triaged train-router`` / ``triaged evaluate-router``."""
    parser = argparse.ArgumentParser(prog="triaged train-router" if train else "triaged evaluate-router")
    parser.add_argument("--servicenow", type=Path, help="a ServiceNow incident export (zip of the CSV)")
    parser.add_argument("--data", type=Path, nargs="*", help='JSONL rows {"fields": {...}, "team": "..."}')
    parser.add_argument("--json", action="store_true")
    if train:
        parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        rows = _rows(args)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        print(f"{parser.prog}: {err}", file=sys.stderr)
        return 2
    scores = evaluate(rows)
    if train:
        card = save(fit(rows), args.out, [str(p) for p in [args.servicenow, *(args.data or [])] if p], scores)
        print(json.dumps(card if args.json else {"out": str(args.out), **scores}, indent=2))
        return 0
    if args.json:
        print(json.dumps(scores))
    else:
        for key, value in scores.items():
            print(f"{key:24} {value}")
    return 0
