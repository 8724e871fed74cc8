"""Expected answers, computed from the simulator's dataset (`GET /_sim/dataset`).

Written from the documented meaning of each argument (docs/data-sources/iam_o_auth_token.md),
independently of the provider's query builder and of the simulator's OData evaluator, so that a
bug shared by both cannot make a test pass.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable

Token = dict


def parse_time(text: str) -> dt.datetime:
    """RFC 3339 -> aware datetime (fractions beyond microseconds are dropped, as Python must)."""
    head, _, rest = text.partition(".")
    if rest:
        digits = rest.rstrip("Z")
        text = f"{head}.{(digits + '000000')[:6]}Z"
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def format_time(instant: dt.datetime) -> str:
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def moids(tokens: Iterable[Token]) -> list[str]:
    """Sorted moids: the provider documents results ordered by moid."""
    return sorted(t["Moid"] for t in tokens)


def select(dataset: list[Token], predicate: Callable[[Token], bool]) -> list[str]:
    return moids(t for t in dataset if predicate(t))


def ref_moid(token: Token, name: str) -> str | None:
    ref = token.get(name)
    return ref.get("Moid") if isinstance(ref, dict) else None


def has_tag(token: Token, key: str, value: str) -> bool:
    """Some single tag carries both the key and the value (one `tags` block = one lambda)."""
    return any(t.get("Key") == key and t.get("Value") == value for t in token.get("Tags") or [])


def has_owners(token: Token, owners: list[str]) -> bool:
    present = token.get("Owners") or []
    return all(o in present for o in owners)


def has_ancestor(token: Token, moid: str) -> bool:
    return any((a or {}).get("Moid") == moid for a in token.get("Ancestors") or [])


def expires_before(token: Token, instant: dt.datetime) -> bool:
    value = token.get("ExpirationTime")
    return value is not None and parse_time(value) < instant


def pick_detail_token(dataset: list[Token]) -> Token:
    """A token that exercises most of the flattening: tags, owners, user meta, unknown properties."""
    for t in dataset:
        if (
            t.get("Tags")
            and t.get("Owners")
            and t.get("UserMeta")
            and t.get("Permission")
            and t.get("AppRegistration")
            and "ExtraFeature" in t
        ):
            return t
    raise AssertionError("no token in the dataset has tags, owners, user meta and extra properties")


def common_value(dataset: list[Token], pred: Callable[[Token], bool], describe: str) -> None:
    if not any(pred(t) for t in dataset):
        raise AssertionError(f"the dataset has no token with {describe}; the test would prove nothing")
