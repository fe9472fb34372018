"""Probes and documents: /healthz, /readyz, /metrics, /openapi.json, and the error envelope."""

from __future__ import annotations

from fastapi.testclient import TestClient

from loyalty_engine.auth.permissions import PERMISSIONS


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok"},
        "alerts": [],
    }


def test_metrics_count_requests_by_route_template_and_ingest_outcomes(
    client: TestClient, admin: dict[str, str], make_customer: object
) -> None:
    make_customer("m-1")  # type: ignore[operator]
    event = {
        "type": "feature_used",
        "customer_id": "m-1",
        "occurred_at": "2026-03-01T00:00:00Z",
        "idempotency_key": "metric-1",
    }
    client.post("/v1/events", json={"events": [event, event]}, headers=admin)
    text = client.get("/metrics").text
    assert (
        'loyalty_http_requests_total{method="PUT",route="/v1/customers/{external_id}",status="201"}'
        in text
    )
    assert 'loyalty_events_ingested_total{outcome="accepted"}' in text
    assert 'loyalty_events_ingested_total{outcome="duplicate"}' in text
    assert 'loyalty_outbox_messages{status="pending"} 0.0' in text
    assert "m-1" not in text  # raw paths (customer ids) never become label values


def test_openapi_documents_every_route_and_its_errors(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert set(PERMISSIONS) <= operations
    ingest = document["paths"]["/v1/events"]["post"]
    assert ingest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/EventBatchIn"
    }
    assert {"401", "403", "413", "422"} <= set(ingest["responses"])
    assert "EventBatchIn" in document["components"]["schemas"]
    assert "EventIn" in document["components"]["schemas"]


def test_unknown_route_and_method_use_the_envelope(
    client: TestClient, admin: dict[str, str]
) -> None:
    missing = client.get("/v1/nothing-here", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
