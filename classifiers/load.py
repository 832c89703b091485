"""Load a trained urgency model safely: explicit trusted types, version and hash checks.

A model file is code-adjacent: a crafted skops file could name any importable
type. So ``load_model`` refuses, before constructing anything:

* a card whose scikit-learn or feature-schema version differs from the running one
  (coefficients mean nothing against another vocabulary or estimator layout);
* a ``model.skops`` whose sha256 differs from the card's (altered after training);
* any type outside ``TRUSTED_TYPES``, even one skops itself would trust: the list is
  exactly what ``build_pipeline`` produces, so a surprise type is a red flag;

and turns scikit-learn's ``InconsistentVersionWarning`` (an estimator saved by
another version) into ``ModelVersionMismatch``. Nothing is ever loaded with blanket trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sklearn
import skops.io as sio
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from classifiers.errors import (
    ModelCorrupt,
    ModelError,
    ModelNotFound,
    ModelVersionMismatch,
    UntrustedModel,
)
from classifiers.features import FEATURE_SCHEMA_VERSION
from classifiers.model import UrgencyModel
from classifiers.train import CARD_FILE, MODEL_FILE

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"

# Every type in a model built by classifiers.model.build_pipeline, as listed once by
# walking the schema of a dump (skops' get_untrusted_types returns [] for it, because
# skops trusts all of these by default; we want our own list to be the authority).
# Add a type here only together with the change to build_pipeline that needs it.
TRUSTED_TYPES: list[str] = [
    "builtins.dict",
    "builtins.list",
    "builtins.slice",
    "builtins.str",
    "builtins.tuple",
    "numpy.float64",
    "numpy.log1p",
    "numpy.ndarray",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
]


def schema_types(blob: bytes) -> set[str]:
    """Every ``module.Class`` named in a skops file's schema (what loading would instantiate)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        schema = json.loads(archive.read("schema.json"))
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node:
                found.add(f"{node.get('__module__', '')}.{node['__class__']}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def read_card(path: Path) -> dict[str, Any]:
    """Parse ``model.json``; a missing or malformed card is an error naming the file."""
    if not path.is_file():
        raise ModelNotFound(f"{path}: model card not found")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelCorrupt(f"{path}: unreadable model card ({err})") from err
    missing = [k for k in ("skops_sha256", "libraries", "feature_schema_version") if k not in card]
    if not isinstance(card, dict) or missing:
        raise ModelCorrupt(f"{path}: model card lacks {missing or 'a JSON object'}")
    return card


def check_versions(card: dict[str, Any], path: Path) -> None:
    """Refuse a card written by another scikit-learn or feature-schema version."""
    trained_with = str(card["libraries"].get("sklearn"))
    if trained_with != sklearn.__version__:
        raise ModelVersionMismatch(
            f"{path}: trained with scikit-learn {trained_with}, running {sklearn.__version__}; "
            "retrain the model"
        )
    schema = str(card["feature_schema_version"])
    if schema != FEATURE_SCHEMA_VERSION:
        raise ModelVersionMismatch(
            f"{path}: feature schema {schema}, running {FEATURE_SCHEMA_VERSION}; retrain the model"
        )


def load_pipeline(
    path: Path,
    expected_sha256: str,
    trusted: Sequence[str] = TRUSTED_TYPES,
    steps: Sequence[str] = ("cols", "clf"),
) -> Pipeline:
    """Read, verify and construct the pipeline in ``path`` (see the module docstring).

    ``trusted`` and ``steps`` let another model of ours (the team router) use the same
    checks with its own exact type list and step names.
    """
    try:
        blob = path.read_bytes()
    except FileNotFoundError as err:
        raise ModelNotFound(f"{path}: model file not found") from err
    except OSError as err:
        raise ModelCorrupt(f"{path}: unreadable ({err})") from err
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected_sha256:
        raise UntrustedModel(f"{path}: sha256 {digest[:12]} differs from the card's {expected_sha256[:12]}")
    try:
        surprise = sorted(schema_types(blob) - set(trusted))
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise ModelCorrupt(f"{path}: not a skops file ({err})") from err
    if surprise:
        raise UntrustedModel(f"{path}: holds types outside TRUSTED_TYPES: {', '.join(surprise)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", InconsistentVersionWarning)
            pipeline = sio.loads(blob, trusted=list(trusted))
    except InconsistentVersionWarning as err:
        raise ModelVersionMismatch(
            f"{path}: {err.estimator_name} saved by scikit-learn {err.original_sklearn_version}, "
            f"running {err.current_sklearn_version}"
        ) from err
    except ModelError:
        raise
    except Exception as err:  # skops raises many types on a damaged file; all mean "corrupt"
        raise ModelCorrupt(f"{path}: cannot construct the model ({type(err).__name__}: {err})") from err
    if not isinstance(pipeline, Pipeline) or list(pipeline.named_steps) != list(steps):
        raise ModelCorrupt(f"{path}: not a {'/'.join(steps)} Pipeline")
    return pipeline


def load_model(directory: Path = DEFAULT_MODEL_DIR) -> UrgencyModel:
    """Load ``model.json`` and ``model.skops`` from ``directory`` (the bundled model by default)."""
    card_path = directory / CARD_FILE
    card = read_card(card_path)
    check_versions(card, card_path)
    pipeline = load_pipeline(directory / MODEL_FILE, str(card["skops_sha256"]))
    return UrgencyModel(pipeline, card)
