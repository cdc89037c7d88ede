"""Judge benchmarks: parsing speed, scorer throughput (fresh and cached) against the test
server, audit computation time, and the recovery of a scripted judge's known biases.

Run: .venv/bin/python bench/judges.py [--embedded]
(--embedded also audits SmolLM2-135M through llama-cpp-python, when installed.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from nullband.judges.audit import AuditSettings, JudgeAnswers, compute_audit
from nullband.judges.audit_run import AuditConfig, run_audit
from nullband.judges.parse import parse_grade, parse_verdict
from nullband.judges.trust import TrustFloors
from nullband.records import Provenance, Record
from nullband.score.judge import PairwiseJudgeScorer
from nullband.suite.case import Case
from nullband.testserver import Reply, ServerRequest, TestServer

_A = re.compile(r"<answer_a>\s*(.*?)\s*</answer_a>", re.S)


def bench_parse() -> None:
    replies = [
        "Reasoning ... Score: 4/5",
        '{"reason": "ok", "score": 3}',
        "long text " * 40 + "[[4]]",
        "nothing readable here " * 10,
    ]
    n = 20_000
    t = time.perf_counter()
    for i in range(n):
        parse_grade(replies[i % 4])
    grade_rate = n / (time.perf_counter() - t)
    verdicts = ["Thinking... [[B]]", '{"winner": "A"}', "Final verdict: tie", "hmm " * 30]
    t = time.perf_counter()
    for i in range(n):
        parse_verdict(verdicts[i % 4])
    verdict_rate = n / (time.perf_counter() - t)
    print(f"parse_grade: {grade_rate:,.0f} replies/s; parse_verdict: {verdict_rate:,.0f} replies/s")


def _responder(bias: float, noise: float, seed: int):  # type: ignore[no-untyped-def]
    def answer(req: ServerRequest) -> Reply:
        digest = hashlib.sha256(f"{seed}|{req.case_key}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        if rng.random() < bias:
            return Reply(content="[[A]]")
        a = _A.search(req.last_user_text)
        better = "A" if a and "GOOD" in a.group(1) else "B"
        if rng.random() < noise:
            better = "B" if better == "A" else "A"
        return Reply(content=f"Verdict: [[{better}]]")

    return answer


async def _score_all(srv: TestServer, cache: str, n: int) -> tuple[float, int, int]:
    scorer = PairwiseJudgeScorer(
        judge={"name": "j", "base_url": srv.base_url, "model": "judge", "concurrency": 64},
        cache=cache,
    )
    cases = [Case(id=f"c{i}", prompt=f"q{i}", expected=f"ref {i}") for i in range(n)]
    recs = [
        Record(
            run_id="b",
            case_id=c.id,
            case_hash="h",
            target="t",
            request_hash="h",
            status="ok",
            output_text=f"cand {c.id} GOOD",
            provenance=Provenance(requested="m"),
            created_at=datetime.now(UTC),
        )
        for c in cases
    ]
    sem = asyncio.Semaphore(64)

    async def one(c: Case, r: Record) -> None:
        async with sem:
            await scorer.ascore(c, r)

    t = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for c, r in zip(cases, recs, strict=True):
            tg.create_task(one(c, r))
    dt = time.perf_counter() - t
    usage = scorer.report.usage[0]
    await scorer.aclose()
    return dt, usage.calls, usage.cache_hits


def bench_scorer(n: int = 1000) -> None:
    with tempfile.TemporaryDirectory() as tmp, TestServer(responder=_responder(0, 0, 0)) as srv:
        cache = str(Path(tmp) / "cache.db")
        dt, calls, _ = asyncio.run(_score_all(srv, cache, n))
        print(
            f"judge_pairwise, {n} records (2 calls each), fresh: {dt:.2f} s, "
            f"{n / dt:,.0f} records/s, {calls / dt:,.0f} judge calls/s"
        )
        dt, calls, hits = asyncio.run(_score_all(srv, cache, n))
        print(
            f"judge_pairwise, {n} records, cached rerun: {dt:.2f} s, {n / dt:,.0f} records/s "
            f"({calls} calls, {hits} cache hits)"
        )


def bench_audit_compute(n: int = 200, k: int = 5, judges: int = 3) -> None:
    rng = np.random.default_rng(0)
    answers = []
    for j in range(judges):
        fwd = [[("A" if x < 0.6 else "B") for x in rng.random(k)] for _ in range(n)]
        swp = [[("A" if x < 0.5 else "B") for x in rng.random(k)] for _ in range(n)]
        answers.append(JudgeAnswers(f"j{j}", "m", forward=fwd, swapped=swp))  # type: ignore[arg-type]
    human = [("candidate", "reference", "tie")[i % 3] for i in range(n)]
    settings = AuditSettings(
        mode="pairwise", samples=k, temperature=0.0, floors=TrustFloors(), resamples=2000
    )
    t = time.perf_counter()
    compute_audit(settings, [f"i{i}" for i in range(n)], answers, human)  # type: ignore[arg-type]
    print(
        f"audit computation: {n} items x {k} samples x 2 orders x {judges} judges, "
        f"2000 resamples per interval: {time.perf_counter() - t:.2f} s"
    )


def bench_recovery(n: int = 100, k: int = 5) -> None:
    from math import comb

    b, e = 0.3, 0.15

    def flip(p: float) -> float:
        return sum(
            comb(k, x) * p**x * (1 - p) ** (k - x) * (1 - max(x, k - x) / k) for x in range(k + 1)
        )

    p1, p2 = b + (1 - b) * (1 - e), b + (1 - b) * e
    truth = {
        "mean flip rate": (flip(p1) + flip(p2)) / 2,
        "position consistency": p1 * (1 - p2) + (1 - p1) * p2,
        "first-position rate": (p1 + p2) / 2,
    }
    with tempfile.TemporaryDirectory() as tmp, TestServer(responder=_responder(b, e, 5)) as srv:
        with (Path(tmp) / "items.jsonl").open("w") as f:
            for i in range(n):
                good = i % 2 == 0
                f.write(
                    json.dumps(
                        {
                            "id": f"i{i}",
                            "prompt": f"q{i}",
                            "candidate": "GOOD" if good else "BAD",
                            "reference": "BAD" if good else "GOOD",
                        }
                    )
                    + "\n"
                )
        cfg = AuditConfig.model_validate(
            {
                "mode": "pairwise",
                "items": "items.jsonl",
                "samples": k,
                "concurrency": 64,
                "judges": [{"name": "j", "base_url": srv.base_url, "model": "judge"}],
                "trust": {"require_human_labels": False},
            }
        )
        t = time.perf_counter()
        audit = asyncio.run(run_audit(cfg, base_dir=tmp))
        dt = time.perf_counter() - t
    e0 = audit.judges[0]
    assert e0.position is not None
    got = {
        "mean flip rate": e0.self_consistency.mean_flip_rate,
        "position consistency": e0.position.consistency,
        "first-position rate": e0.position.first_position_rate,
    }
    print(
        f"audit of a scripted judge (first-position bias {b}, noise {e}), {n} items x {k} "
        f"samples x 2 orders = {n * k * 2} calls in {dt:.2f} s:"
    )
    for name, est in got.items():
        print(f"  {name:22s} true {truth[name]:.3f}  measured {est.describe()}")


def bench_embedded() -> None:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        print("embedded: llama_cpp not installed, skipped")
        return
    from nullband.demo.llama import LlamaServer, file_digest, find_gguf
    from nullband.judges.render import render_audit

    qs = [
        ("What is 2+2?", "4", "5"),
        ("What is the capital of France?", "Paris", "Berlin"),
        ("How many legs does a spider have?", "Eight", "Six"),
        ("Which planet is closest to the sun?", "Mercury", "Jupiter"),
        ("At what Celsius temperature does water boil at sea level?", "100", "50"),
        ("What is the chemical symbol for gold?", "Au", "Ag"),
        ("How many continents are there?", "Seven", "Five"),
        ("What is 7 times 8?", "56", "54"),
    ]
    gguf = find_gguf()
    with tempfile.TemporaryDirectory() as tmp:
        with (Path(tmp) / "items.jsonl").open("w") as f:
            for i, (q, good, bad) in enumerate(qs):
                cg = i % 2 == 0
                f.write(
                    json.dumps(
                        {
                            "id": f"q{i}",
                            "prompt": q,
                            "candidate": good if cg else bad,
                            "reference": bad if cg else good,
                            "human": "candidate" if cg else "reference",
                        }
                    )
                    + "\n"
                )
        with LlamaServer(gguf, "smollm2-135m-" + file_digest(gguf)) as srv:
            cfg = AuditConfig.model_validate(
                {
                    "mode": "pairwise",
                    "items": "items.jsonl",
                    "samples": 3,
                    "temperature": 0.8,
                    "concurrency": 2,
                    "system": "",
                    "template": "Question: {question}\nAnswer A: {answer_a}\nAnswer B: "
                    "{answer_b}\nWhich answer is correct, A or B? Reply with one letter.",
                    "judges": [
                        {
                            "name": "smollm2",
                            "base_url": srv.base_url,
                            "model": srv.model_alias,
                            "params": {"max_tokens": 12},
                            "timeout_s": 120,
                        }
                    ],
                }
            )
            t = time.perf_counter()
            audit = asyncio.run(run_audit(cfg, base_dir=tmp))
            dt = time.perf_counter() - t
    print(f"embedded SmolLM2-135M as judge: {len(qs) * 3 * 2} calls in {dt:.1f} s")
    print(render_audit(audit))


def main() -> None:
    print(f"nullband judges bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    bench_parse()
    bench_scorer()
    bench_audit_compute()
    bench_recovery()
    if "--embedded" in sys.argv:
        bench_embedded()


if __name__ == "__main__":
    main()
