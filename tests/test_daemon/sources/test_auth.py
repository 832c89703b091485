"""daemon/auth.py: each check alone, and that no header value makes a check raise instead of refuse."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from daemon.auth import address_allowed, basic_ok, bearer_ok, sign, signature_ok

# Header values as aiohttp hands them over: any text, including surrogate-escaped bytes.
header_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


@given(header=header_text, ts=st.none() | header_text)
def test_any_header_is_refused_not_raised(header: str, ts: str | None) -> None:
    """Property: garbage in Authorization or signature headers gives False, never an exception."""
    assert not bearer_ok(header, "the-token") or header.partition(" ")[2].strip() == "the-token"
    assert not basic_ok(header, "u", "p") or "Basic" in header or "basic" in header.lower()
    assert signature_ok(b"k", b"body", header, ts, 300.0, 1_800_000_000.0) in (True, False)


def test_raw_bytes_in_headers_are_refused() -> None:
    """Bytes that are not UTF-8 (surrogate-escaped by the HTTP parser) are refused, not a 500."""
    assert not bearer_ok("Bearer \udcff\ud800", "x")
    assert not basic_ok("Basic \udcff", "u", "p")
    assert not signature_ok(b"k", b"b", "\udcff", "\udcff", 300.0, 0.0)


def test_each_check_accepts_exactly_the_right_credentials() -> None:
    """Right credentials pass; a changed character, a stale or future timestamp, a foreign address fail."""
    assert bearer_ok("Bearer s3cret", "s3cret")
    assert bearer_ok("bearer s3cret", "s3cret")
    assert not bearer_ok("Bearer s3creT", "s3cret")
    good = "Basic " + base64.b64encode(b"alice:pw:with:colons").decode()
    assert basic_ok(good, "alice", "pw:with:colons")
    assert not basic_ok(good, "alice", "pw")
    now = 1_800_000_000.0
    sig = sign(b"k", b"body", str(int(now)))
    assert signature_ok(b"k", b"body", sig, str(int(now)), 300.0, now + 299)
    assert not signature_ok(b"k", b"body", sig, str(int(now)), 300.0, now + 301)
    assert not signature_ok(b"k", b"body", sig, str(int(now)), 300.0, now - 301)
    assert not signature_ok(b"k", b"body!", sig, str(int(now)), 300.0, now)
    assert signature_ok(b"k", b"body", sign(b"k", b"body"), None, 300.0, now)
    assert address_allowed("10.1.2.3", ("10.0.0.0/8",))
    assert address_allowed("::ffff:10.1.2.3", ("10.0.0.0/8",))
    assert not address_allowed("11.1.2.3", ("10.0.0.0/8",))
    assert not address_allowed(None, ("0.0.0.0/0",))
    assert not address_allowed("not-an-ip", ("0.0.0.0/0",))
