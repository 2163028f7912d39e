"""Integers past 64 bits are refused, not stored as rounded floats."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import fault

JSON_BODY = {"Content-Type": "application/json"}


@pytest.mark.parametrize("number", [str(2**70), str(2**64), str(-(2**63) - 1), "-" + "9" * 300])
def test_an_integer_past_64_bits_is_refused(client: TestClient, number: str) -> None:
    body = '{"driver": "fake-hardware", "extra": {"n": ' + number + "}}"
    response = client.post("/v1/nodes", content=body.encode(), headers=JSON_BODY)
    assert response.status_code == 400
    assert "-9223372036854775808 to 18446744073709551615" in fault(response)
    assert client.get("/v1/nodes").json()["nodes"] == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (str(2**64 - 1), 2**64 - 1),
        (str(-(2**63)), -(2**63)),
        ("1.5e300", 1.5e300),
        ('"' + "9" * 40 + '"', "9" * 40),
        ("12345678901234567890.5", 12345678901234567890.5),
    ],
)
def test_numbers_that_fit_are_kept(client: TestClient, text: str, value: object) -> None:
    body = '{"driver": "fake-hardware", "extra": {"n": ' + text + "}}"
    response = client.post("/v1/nodes", content=body.encode(), headers=JSON_BODY)
    assert response.status_code == 201, response.text
    assert response.json()["extra"] == {"n": value}
