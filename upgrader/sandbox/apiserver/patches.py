"""Applying a PATCH body to an object's JSON: JSON merge patch and the part of strategic merge
patch that kubectl sends.

- `application/merge-patch+json` (RFC 7386): maps merge, `null` removes a key, a list replaces
  the old one whole (`kubectl patch --type merge`).
- `application/strategic-merge-patch+json` (kubectl's default for `patch` and for a second
  client-side `apply`; k8s.io/apimachinery pkg/util/strategicpatch/patch.go): like a merge
  patch, except that a list with a merge key (its `patchMergeKey` in k8s.io/api, e.g. a
  Service's `ports` by `port`, a pod's `containers` by `name`) is merged element by element; an
  element `{"$patch": "delete", <key>: ...}` removes that element, and `$setElementOrder/<list>`
  gives the order of the merged list. `$retainKeys` and `$deleteFromPrimitiveList` are not
  sent by kubectl for the kinds the sandbox writes, and are refused rather than misread.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from upgrader.core.errors import UserError

Json = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# patchMergeKey of the lists the sandbox's kinds carry (k8s.io/api core/v1 types.go).
MERGE_KEYS: Mapping[str, str] = {
    "ports": "port",  # ServiceSpec.Ports; a container's ports merge by containerPort (below)
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "tolerations": "key",
    "imagePullSecrets": "name",
}
_ORDER = "$setElementOrder/"


class PatchError(UserError):
    """A patch the sandbox cannot apply (HTTP 422 from the routes)."""


def apply_patch(target: Json, patch: Json, content_type: str) -> Json:
    """`target` patched by `patch`; `target` itself is left as it was."""
    strategic = content_type.startswith(STRATEGIC_MERGE_PATCH)
    out = _merge(copy.deepcopy(target), patch, strategic=strategic)
    if not isinstance(out, dict):
        raise PatchError("a patch must leave an object")
    return out


def _merge(target: Any, patch: Any, *, strategic: bool) -> Any:
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out: Json = dict(target) if isinstance(target, Mapping) else {}
    orders = {k[len(_ORDER) :]: v for k, v in patch.items() if strategic and k.startswith(_ORDER)}
    for key, value in patch.items():
        if strategic and key.startswith("$"):
            if key.startswith(_ORDER):
                continue
            raise PatchError(f"the sandbox does not apply the patch directive {key!r}")
        if value is None:
            out.pop(key, None)
        elif strategic and isinstance(value, list) and _keyed(key, value):
            out[key] = _merge_list(out.get(key) or [], value, _merge_key(key, value))
        else:
            out[key] = _merge(out.get(key), value, strategic=strategic)
    for key, order in orders.items():
        if isinstance(out.get(key), list) and isinstance(order, list):
            out[key] = _ordered(out[key], order, _merge_key(key, order))
    return out


def _merge_key(name: str, items: list[Any]) -> str:
    if name == "ports" and any(isinstance(i, Mapping) and "containerPort" in i for i in items):
        return "containerPort"
    return MERGE_KEYS[name]


def _keyed(name: str, items: list[Any]) -> bool:
    return name in MERGE_KEYS and all(isinstance(i, Mapping) for i in items)


def _merge_list(live: list[Any], patch: list[Any], key: str) -> list[Any]:
    out = [copy.deepcopy(i) for i in live]
    for item in patch:
        where = next(
            (
                i
                for i, old in enumerate(out)
                if isinstance(old, Mapping) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if where is not None:
                del out[where]
        elif item.get("$patch") not in (None, "merge"):
            raise PatchError(f"the sandbox does not apply $patch: {item.get('$patch')}")
        elif where is None:
            out.append({k: v for k, v in item.items() if k != "$patch" and v is not None})
        else:
            merged = _merge(out[where], item, strategic=True)
            merged.pop("$patch", None)
            out[where] = merged
    return out


def _ordered(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """The merged list in `$setElementOrder`'s order; elements it does not name keep theirs,
    after the named ones (strategicpatch's mergeSliceWithSpecialElements sorts this way)."""
    rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, Mapping)}
    indexed = list(enumerate(items))
    indexed.sort(key=lambda p: (rank.get(p[1].get(key), len(rank)), p[0]))
    return [item for _, item in indexed]
