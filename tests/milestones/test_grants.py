"""Manual milestones: granted by staff through the API or by a rule's grant_milestone action,
once (idempotent), announced once; unknown keys refused when a rule is saved; depth respected."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Keys
from tests.milestones.support import decisions, event, events_of, milestone, post, progress, rule

Headers = dict[str, str]
Make = Callable[..., dict[str, object]]
GRANT = "/v1/customers/acme/milestones/{}/grant"


@pytest.fixture
def acme(make_customer: Make) -> None:
    make_customer("acme")


def grant_rule(key: str = "champion", **changes: object) -> dict[str, object]:
    return {
        "key": "make-champion",
        "name": "Champion after a referral",
        "triggers": ["referral_made"],
        "actions": [{"type": "grant_milestone", "params": {"milestone": key}}],
        **changes,
    }


@pytest.mark.usefixtures("acme")
def test_staff_grant_a_manual_milestone_once(client: TestClient, keys: Keys) -> None:
    admin = keys.headers("admin")
    created = milestone(client, admin, key="champion", name="Champion")
    assert created["manual"] is True
    first = client.post(GRANT.format("champion"), headers=keys.headers("support"))
    assert first.status_code == 201, first.text
    assert (first.json()["granted"], first.json()["achieved_by"]) == (True, "staff")
    again = client.post(GRANT.format("champion"), headers=admin)
    assert again.status_code == 200
    assert again.json()["granted"] is False
    assert again.json()["achieved_at"] == first.json()["achieved_at"]
    [announced] = events_of(client, admin, "milestone_achieved")
    assert announced["properties"] == {"milestone": "champion", "achieved_by": "staff"}
    row = progress(client, admin)["champion"]
    assert (row["achieved"], row["progress"]["percent"]) == (True, 100)
    audit = client.get("/v1/milestones/champion/audit", headers=admin).json()
    assert [a["action"] for a in audit] == ["create", "grant"]
    assert audit[1]["diff"] == {"$.customer": {"before": None, "after": "acme"}}
    assert (
        client.post(GRANT.format("champion"), headers=keys.headers("marketer")).status_code == 403
    )


@pytest.mark.usefixtures("acme")
def test_a_grant_of_an_unknown_or_archived_milestone_is_refused(
    client: TestClient, admin: Headers
) -> None:
    unknown = client.post(GRANT.format("nope"), headers=admin)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "milestone_not_found")
    milestone(client, admin, key="old", name="Old")
    client.post("/v1/milestones/old/archive", headers=admin)
    archived = client.post(GRANT.format("old"), headers=admin)
    assert (archived.status_code, archived.json()["error"]["code"]) == (409, "milestone_archived")
    nobody = client.post("/v1/customers/nobody/milestones/old/grant", headers=admin)
    assert nobody.status_code == 404
    assert events_of(client, admin, "milestone_achieved") == []


@pytest.mark.usefixtures("acme")
def test_a_granted_milestone_with_steps_is_whole_and_stops_counting(
    client: TestClient, admin: Headers
) -> None:
    milestone(
        client, admin, key="busy", name="Busy", steps=[{"key": "u", "event": "used", "count": 5}]
    )
    post(client, admin, event("used", "u1"))
    assert client.post(GRANT.format("busy"), headers=admin).status_code == 201
    post(client, admin, event("used", "u2"))
    row = progress(client, admin)["busy"]
    assert (row["progress"]["numerator"], row["progress"]["denominator"]) == (1, 1)
    assert row["steps"][0]["count"] == 1
    assert len(events_of(client, admin, "milestone_achieved")) == 1


def test_grant_milestone_refuses_unknown_and_archived_keys_when_the_rule_is_saved(
    client: TestClient, admin: Headers
) -> None:
    milestone(client, admin, key="champion", name="Champion")
    milestone(client, admin, key="old", name="Old")
    client.post("/v1/milestones/old/archive", headers=admin)
    body = grant_rule(
        actions=[
            {"type": "grant_milestone", "params": {"milestone": "champoin"}},
            {"type": "grant_milestone", "params": {"milestone": "old"}},
            {"type": "grant_milestone", "params": {"milestone": "Not a key"}},
            {"type": "grant_milestone", "params": {"milestone": "champion"}},
        ]
    )
    response = client.post("/v1/rules", json=body, headers=admin)
    assert response.status_code == 422
    by_path = {d["path"]: d["message"] for d in response.json()["error"]["details"]}
    assert by_path == {
        "$.actions[0].params.milestone": "unknown milestone 'champoin'; did you mean champion?",
        "$.actions[1].params.milestone": "milestone 'old' is archived",
        "$.actions[2].params.milestone": by_path["$.actions[2].params.milestone"],
    }
    assert "pattern" in by_path["$.actions[2].params.milestone"]


@pytest.mark.usefixtures("acme")
def test_a_rule_grants_a_milestone_once_and_it_is_announced_once(
    client: TestClient, admin: Headers
) -> None:
    milestone(client, admin, key="champion", name="Champion")
    rule(client, admin, **grant_rule())
    post(client, admin, event("referral_made", "r1"))
    post(client, admin, event("referral_made", "r2"))
    first, second = decisions(client, admin)
    assert first["results"] == [
        {"type": "grant_milestone", "milestone": "champion", "granted": True}
    ]
    assert second["results"][0]["granted"] is False
    [announced] = events_of(client, admin, "milestone_achieved")
    assert announced["properties"] == {"milestone": "champion", "achieved_by": "rule"}
    assert progress(client, admin)["champion"]["achieved_by"] == "rule"


@pytest.mark.usefixtures("acme")
def test_achievements_deep_in_a_chain_of_follow_ups_are_recorded_but_not_announced(
    client: TestClient, admin: Headers
) -> None:
    """Events from outside are depth 0; each follow-up one deeper; none beyond depth 3."""
    for kind, then in (("a", "b"), ("b", "c"), ("c", "d")):
        rule(
            client,
            admin,
            key=f"chain-{kind}",
            name=f"{kind} then {then}",
            triggers=[kind],
            actions=[{"type": "emit_event", "params": {"type": then}}],
        )
    for kind in ("c", "d"):  # c arrives at depth 2, d at depth 3
        milestone(client, admin, key=f"saw_{kind}", name=kind, steps=[{"key": kind, "event": kind}])
    post(client, admin, event("a", "a1"))
    assert progress(client, admin)["*"] == ["saw_c", "saw_d"]
    announced = [
        e["properties"]["milestone"] for e in events_of(client, admin, "milestone_achieved")
    ]
    assert announced == ["saw_c"]
