"""Lists read page by page (`limit`/`continue`), as kubectl and client-go's pager read them.

Two ways: `list_all` keeps the client's model objects (small lists that need them);
`list_decoded_at` reads each page as raw JSON and decodes it straight into eksup's values
(`wire`), one page alive at a time. Three things keep a 150,000-pod list cheap (each measured
with `make bench`, `benchmarks/plan_real_path.py`):

- pod pages are decoded to the fields eksup reads (`projection`), not to every field;
- the next page is fetched while this one is decoded, so the API server's time to answer and
  the network overlap the decoding instead of adding to it. Only the page's metadata is read
  before the next request goes out (the continue token); one request is in flight at a time,
  in order, as a sequential pager would send them;
- the cyclic garbage collector is paused while a list is decoded, and a big result is frozen
  out of its later passes (`gc.freeze`): every pass otherwise walks every object of every pod
  again, which cost seconds on each later step of the command (imports, checks, planning).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from kubernetes.client.exceptions import ApiException

from upgrader.adapters.kubernetes import projection, wire
from upgrader.core.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from kubernetes.client import V1ListMeta

# kubectl's page size: big enough that most clusters answer in one page.
DEFAULT_PAGE_SIZE = 500
# Results at least this long are frozen out of the collector's passes (see the module's notes).
# Smaller ones are left to it: frozen objects are never collected, even in cycles.
FREEZE_AT = 20_000

ItemT = TypeVar("ItemT")
ItemT_co = TypeVar("ItemT_co", covariant=True)

# Decoders whose pages are projected to the fields they read; every other one gets whole pages.
_PROJECTED: dict[Callable[..., Any], projection.PageDecoder] = {wire.pod: projection.pods}


class ListPage(Protocol[ItemT_co]):
    """One page of a Kubernetes list response (V1PodList and friends)."""

    @property
    def items(self) -> Sequence[ItemT_co]: ...

    @property
    def metadata(self) -> V1ListMeta | None: ...


def list_all(
    list_call: Callable[..., ListPage[ItemT]], *, page_size: int = DEFAULT_PAGE_SIZE, **query: Any
) -> list[ItemT]:
    """Every item of a list call, following `continue` tokens page by page.

    A continue token expires after a few minutes (410 Gone); the listing then starts over once,
    much as client-go's pager falls back to a full list, rather than returning part of one.
    """
    for attempt in (1, 2):
        items: list[ItemT] = []
        token: str | None = None
        try:
            while True:
                page = list_call(limit=page_size, _continue=token, **query)
                items.extend(page.items)
                next_token = page.metadata.var_continue if page.metadata is not None else None
                if not next_token:
                    return items
                if next_token == token:
                    raise ServiceUnavailableError(
                        f"the API server repeated continue token {token!r}; refusing to loop"
                    )
                token = next_token
        except ApiException as e:
            if e.status != 410 or token is None or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def list_decoded(
    list_call: Callable[..., Any],
    decode: Callable[[Mapping[str, Any]], ItemT],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    **query: Any,
) -> list[ItemT]:
    """Like `list_all`, but each page is read as raw JSON and decoded straight into eksup's
    values (`wire`): no client model objects, one page of dicts alive at a time."""
    return list_decoded_at(list_call, decode, page_size=page_size, **query)[0]


def list_decoded_at(
    list_call: Callable[..., Any],
    decode: Callable[[Mapping[str, Any]], ItemT],
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    **query: Any,
) -> tuple[list[ItemT], str]:
    """`list_decoded` and the list's resourceVersion, where a watch of it starts."""
    decode_page = _PROJECTED.get(decode, projection.whole)

    def fetch(token: str | None) -> bytes:
        response = list_call(limit=page_size, _continue=token, _preload_content=False, **query)
        return bytes(response.data)

    for attempt in (1, 2):
        items: list[ItemT] = []
        token: str | None = None
        try:
            with _collector_paused(), ThreadPoolExecutor(1, "eksup-list") as fetcher:
                pending: Future[bytes] = fetcher.submit(fetch, token)
                while True:
                    body = pending.result()
                    meta = projection.head(body)
                    next_token = meta.get("continue")
                    if next_token == token and next_token:
                        raise ServiceUnavailableError(
                            f"the API server repeated continue token {token!r}; refusing to loop"
                        )
                    if next_token:
                        pending = fetcher.submit(fetch, next_token)  # while this page decodes
                    page_items, _ = decode_page(body)
                    del body
                    items.extend(decode(item) for item in page_items)
                    if not next_token:
                        if len(items) >= FREEZE_AT:
                            gc.freeze()
                        return items, str(meta.get("resourceVersion") or "")
                    token = next_token
        except ApiException as e:
            if e.status != 410 or token is None or attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a bulk list is decoded.

    Decoded pages are trees that reference counting frees; but every few thousand allocations
    the collector walks the ever larger list of results again, which made decoding 150,000
    pods several times slower than the decoding itself (measured: `make bench`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
