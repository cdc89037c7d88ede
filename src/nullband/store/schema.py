"""The current schema of the store, as SQLAlchemy Core tables (used for queries).

The tables are created and changed only by :mod:`nullband.store.migrations`; this module
describes what the latest migration leaves behind. Records keep their hot fields as
columns (status, models, tokens, cost, latency, time) for SQL aggregates and drift, plus
the full record as JSON (``body``) for fidelity. Scores live in their own JSON columns so
that re-scoring is an UPDATE without touching the body.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from nullband.store._types import UTCDateTime

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("config_path", Text),
    Column("config_hash", String(128), nullable=False),
    Column("config", Text, nullable=False),
    Column("targets", Text, nullable=False),
    Column("n_cases", Integer, nullable=False),
    Column("epochs", Integer, nullable=False),
    # v1 kept case metadata here as JSON; since v2 it lives in run_cases and this is "{}".
    Column("cases", Text, nullable=False),
    Column("note", Text),
    # v5: what the run's judge calls cost (they have no records of their own)
    Column("judge_cost_usd", Float, nullable=False, server_default="0"),
    Column("judge_tokens", Integer, nullable=False, server_default="0"),
)

records = Table(
    "records",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("case_id", String(512), primary_key=True),
    Column("target", String(200), primary_key=True),
    Column("epoch", Integer, primary_key=True, autoincrement=False),
    Column("case_hash", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("error_class", String(32)),
    Column("error", Text),
    Column("requested_model", Text, nullable=False),
    Column("routed_model", Text),
    Column("served_model", Text),
    Column("fingerprint", Text),
    Column("provider", Text),
    Column("mismatch", Boolean, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("latency_s", Float),
    Column("created_at", UTCDateTime, nullable=False),
    Column("scores", Text, nullable=False),
    Column("score_reasons", Text, nullable=False),
    Column("body", Text, nullable=False),
    # Cost and tokens of earlier calls of this key that a resume replaced (v4).
    Column("superseded_cost_usd", Float, nullable=False, server_default="0"),
    Column("superseded_tokens", Integer, nullable=False, server_default="0"),
)

Index(
    "ix_records_target_time",
    records.c.run_id,
    records.c.target,
    records.c.created_at,
    records.c.case_id,
    records.c.epoch,
)

run_cases = Table(
    "run_cases",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("case_id", String(512), primary_key=True),
    Column("case_hash", String(128), nullable=False),
    Column("segments", Text, nullable=False),
    Column("weight", Float, nullable=False),
    Column("adversarial", Boolean, nullable=False),
    Column("cluster", Text),
    Column("body", Text),
)
