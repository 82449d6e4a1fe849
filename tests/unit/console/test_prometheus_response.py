"""Turning the HTTP API's answer into samples (the adapter's only logic besides the request)."""

from __future__ import annotations

import pytest

from persona.console.prometheus import PrometheusError, samples_from_response
from persona.console.views import Sample


def test_vector() -> None:
    data = {
        "resultType": "vector",
        "result": [{"metric": {"sink": "rt"}, "value": [1765000000.5, "0.25"]}],
    }
    assert samples_from_response(data, "q") == [Sample({"sink": "rt"}, 0.25)]


def test_nan_is_kept_as_a_float() -> None:
    data = {"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]}
    (sample,) = samples_from_response(data, "q")
    assert sample.value != sample.value


def test_scalar() -> None:
    assert samples_from_response({"resultType": "scalar", "result": [1, "3"]}, "q") == [Sample({}, 3.0)]


def test_a_matrix_is_refused() -> None:
    with pytest.raises(PrometheusError, match="matrix"):
        samples_from_response({"resultType": "matrix", "result": []}, "q[5m]")
