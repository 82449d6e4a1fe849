"""The local object store (s3proxy) through the S3 API: SigV4-signed requests for its health probe.

s3proxy is a child of ``persona stack up`` (see ``stack.py``). The signing is AWS Signature Version 4
(pure, unit-tested on AWS's documented example), so the probe proves the stack's credentials work, not
only that a port is open.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from persona.localstack.configs import ICEBERG_BUCKET, S3_REGION
from persona.localstack.errors import StackError
from persona.localstack.settings import StackSettings

EMPTY_PAYLOAD_SHA256 = hashlib.sha256(b"").hexdigest()
_ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _uri_encode(text: str, *, keep_slash: bool) -> str:
    # SigV4 encodes everything but unreserved characters (RFC 3986), '/' kept in paths.
    return urllib.parse.quote(text, safe="/~" if keep_slash else "~")


def sigv4_headers(
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: dt.datetime,
    service: str = "s3",
) -> dict[str, str]:
    """The headers to send: ``headers`` plus host, x-amz-date, x-amz-content-sha256 and Authorization.

    Every header given is signed. ``now`` must be timezone-aware.
    """
    amz_date = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    all_headers = {
        **{name.lower(): " ".join(value.strip().split()) for name, value in headers.items()},
        "host": host,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_sha256,
    }
    names = sorted(all_headers)
    canonical_query = "&".join(
        f"{_uri_encode(key, keep_slash=False)}={_uri_encode(value, keep_slash=False)}"
        for key, value in sorted(query.items())
    )
    canonical_request = "\n".join(
        [
            method,
            _uri_encode(path, keep_slash=True),
            canonical_query,
            "".join(f"{name}:{all_headers[name]}\n" for name in names),
            ";".join(names),
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region), service), "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = f"{_ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"
    return {**{name: all_headers[name] for name in names if name != "host"}, "Authorization": authorization}


@dataclass(frozen=True)
class S3Response:
    status: int
    body: bytes


def s3_request(
    settings: StackSettings,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> S3Response:
    """One signed request to the local S3 endpoint with an empty body; any HTTP status is returned."""
    host = f"127.0.0.1:{settings.s3_port}"
    query = dict(query or {})
    headers = sigv4_headers(
        method=method,
        host=host,
        path=path,
        query=query,
        headers={},
        payload_sha256=EMPTY_PAYLOAD_SHA256,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.reveal(),
        region=S3_REGION,
        now=dt.datetime.now(dt.UTC),
    )
    url = f"http://{host}{urllib.parse.quote(path)}" + ("?" + urllib.parse.urlencode(query) if query else "")
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return S3Response(response.status, response.read())
    except urllib.error.HTTPError as error:
        return S3Response(error.code, error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise StackError(f"the S3 endpoint {settings.s3_endpoint} is unreachable: {reason}") from None


def list_buckets(settings: StackSettings, timeout: float = 5.0) -> list[str]:
    """ListBuckets with the stack's credentials; a StackError names S3's error code on refusal."""
    response = s3_request(settings, "GET", "/", timeout=timeout)
    if response.status != 200:
        raise StackError(f"S3 ListBuckets answered {response.status}: {_s3_error(response.body)}")
    return re.findall(r"<Name>([^<]+)</Name>", response.body.decode(errors="replace"))


def _s3_error(body: bytes) -> str:
    text = body.decode(errors="replace")
    code = re.search(r"<Code>([^<]+)</Code>", text)
    message = re.search(r"<Message>([^<]+)</Message>", text)
    if code:
        return code.group(1) + (f" ({message.group(1)})" if message else "")
    return text.strip()[:200] or "(empty body)"


def probe(settings: StackSettings, timeout: float = 3.0) -> tuple[bool, str]:
    """Health: a signed ListBuckets succeeds and the Iceberg warehouse bucket is there."""
    try:
        buckets = list_buckets(settings, timeout)
    except StackError as error:
        return False, str(error)
    if ICEBERG_BUCKET not in buckets:
        return False, f"S3 answers but the warehouse bucket {ICEBERG_BUCKET} is missing (buckets: {buckets})"
    return True, f"S3 (s3proxy, filesystem backend), bucket {ICEBERG_BUCKET} ({settings.s3_endpoint})"
