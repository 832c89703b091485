"""The per-alert limits: the quick check and the worded one agree on every alert."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.models import Alert, AlertStatus
from daemon.settings import IntakeSettings
from daemon.sources.limits import _first_problem, problem

LIMITS = IntakeSettings(max_labels=3, max_key_length=4, max_value_length=5)
NAMES = st.text(alphabet="ab", max_size=6)  # the empty name and names over the limit included
VALUES = st.text(alphabet="xy", max_size=7)


@settings(max_examples=1500, deadline=None)
@given(
    labels=st.dictionaries(NAMES, VALUES, max_size=5),
    annotations=st.dictionaries(NAMES, VALUES, max_size=5),
    url=st.text(alphabet="u", max_size=7),
)
def test_the_quick_check_passes_exactly_what_the_worded_one_passes(
    labels: dict[str, str], annotations: dict[str, str], url: str
) -> None:
    """``problem`` answers the common case by C-level lengths and words only refusals;
    a disagreement would pass an over-limit alert or refuse one with no reason."""
    alert = Alert("f", "x", AlertStatus.FIRING, labels, annotations, None, None, url, 0.0)
    assert (problem(alert, LIMITS) is None) == (_first_problem(alert, LIMITS) is None)
