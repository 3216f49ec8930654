"""Lists and watches by path, through the client's `ApiClient` but not its generated API classes.

Importing `CoreV1Api` and `AppsV1Api` imports hundreds of pydantic models they annotate with
(about a second of CPU, measured on the bench machine), on every command that reads a cluster;
the bulk reads decode raw JSON (`wire`) and need none of them. A `RawList` takes the same keyword
arguments as the generated `list_*` methods that `list_decoded` and the informers call (`limit`,
`_continue`, `label_selector`, `watch`, `resource_version`, ...), sends them with the client's
configuration (host, TLS, bearer token refreshed by exec plugins) and returns the urllib3
response, as `_preload_content=False` does; an error status raises `ApiException` as the
generated methods do, so the 410 handling around them is unchanged.
"""

from __future__ import annotations

from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

# Python keyword -> query parameter, as the generated methods name them.
_QUERY = {
    "_continue": "continue",
    "label_selector": "labelSelector",
    "field_selector": "fieldSelector",
    "resource_version": "resourceVersion",
    "allow_watch_bookmarks": "allowWatchBookmarks",
    "timeout_seconds": "timeoutSeconds",
    "limit": "limit",
    "watch": "watch",
}


class RawList:
    """GET `path` (a "{namespace}" in it is filled from the `namespace` argument)."""

    def __init__(self, api_client: ApiClient, path: str) -> None:
        self.api_client = api_client
        self.path = path

    def __call__(
        self,
        *,
        namespace: str | None = None,
        _preload_content: bool = False,
        _request_timeout: Any = None,
        **query: Any,
    ) -> Any:
        params = [
            (_QUERY[name], _text(value)) for name, value in query.items() if value is not None
        ]
        path = self.path.replace("{namespace}", namespace or "")
        method, url, headers, body, post = self.api_client.param_serialize(
            "GET",
            path,
            query_params=params,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = self.api_client.call_api(
            method, url, headers, body, post, _request_timeout=_request_timeout
        )
        if not 200 <= response.status <= 299:
            response.read()  # type: ignore[no-untyped-call]
            raise ApiException(http_resp=response)
        return response.response


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
