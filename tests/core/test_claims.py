"""Claims → identity (``core/claims.py``), driven by ``tests/data/claims_cases.yaml``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ssomw.core.claims import ClaimRules, sign_in_level, signed_in

CASES = yaml.safe_load((Path(__file__).resolve().parents[1] / "data/claims_cases.yaml")
                       .read_text())


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CASES])
def test_identity_from_claims(case: dict) -> None:
    who = signed_in(ClaimRules.from_settings("p", case["provider"]), case["claims"])
    if case["expect"] is None:
        assert who is None
        return
    assert who is not None
    assert {"user": who.user, "email": who.email,
            "name_is_authoritative": who.name_is_authoritative} == case["expect"]


def test_groups_claim_is_cleaned() -> None:
    who = signed_in(ClaimRules("p"), {"sub": "s", "groups": ["b", "a", "", 3, "a"]})
    assert who is not None and who.groups == ("a", "b")
    assert signed_in(ClaimRules("p"), {"sub": "s", "groups": "solo"}).groups == ("solo",)


@pytest.mark.parametrize("claims, expected", [
    pytest.param({"acr": "mfa", "amr": ["pwd", "otp"], "auth_time": 100},
                 {"acr": "mfa", "amr": ["pwd", "otp"], "auth_time": 100.0}, id="all"),
    pytest.param({}, {"acr": None, "amr": None, "auth_time": None}, id="none"),
    pytest.param({"acr": 2, "amr": "pwd", "auth_time": True},
                 {"acr": None, "amr": None, "auth_time": None}, id="wrong-types"),
])
def test_sign_in_level(claims: dict, expected: dict) -> None:
    assert sign_in_level(claims) == expected
