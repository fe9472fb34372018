"""The baseline of `loyalty bench reads`: the same balance read as a bare FastAPI endpoint over
the raw driver (sqlite3 or psycopg), one connection per worker thread, no ORM, no auth, no
middleware. Served by uvicorn like the engine, so the two differ only in the engine's own work."""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

from fastapi import FastAPI

QUERY = (
    "SELECT a.unit, a.available, a.pending, a.debt FROM ledger_accounts a"
    " JOIN customers c ON c.id = a.customer_id WHERE c.external_id = {mark} ORDER BY a.unit"
)


def app() -> FastAPI:
    url = os.environ["DATABASE_URL"]
    local = threading.local()
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        sql = QUERY.format(mark="?")

        def connect() -> Any:
            conn = sqlite3.connect(path, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            return conn
    else:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        sql = QUERY.format(mark="%s")

        def connect() -> Any:
            return psycopg.connect(dsn, autocommit=True)

    api = FastAPI()

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/balances/{external_id}")
    def balances(external_id: str) -> dict[str, Any]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect()
        rows = conn.execute(sql, (external_id,)).fetchall()
        return {
            "customer_id": external_id,
            "balances": [
                {"unit": u, "available": a, "pending": p, "debt": d} for u, a, p, d in rows
            ],
        }

    return api
