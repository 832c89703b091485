"""Errors of the classifier package, mapped once at the daemon boundary.

The tree::

    ModelError                 anything that stops a model from being used
    ├── ModelNotFound          the directory lacks model.skops or model.json
    ├── ModelCorrupt           a file cannot be read or parsed, or the card is malformed
    ├── UntrustedModel         the skops file holds types outside TRUSTED_TYPES, or its
    │                          hash differs from the card's (tampering)
    └── ModelVersionMismatch   the card or the saved estimators come from another
                               scikit-learn or feature-schema version

Why a tree: the daemon decides by type alone whether to start without a model
(``ModelNotFound``) or to refuse to start (everything else), and every message
names the file and the mismatch so an operator can act without a traceback.
"""

from __future__ import annotations


class ModelError(Exception):
    """Base class: the model at hand cannot be used."""


class ModelNotFound(ModelError):
    """A model file that should exist does not."""


class ModelCorrupt(ModelError):
    """A model file exists but cannot be read or parsed."""


class UntrustedModel(ModelError):
    """The skops file would instantiate types we never trusted, or was altered after training."""


class ModelVersionMismatch(ModelError):
    """The model was built by a different library or feature-schema version than the running one."""
