"""Clustering, stratified sampling with floors, coverage of a suite, HTTP embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from nullband.suite.case import Case
from nullband.testserver import TestServer
from nullband.traces.coverage import coverage
from nullband.traces.embed import embed_traces_http
from nullband.traces.sample import allocate, stratified_sample
from nullband.traces.schema import Step, Trace
from nullband.traces.scrub import ScrubbedTrace, ScrubSession

INTENTS = {
    "refund": "refund money back for my order purchase refund",
    "password_reset": "reset forgotten password login sign in password",
    "shipping_status": "where is my parcel shipment tracking delivery",
    "invoice_copy": "send invoice copy billing pdf invoice document",
    "cancel_subscription": "cancel subscription stop monthly plan cancel",
    "upgrade_plan": "upgrade premium pro tier more seats upgrade",
    "address_change": "change shipping address update street address",
    "bug_report": "app crashes bug error screen freeze crash",
    "api_quota": "api rate limit quota exceeded 429 requests",
    "data_export": "export data download archive gdpr export",
    "account_delete": "delete account permanently erase profile close",
}
SYSTEM = "You are the support agent."


def _intent_corpus(seed: int) -> list[ScrubbedTrace]:
    """Labelled traces of 11 intents, unequal sizes, with random filler words."""
    rng = np.random.default_rng(seed)
    filler = ["please", "today", "thanks", "asap", "hello", "team", "again", "kindly", "urgent"]
    session = ScrubSession()
    out = []
    for name, words in INTENTS.items():
        vocab = words.split()
        for j in range(int(rng.integers(30, 70))):
            picked = " ".join(str(w) for w in rng.choice(vocab, size=5))
            text = f"{rng.choice(filler)} {picked} {rng.choice(filler)}"
            tid = f"{name}-{j}"
            step = Step(
                trace_id=tid,
                step_id=f"{tid}-1",
                segments={
                    "intent": name,
                    "customer": ["acme", "globex", "tiny"][j % 3 if j < 60 else 0],
                },
                input_messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": text},
                ],
            )
            out.append(session.scrub_trace(Trace.from_steps([step])))
    return out


def test_coverage_names_the_intents_a_four_intent_suite_misses() -> None:
    traces = _intent_corpus(seed=2026)
    covered = ["refund", "password_reset", "shipping_status", "invoice_copy"]
    cases = [
        Case(
            id=f"{n}-{k}",
            input=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": " ".join(INTENTS[n].split()[k : k + 4])},
            ],
        )
        for n in covered
        for k in range(2)
    ]
    report = coverage(traces, cases, label_key="intent", min_cluster_size=10)
    assert report.state == "ok"
    assert {n.name for n in report.names} == set(INTENTS)  # every intent surfaced as a cluster
    assert sorted(report.missed) == sorted(set(INTENTS) - set(covered))
    assert report.covered_share is not None
    assert 0.2 < report.covered_share < 0.6


def test_allocation_is_proportional_with_floors() -> None:
    assert allocate({0: 80, 1: 15, 2: 5}, 20, 1) == {0: 16, 1: 3, 2: 1}
    floored = allocate({0: 80, 1: 15, 2: 5}, 20, 3)
    assert floored[2] == 3  # the floor lifts the small cluster
    assert sum(floored.values()) >= 20
    assert allocate({0: 2, 1: 100}, 50, 5)[0] == 2  # a floor never exceeds the cluster


def test_sample_is_seeded_stratified_and_respects_floors() -> None:
    traces = _intent_corpus(seed=7)
    a = stratified_sample(
        traces,
        60,
        seed=42,
        floor_per_cluster=2,
        floor_per_segment=12,
        segment_keys=["customer"],
        label_key="intent",
        min_cluster_size=10,
    )
    b = stratified_sample(
        traces,
        60,
        seed=42,
        floor_per_cluster=2,
        floor_per_segment=12,
        segment_keys=["customer"],
        label_key="intent",
        min_cluster_size=10,
    )
    c = stratified_sample(
        traces,
        60,
        seed=43,
        floor_per_cluster=2,
        floor_per_segment=12,
        segment_keys=["customer"],
        label_key="intent",
        min_cluster_size=10,
    )
    assert a.trace_ids == b.trace_ids
    assert a.trace_ids != c.trace_ids
    assert a.seed == 42
    assert a.state == "ok"
    for cl in a.clusters:
        assert cl.sampled >= min(2, cl.size)
    assert all(n >= 12 for n in a.segments["customer"].values())  # "tiny" is rare but floored
    # proportionality: the share drawn from each real cluster is near its share of traffic
    total = sum(cl.size for cl in a.clusters)
    for cl in a.clusters:
        expected = 60 * cl.size / total
        assert abs(cl.sampled - expected) <= max(2, 0.5 * expected) + 12  # floors may add
    too_many = stratified_sample(traces[:10], 50, seed=0, min_cluster_size=3)
    assert too_many.state == "not_enough_data"
    assert too_many.n_selected == 10


def test_http_embeddings_from_the_test_server() -> None:
    traces = _intent_corpus(seed=3)[:40]
    with TestServer() as srv:
        x = embed_traces_http(traces, base_url=srv.base_url, model="embed-test", batch_size=16)
    assert x.shape[0] == 40
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0)
    # deterministic hashed bag of words: identical task texts embed identically
    again_srv = TestServer()
    with again_srv as srv2:
        y = embed_traces_http(traces, base_url=srv2.base_url, model="embed-test", batch_size=7)
    assert np.allclose(x, y)
    res = stratified_sample(traces, 10, seed=1, embeddings=x, min_cluster_size=3)
    assert res.embedding == "precomputed"
    assert res.n_selected >= 10


def test_http_embeddings_error_is_clear() -> None:
    from nullband.errors import TargetError

    traces = _intent_corpus(seed=3)[:3]
    with (
        TestServer() as srv,
        pytest.raises(TargetError, match=r"embeddings endpoint .* answered 404"),
    ):
        embed_traces_http(traces, base_url=srv.base_url + "/nope", model="m")
