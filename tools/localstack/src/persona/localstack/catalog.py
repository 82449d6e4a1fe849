"""The local Nessie server's health: its REST API (references) and its Iceberg REST catalog.

Nessie is a child of ``persona stack up`` (see ``stack.py``); persona talks to it through the
``persona.nessie`` adapter, pyiceberg and Trino through ``/iceberg``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from pyiceberg.catalog import Catalog

from persona.iceberg import S3Options, rest_catalog
from persona.localstack.configs import NESSIE_WAREHOUSE, S3_REGION
from persona.localstack.settings import StackSettings
from persona.nessie import NessieError, NessieRest
from persona.nessie.client import NO_ANCESTOR

PUBLICATION_NAMESPACE = "persona"
"""The Iceberg namespace the publication writes persona's tables into (``persona.marketing_segments``);
tools/publish names it too (a test keeps the two equal)."""


def ensure_nessie_main(settings: StackSettings) -> bool:
    """Give Nessie's ``main`` a first commit, the publication's namespace, while it is still at the
    empty root (or lacks the namespace); True if this made it.

    Nessie 0.99 cannot merge into a branch at the root (no common ancestor): a logic branch made from
    an empty main could only be fast-forwarded into it, and a fast-forward has no merge commit to carry
    the release's message. With this commit, every branch made from main shares an ancestor with it.
    """
    client = nessie_client(settings)
    main = client.reference("main")
    # A main with commits of its own may still lack the namespace (made by other tools): add it then too.
    if main.hash != NO_ANCESTOR and (PUBLICATION_NAMESPACE,) in {e.key for e in client.entries("main")}:
        return False
    client.create_namespace("main", [PUBLICATION_NAMESPACE], f"persona: namespace {PUBLICATION_NAMESPACE}")
    return True


def iceberg_rest_uri(settings: StackSettings, branch: str = "main") -> str:
    """The Iceberg REST catalog URI of ``branch``: Nessie serves each reference under its own prefix."""
    return f"{settings.nessie_url}/iceberg/{branch}"


def nessie_client(settings: StackSettings, timeout: float = 10.0) -> NessieRest:
    return NessieRest(settings.nessie_url, timeout=timeout)


def _iceberg_config(settings: StackSettings, timeout: float) -> dict[str, str]:
    url = f"{settings.nessie_url}/iceberg/v1/config?warehouse={NESSIE_WAREHOUSE}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise NessieError(f"Iceberg REST config answered {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        raise NessieError(f"Iceberg REST config unreachable: {getattr(error, 'reason', error)}") from None
    return {**body.get("defaults", {}), **body.get("overrides", {})}


def probe(settings: StackSettings, timeout: float = 3.0) -> tuple[bool, str]:
    """Health: the v2 API answers with its configuration and references, and the Iceberg REST
    catalog answers with the warehouse Nessie was configured with."""
    client = nessie_client(settings, timeout)
    try:
        config = client.server_config()
        references = client.references()
        iceberg = _iceberg_config(settings, timeout)
    except NessieError as error:
        return False, str(error)
    branches = sum(1 for ref in references if ref.kind == "BRANCH")
    tags = len(references) - branches
    return True, (
        f"Nessie (API v{config.min_api_version}-v{config.max_api_version}, spec {config.spec_version}), "
        f"{branches} branches, {tags} tags; Iceberg REST warehouse {iceberg.get('warehouse', '?')}"
    )


def iceberg_s3_options(settings: StackSettings) -> S3Options:
    """How pyiceberg reaches the stack's object store (s3proxy) with the stack's credentials."""
    return S3Options(
        endpoint=settings.s3_endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.reveal(),
        region=S3_REGION,
    )


def iceberg_catalog(settings: StackSettings, branch: str = "main") -> Catalog:
    """pyiceberg's view of Nessie's Iceberg REST catalog on ``branch``."""
    return rest_catalog(
        iceberg_rest_uri(settings, branch), iceberg_s3_options(settings), warehouse=NESSIE_WAREHOUSE
    )


def history_probe(settings: StackSettings, timeout: float = 3.0) -> tuple[bool, str]:
    """Health of the history catalog (Apache Iceberg's REST catalog server): ``/v1/config`` answers
    and ``/v1/namespaces`` lists (the second goes through its SQLite catalog)."""
    base = settings.iceberg_rest_url
    try:
        with urllib.request.urlopen(f"{base}/v1/config", timeout=timeout) as response:
            config = json.loads(response.read())
        with urllib.request.urlopen(f"{base}/v1/namespaces", timeout=timeout) as response:
            namespaces = json.loads(response.read()).get("namespaces", [])
    except urllib.error.HTTPError as error:
        return False, f"history catalog answered {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return False, f"history catalog unreachable: {getattr(error, 'reason', error)}"
    endpoints = len(config.get("endpoints", []))
    return True, f"Iceberg REST catalog ({endpoints} endpoints), {len(namespaces)} namespaces"


def history_catalog(settings: StackSettings) -> Catalog:
    """pyiceberg's view of the history catalog (main's publications with their snapshots and tags)."""
    return rest_catalog(settings.iceberg_rest_url, iceberg_s3_options(settings))
