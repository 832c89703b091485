"""Offline training CLI: alert-rule JSONL files -> ``model.skops`` + ``model.json`` (the card).

Never runs inside the daemon. The bundled default model is rebuilt with::

    .venv/bin/python -m classifiers.train \\
        --data data/alert-rules/awesome-prometheus-alerts.jsonl \\
               data/alert-rules/kube-prometheus.jsonl \\
               data/alert-rules/monitoring-mixins.jsonl \\
        --out classifiers/default_model

Leakage: catalogue rules carry their severity as a label, and that severity is the
very thing we predict. Feeding it would let the model echo it, so every training
row has the ``severity`` feature set to "none" (``fields_from_rule`` drops it): the
model learns urgency from the alert's name, text, labels and PromQL, and the daemon
shows the sender's severity next to it instead.

Reproducible: the same files and seed give the same predictions and the same bytes
(zip timestamps are fixed), hence the same ``model_version``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
import skops
import skops.io as sio
from sklearn.pipeline import Pipeline

from classifiers.features import FEATURE_SCHEMA_VERSION, fields_from_rule, strip_templates, to_features
from classifiers.model import CLASSES, build_pipeline, features_matrix, without_expr

MODEL_FILE = "model.skops"
CARD_FILE = "model.json"
ModelCard = dict[str, Any]
"""The ``model.json`` contents: versions, data provenance, class counts, CV score, model version."""


@dataclass(frozen=True)
class Dataset:
    """Labelled rows ready for the pipeline, with what is needed to group and describe them."""

    x: np.ndarray[Any, np.dtype[np.object_]]
    y: list[str]
    groups: list[str]
    sources: list[str]
    files: list[dict[str, Any]]


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Parse one JSONL file of alert rules (one JSON object per non-empty line)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_dataset(paths: Sequence[Path]) -> Dataset:
    """Read the rule files, keep the labelled rows, drop exact copies, extract features.

    Copies (same alertname, severity and summary, e.g. a mixin shipped by two
    repositories) are kept once so no rule counts double.
    """
    seen: set[tuple[str, str, str]] = set()
    features, y, groups, sources, files = [], [], [], [], []
    for path in paths:
        rows = read_rows(path)
        files.append(
            {
                "file": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "rows": len(rows),
            }
        )
        for row in rows:
            label = row.get("severity_norm")
            if label not in CLASSES:
                continue  # null severity (Watchdog, InfoInhibitor) carries no urgency
            key = (str(row["alertname"]).lower(), label, strip_templates(row.get("summary") or "").strip())
            if key in seen:
                continue
            seen.add(key)
            features.append(to_features(fields_from_rule(row)))
            y.append(label)
            groups.append(str(row["alertname"]).lower())
            sources.append(path.stem)
    return Dataset(features_matrix(features), y, groups, sources, files)


def fit(data: Dataset, *, seed: int = 0) -> Pipeline:
    """Fit a fresh pipeline on every row twice: with its PromQL and without (see ``without_expr``)."""
    pipeline = build_pipeline(seed=seed)
    pipeline.fit(np.vstack([data.x, without_expr(data.x)]), [*data.y, *data.y])
    return pipeline


def deterministic_dump(pipeline: Pipeline) -> bytes:
    """skops bytes that depend only on the model, so equal models hash equal (same ``model_version``).

    skops names array files and memo ids after ``id()`` (memory addresses) and stamps
    zip entries with the current time; both are renumbered/fixed here. The mapping is
    one-to-one, so shared references stay shared.
    """
    for _, transformer, _ in pipeline.named_steps["cols"].transformers_:
        # TfidfVectorizer caches id(stop_words), a memory address, only to skip a re-check.
        if hasattr(transformer, "_stop_words_id"):
            del transformer._stop_words_id
    raw = sio.dumps(pipeline)
    with zipfile.ZipFile(io.BytesIO(raw)) as src:
        schema = json.loads(src.read("schema.json"))
        ids: dict[int, int] = {}
        files: dict[str, str] = {}
        _renumber(schema, ids, files)
        entries = {"schema.json": json.dumps(schema, indent=2).encode()}
        entries.update({new: src.read(old) for old, new in files.items()})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, content)
    return out.getvalue()


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    """Replace ``__id__`` and ``file`` values in a skops schema by their order of appearance."""
    if isinstance(node, list):
        for item in node:
            _renumber(item, ids, files)
    elif isinstance(node, dict):
        if isinstance(node.get("__id__"), int):
            node["__id__"] = ids.setdefault(node["__id__"], len(ids) + 1)
        if isinstance(node.get("file"), str) and "__loader__" in node:
            node["file"] = files.setdefault(node["file"], f"{len(files)}{Path(node['file']).suffix}")
        for value in node.values():
            _renumber(value, ids, files)


def library_versions() -> dict[str, str]:
    """Versions that must match at load time (sklearn) or help diagnose (the rest)."""
    return {
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "skops": skops.__version__,
    }


def train(
    paths: Sequence[Path], out: Path, *, seed: int = 0, cv: Mapping[str, Any] | None = None
) -> ModelCard:
    """Train on ``paths``, write ``model.skops`` and ``model.json`` into ``out``, return the card.

    ``cv`` is the grouped cross-validation summary to record; computed here when absent,
    together with the cross-source hold-outs when the data holds more than one source.
    """
    # Imported here: evaluate imports this module for load_dataset and fit.
    from classifiers.evaluate import every_source, grouped_cv
    from classifiers.evaluate import holdout_feasible as _feasible

    data = load_dataset(paths)
    pipeline = fit(data, seed=seed)
    blob = deterministic_dump(pipeline)
    digest = hashlib.sha256(blob).hexdigest()
    scores = dict(cv) if cv is not None else grouped_cv(data, seed=seed)
    card: ModelCard = {
        "model_version": digest[:12],
        "skops_sha256": digest,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "classes": list(pipeline.classes_),
        "training_data": data.files,
        "training_rows": len(data.y),
        "class_counts": dict(sorted(Counter(data.y).items())),
        "severity_label_feature": "absent (none) for every training row: it is the target",
        "seed": seed,
        "grouped_cv": {
            "splitter": "GroupKFold(5) by alertname",
            "macro_f1": scores["macro_f1"],
            "critical_recall": scores["per_class"]["critical"]["recall"],
        },
    }
    if cv is None and sum(_feasible(data, src) for src in set(data.sources)) > 1:
        # What a model is chosen by: each catalogue held out, its alertnames unseen in training.
        held = every_source(data, seed=seed)
        card["cross_source"] = {
            "macro_f1_mean": held["macro_f1"],
            "critical_recall_mean": held["critical_recall"],
            "per_source": {
                source: {
                    "n": r["n"],
                    "macro_f1": r["macro_f1"],
                    "critical_recall": r["per_class"]["critical"]["recall"],
                }
                for source, r in held["holdouts"].items()
            },
        }
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_bytes(blob)
    (out / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return card


def main(argv: list[str] | None = None) -> int:
    """``python -m classifiers.train --data FILE... --out DIR``; prints the card."""
    parser = argparse.ArgumentParser(prog="classifiers.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, required=True, help="alert-rule JSONL files")
    parser.add_argument("--out", type=Path, required=True, help="directory for model.skops and model.json")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    card = train(args.data, args.out, seed=args.seed)
    print(json.dumps(card, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
