"""The balance read as a fast route (see `loyalty_engine.auth.middleware.FastRoute`): the same
queries and the same response model as `GET /v1/customers/{external_id}/balances`, answered on
the connection that authenticated the request. Anything but the plain success case returns None
and the route answers (404, 422...)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from sqlalchemy import Connection

from loyalty_engine.auth.middleware import FastRoute
from rewards import queries
from rewards.routes import DEFAULT_EXPIRING_DAYS, MAX_EXPIRING_DAYS, balances_read

BALANCES_TEMPLATE = "/v1/customers/{external_id}/balances"


def balances(conn: Connection, params: dict[str, str], query: bytes, now: datetime) -> bytes | None:
    days = DEFAULT_EXPIRING_DAYS
    if query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if [name for name, _ in pairs] != ["expiring_within_days"]:
            return None
        value = pairs[0][1]
        if not value.isdigit() or not 1 <= int(value) <= MAX_EXPIRING_DAYS:
            return None
        days = int(value)
    external_id = params["external_id"]
    found = conn.execute(queries.CUSTOMER_ID, {"external_id": external_id}).scalar_one_or_none()
    if found is None:
        return None
    summaries = queries.balance_summaries(
        conn, customer_id=int(found), now=now, within=timedelta(days=days)
    )
    return balances_read(external_id, now, days, summaries).model_dump_json().encode()


FAST_ROUTES = (FastRoute(BALANCES_TEMPLATE, balances),)
