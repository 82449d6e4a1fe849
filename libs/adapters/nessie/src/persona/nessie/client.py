"""Nessie's REST API v2 through the standard library: references (branches, tags), commits, merges.

Nessie versions the Iceberg publication of persona's tables (DESIGN §6): a logic change lives on a
branch (``marketing-v2``) until it is merged, and releases are tags. ``NessieCatalog`` is the small
surface persona uses; :class:`NessieRest` implements it over HTTP (API v2, served by Nessie 0.99 and
later). The note's own client, pynessie, speaks API v1 to the same server.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

ReferenceKind = Literal["BRANCH", "TAG"]
# Nessie's own rule for reference names (model/Validation.java): starts with a letter, no "..",
# does not end with "." or "/".
_REF_NAME = re.compile(r"^[A-Za-z](((?![.][.])[A-Za-z0-9./_-])*[A-Za-z0-9_-])?$")
DEFAULT_AUTHOR = "persona"
# The hash of the empty root every branch of a fresh Nessie starts at. Nessie 0.99 cannot merge into a
# branch still at it ("no common ancestor"); such a branch is fast-forwarded instead.
NO_ANCESTOR = "2e1cfa82b035c26cbbbdae632cea070514eb8b773f616aaeaf668e2f0be8f10d"


class NessieError(Exception):
    """Nessie refused a request or could not be reached; the message says which and why."""


class ReferenceNotFound(NessieError):
    """The named branch or tag does not exist."""


class ReferenceExists(NessieError):
    """A branch or tag of that name exists already."""


class ReferenceConflict(NessieError):
    """The reference moved since it was read (a concurrent commit) or a merge conflicts."""


@dataclass(frozen=True)
class Reference:
    """A branch or tag and the commit it points at."""

    name: str
    kind: ReferenceKind
    hash: str


@dataclass(frozen=True)
class ServerConfig:
    default_branch: str
    min_api_version: int
    max_api_version: int
    spec_version: str


@dataclass(frozen=True)
class Entry:
    """One content key on a reference: ``("persona", "marketing_segments")`` of type ICEBERG_TABLE."""

    key: tuple[str, ...]
    content_type: str


@dataclass(frozen=True)
class LogEntry:
    hash: str
    message: str
    author: str
    commit_time: str


def check_reference_name(name: str) -> str:
    """``name`` if Nessie accepts it as a branch or tag name, else a NessieError saying why."""
    if not _REF_NAME.match(name):
        raise NessieError(
            f"invalid Nessie reference name {name!r}: it must start with a letter and hold only letters, "
            "digits and . / _ - (no '..', not ending in '.' or '/')"
        )
    return name


class NessieCatalog(Protocol):
    """What persona asks of Nessie. Every method raises NessieError (or a subclass) on failure."""

    def server_config(self) -> ServerConfig: ...

    def references(self) -> list[Reference]: ...

    def reference(self, name: str) -> Reference: ...

    def create_branch(self, name: str, from_ref: str | None = None) -> Reference: ...

    def create_tag(self, name: str, from_ref: str | None = None) -> Reference: ...

    def delete_reference(self, name: str) -> None: ...

    def create_namespace(self, branch: str, namespace: Sequence[str], message: str) -> Reference: ...

    def entries(self, ref: str) -> list[Entry]: ...

    def log(self, ref: str, limit: int = 20) -> list[LogEntry]: ...

    def merge(
        self, from_branch: str, into: str | None = None, message: str | None = None, *, force: bool = False
    ) -> Reference: ...

    def assign(self, name: str, to_hash: str) -> Reference: ...


def _reference(body: Mapping[str, Any]) -> Reference:
    kind = body.get("type")
    if kind not in ("BRANCH", "TAG"):
        raise NessieError(f"unexpected Nessie reference {body!r}")
    return Reference(name=str(body["name"]), kind=kind, hash=str(body["hash"]))


def _path_ref(name: str, hash_: str | None = None) -> str:
    # Nessie's v2 paths address "name@hash"; '/' inside a name is written '~' in a path segment.
    segment = check_reference_name(name).replace("/", "~")
    if hash_ is not None:
        segment += f"@{hash_}"
    return urllib.parse.quote(segment, safe="@~")


class NessieRest:
    """:class:`NessieCatalog` over Nessie's REST API v2 (``{base_url}/api/v2``).

    ``base_url`` is the server root, e.g. ``http://127.0.0.1:19120``. No authentication: the local
    server runs without it; a secured server needs a bearer token (not yet supported here).
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0, author: str = DEFAULT_AUTHOR) -> None:
        self._api = base_url.rstrip("/") + "/api/v2"
        self._timeout = timeout
        self._author = author

    @property
    def api_url(self) -> str:
        return self._api

    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        url = self._api + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                raw: bytes = response.read()
        except urllib.error.HTTPError as error:
            raise _http_error(method, path, error.code, error.read()) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise NessieError(f"Nessie at {self._api} is unreachable: {reason}") from None
        return json.loads(raw) if raw else None

    def server_config(self) -> ServerConfig:
        body = self._call("GET", "/config")
        return ServerConfig(
            default_branch=str(body["defaultBranch"]),
            min_api_version=int(body["minSupportedApiVersion"]),
            max_api_version=int(body["maxSupportedApiVersion"]),
            spec_version=str(body.get("specVersion", "")),
        )

    def references(self) -> list[Reference]:
        found: list[Reference] = []
        token: str | None = None
        while True:
            query = {"maxRecords": "500"} | ({"pageToken": token} if token else {})
            body = self._call("GET", "/trees", query=query)
            found += [_reference(item) for item in body.get("references", [])]
            token = body.get("token")
            if not body.get("hasMore") or not token:
                return found

    def reference(self, name: str) -> Reference:
        return _reference(self._call("GET", f"/trees/{_path_ref(name)}")["reference"])

    def _create(self, name: str, kind: ReferenceKind, from_ref: str | None) -> Reference:
        source = self.reference(from_ref or self.server_config().default_branch)
        body = {"type": source.kind, "name": source.name, "hash": source.hash}
        query = {"name": check_reference_name(name), "type": kind}
        return _reference(self._call("POST", "/trees", body=body, query=query)["reference"])

    def create_branch(self, name: str, from_ref: str | None = None) -> Reference:
        """A new branch at the head of ``from_ref`` (the default branch when None)."""
        return self._create(name, "BRANCH", from_ref)

    def create_tag(self, name: str, from_ref: str | None = None) -> Reference:
        """A new tag at the head of ``from_ref`` (the default branch when None)."""
        return self._create(name, "TAG", from_ref)

    def delete_reference(self, name: str) -> None:
        current = self.reference(name)
        self._call("DELETE", f"/trees/{_path_ref(current.name, current.hash)}", query={"type": current.kind})

    def create_namespace(self, branch: str, namespace: Sequence[str], message: str) -> Reference:
        """Commit a namespace (Nessie content type NAMESPACE) to ``branch``; the branch's new head."""
        elements = list(namespace)
        operation = {
            "type": "PUT",
            "key": {"elements": elements},
            "content": {"type": "NAMESPACE", "elements": elements},
        }
        return self._commit(branch, [operation], message)

    def _commit(self, branch: str, operations: list[dict[str, Any]], message: str) -> Reference:
        head = self.reference(branch)
        if head.kind != "BRANCH":
            raise NessieError(f"{branch!r} is a tag: commits go to branches")
        body = {
            "commitMeta": {"message": message, "authors": [self._author]},
            "operations": operations,
        }
        result = self._call("POST", f"/trees/{_path_ref(head.name, head.hash)}/history/commit", body=body)
        return _reference(result["targetBranch"])

    def entries(self, ref: str) -> list[Entry]:
        found: list[Entry] = []
        token: str | None = None
        while True:
            query = {"maxRecords": "500"} | ({"pageToken": token} if token else {})
            body = self._call("GET", f"/trees/{_path_ref(ref)}/entries", query=query)
            found += [
                Entry(key=tuple(item["name"]["elements"]), content_type=str(item["type"]))
                for item in body.get("entries", [])
            ]
            token = body.get("token")
            if not body.get("hasMore") or not token:
                return found

    def log(self, ref: str, limit: int = 20) -> list[LogEntry]:
        """The newest ``limit`` commits reachable from ``ref``, newest first."""
        body = self._call("GET", f"/trees/{_path_ref(ref)}/history", query={"maxRecords": str(limit)})
        entries = []
        for item in body.get("logEntries", [])[:limit]:
            meta = item["commitMeta"]
            authors = meta.get("authors") or [meta.get("author", "")]
            entries.append(
                LogEntry(
                    hash=str(meta["hash"]),
                    message=str(meta.get("message", "")),
                    author=str(authors[0] if authors else ""),
                    commit_time=str(meta.get("commitTime", "")),
                )
            )
        return entries

    def merge(
        self, from_branch: str, into: str | None = None, message: str | None = None, *, force: bool = False
    ) -> Reference:
        """Merge ``from_branch``'s head into ``into`` (the default branch) as one commit; ``into``'s new
        head. ``force``: a key changed on both sides takes ``from_branch``'s content (Nessie's FORCE
        merge mode) instead of failing with ReferenceConflict. A target still at the empty root is
        fast-forwarded to ``from_branch`` (Nessie 0.99 finds no common ancestor to merge from)."""
        source = self.reference(from_branch)
        target = self.reference(into or self.server_config().default_branch)
        if target.hash == NO_ANCESTOR:
            return self.assign(target.name, source.hash)
        body: dict[str, Any] = {"fromRefName": source.name, "fromHash": source.hash}
        if message is not None:
            body["commitMeta"] = {"message": message, "authors": [self._author]}
        if force:
            body["defaultKeyMergeMode"] = "FORCE"
        self._call("POST", f"/trees/{_path_ref(target.name, target.hash)}/history/merge", body=body)
        return self.reference(target.name)

    def assign(self, name: str, to_hash: str) -> Reference:
        """Point the branch or tag ``name`` at commit ``to_hash`` (move a tag, fast-forward a branch)."""
        current = self.reference(name)
        body = {"type": current.kind, "name": current.name, "hash": to_hash}
        path = f"/trees/{_path_ref(current.name, current.hash)}"
        return _reference(self._call("PUT", path, body=body, query={"type": current.kind})["reference"])


def _http_error(method: str, path: str, status: int, raw: bytes) -> NessieError:
    try:
        body = json.loads(raw)
        code, message = str(body.get("errorCode", "")), str(body.get("message", ""))
    except ValueError:
        code, message = "", raw.decode(errors="replace").strip()[:300]
    text = f"Nessie answered {status} to {method} {path}: {message or code}"
    if code == "REFERENCE_NOT_FOUND" or (status == 404 and not code):
        return ReferenceNotFound(text)
    if code == "REFERENCE_ALREADY_EXISTS":
        return ReferenceExists(text)
    if code == "REFERENCE_CONFLICT" or status == 409:
        return ReferenceConflict(text)
    return NessieError(text)
