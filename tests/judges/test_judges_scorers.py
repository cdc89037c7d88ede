"""The judge scorers end to end: real TargetClient, real test server on loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from judges_scripted import ScriptedJudge

from nullband.config.models import ScorerSpec
from nullband.errors import ScorerError
from nullband.records import Provenance, Record
from nullband.score.base import AsyncScorer, ScoreResult
from nullband.score.judge import PairwiseJudgeScorer, RubricJudgeScorer
from nullband.score.registry import load_scorer, score_record
from nullband.suite.case import Case
from nullband.targets.budget import Budget
from nullband.testserver import Reply, ServerRequest, TestServer


def _record(case: Case, text: str | None, epoch: int = 0) -> Record:
    return Record(
        run_id="r1",
        case_id=case.id,
        case_hash=case.content_hash(),
        epoch=epoch,
        target="cand",
        request_hash="h",
        status="ok",
        output_text=text,
        provenance=Provenance(requested="cand-model"),
        created_at=datetime.now(UTC),
    )


def _judge(srv: TestServer, name: str = "j1", **extra: Any) -> dict[str, Any]:
    return {"name": name, "base_url": srv.base_url, "model": f"judge-{name}", **extra}


async def _score(scorer: Any, case: Case, record: Record) -> ScoreResult:
    try:
        return await scorer.ascore(case, record)  # type: ignore[no-any-return]
    finally:
        await scorer.aclose()


def test_scorers_register_and_load_through_the_registry(
    judge_server: tuple[TestServer, ScriptedJudge],
) -> None:
    srv, _ = judge_server
    s = load_scorer(ScorerSpec(name="judge_rubric", options={"judge": _judge(srv), "cache": None}))
    assert isinstance(s, AsyncScorer)
    assert s.name == "judge_rubric"
    p = load_scorer(ScorerSpec(name="judge_pairwise", options={"judges": [_judge(srv)]}))
    assert p.name == "judge_pairwise"
    with pytest.raises(ScorerError, match="bad options"):
        load_scorer(ScorerSpec(name="judge_rubric", options={"judge": _judge(srv), "rpeats": 2}))
    with pytest.raises(ScorerError, match="not both"):
        RubricJudgeScorer(judge=_judge(srv), judges=[_judge(srv)])


def test_rubric_grade_is_normalised_and_cached(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    cache = str(tmp_path / "judge-cache.db")
    case = Case(id="c1", prompt="Explain X.", expected="X is Y")
    rec = _record(case, "grade=4 X is Y")
    r1 = asyncio.run(
        _score(RubricJudgeScorer(judge=_judge(srv), cache=cache, pass_grade=4), case, rec)
    )
    assert r1.values == {"judge_rubric": 0.75, "judge_rubric_grade": 4.0}
    assert r1.passed is True
    assert judge.calls == 1
    # a fresh scorer (a later run) with the same judge, prompt and inputs is not paid again
    s2 = RubricJudgeScorer(judge=_judge(srv), cache=cache, pass_grade=4)
    r2 = asyncio.run(_score(s2, case, rec))
    assert r2.values == r1.values
    assert judge.calls == 1
    assert s2.report.usage[0].cache_hits == 1
    assert s2.report.usage[0].calls == 0
    # another judge model is a different cache key
    asyncio.run(_score(RubricJudgeScorer(judge=_judge(srv, "j2"), cache=cache), case, rec))
    assert judge.calls == 2


def test_repeats_are_distinct_samples_and_averaged_per_case(
    judge_server: tuple[TestServer, ScriptedJudge],
) -> None:
    srv, judge = judge_server
    judge.noise, judge.seed = 0.5, 4  # half the samples say grade+1
    case = Case(id="c2", prompt="Q")
    scorer = RubricJudgeScorer(judge=_judge(srv), repeats=8, temperature=0.7, cache=None)
    res = asyncio.run(_score(scorer, case, _record(case, "grade=3")))
    assert judge.calls == 8
    graded = [int(r.split('"score": ')[1][0]) for r in judge.replies.values()]
    assert res.values["judge_rubric_grade"] == pytest.approx(sum(graded) / 8)
    assert set(graded) == {3, 4}  # with this seed both grades occur


def test_unparseable_reply_leaves_the_case_unscored_never_passed(
    judge_server: tuple[TestServer, ScriptedJudge],
) -> None:
    srv, judge = judge_server
    judge.garble = 1.0
    case = Case(id="c3", prompt="Q")
    scorer = RubricJudgeScorer(judge=_judge(srv), cache=None, pass_grade=3)
    res = asyncio.run(_score(scorer, case, _record(case, "grade=5")))
    assert res.values == {"judge_rubric": None}
    assert res.passed is None
    assert res.reason is not None
    assert "no grade found" in res.reason
    assert scorer.report.unscored == 1
    assert scorer.report.usage[0].unparsed == 1


def test_pairwise_judges_both_orders_and_counts_inconsistency(
    judge_server: tuple[TestServer, ScriptedJudge],
) -> None:
    srv, judge = judge_server
    case = Case(id="c4", prompt="Q", metadata={"prod": "prod answer BAD"})
    scorer = PairwiseJudgeScorer(judge=_judge(srv), reference_from="metadata.prod", cache=None)
    res = asyncio.run(_score(scorer, case, _record(case, "new answer GOOD")))
    assert res.values == {"judge_pairwise": 1.0, "judge_pairwise_inconsistent": 0.0}
    assert judge.calls == 2
    assert sorted(k.rsplit("/", 1)[1] for k in judge.keys) == ["fwd", "swp"]
    # an always-first judge: every pair inconsistent, scored as a tie, and counted
    judge.first_bias = 1.0
    scorer = PairwiseJudgeScorer(
        judge=_judge(srv), reference_from="metadata.prod", cache=None, repeats=3
    )
    res = asyncio.run(_score(scorer, case, _record(case, "new answer GOOD")))
    assert res.values == {"judge_pairwise": 0.5, "judge_pairwise_inconsistent": 1.0}
    assert scorer.report.pairs == 3
    assert scorer.report.inconsistent_pairs == 3


def test_pairwise_without_reference_is_unscored() -> None:
    scorer = PairwiseJudgeScorer(
        judge={"name": "j", "base_url": "http://127.0.0.1:9/v1", "model": "m"}, cache=None
    )
    case = Case(id="c5", prompt="Q")  # no expected output
    res = asyncio.run(_score(scorer, case, _record(case, "x")))
    assert res.values == {"judge_pairwise": None}
    assert "no reference output" in (res.reason or "")


def test_ensemble_two_of_three_drops_split_items(tmp_path: Path) -> None:
    """Three judges on three servers: two agree -> consensus; all differ -> dropped."""
    answers = {"j1": "[[A]]", "j2": "[[A]]", "j3": "[[B]]"}

    def make(name: str) -> Any:
        def responder(req: ServerRequest) -> Reply:
            first_is_candidate = "CAND" in req.last_user_text.split("<answer_b>")[0]
            verdict = answers[name]
            if verdict == "[[C]]":
                return Reply(content=verdict)
            # a consistent judge: the same *answer* in both orders
            prefers_candidate = verdict == "[[A]]"
            pick_a = prefers_candidate == first_is_candidate
            return Reply(content="[[A]]" if pick_a else "[[B]]")

        return responder

    servers = [TestServer(responder=make(n)).start_in_thread() for n in answers]
    try:
        judges = [_judge(s, n) for s, n in zip(servers, answers, strict=True)]
        case = Case(id="c6", prompt="Q", expected="REF answer")
        rec = _record(case, "CAND answer")
        scorer = PairwiseJudgeScorer(judges=judges, min_agree=2, cache=None)
        res = asyncio.run(_score(scorer, case, rec))
        assert res.values["judge_pairwise"] == 1.0  # j1, j2 prefer the candidate
        answers.update({"j1": "[[A]]", "j2": "[[B]]", "j3": "[[C]]"})
        scorer = PairwiseJudgeScorer(judges=judges, min_agree=2, cache=None)
        res = asyncio.run(_score(scorer, case, rec))
        assert res.values["judge_pairwise"] is None
        assert "judges split" in (res.reason or "")
        assert scorer.report.dropped == 1
        assert scorer.report.dropped_share == 1.0
    finally:
        for s in servers:
            s.stop()


def test_budget_caps_judge_calls(judge_server: tuple[TestServer, ScriptedJudge]) -> None:
    srv, judge = judge_server
    budget = Budget(tokens=1)
    budget.charge(usd=0.0, tokens=5)  # already over the cap
    scorer = RubricJudgeScorer(judge=_judge(srv), cache=None)
    scorer.bind_budget(budget)
    case = Case(id="c7", prompt="Q")
    res = asyncio.run(_score(scorer, case, _record(case, "grade=2")))
    assert judge.calls == 0
    assert res.values == {"judge_rubric": None}
    assert "budget" in (res.reason or "")


def test_tokens_and_cost_are_counted_per_judge(
    judge_server: tuple[TestServer, ScriptedJudge],
) -> None:
    srv, _ = judge_server
    prices = {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0}
    scorer = RubricJudgeScorer(judge=_judge(srv, prices=prices), cache=None)
    case = Case(id="c8", prompt="Q")
    asyncio.run(_score(scorer, case, _record(case, "grade=2")))
    u = scorer.report.usage[0]
    assert u.calls == 1
    assert u.input_tokens > 0
    assert u.output_tokens > 0
    assert u.cost_usd == pytest.approx((u.input_tokens * 1000 + u.output_tokens * 2000) / 1e6)
    assert u.served_models == ["judge-j1"]


def test_score_record_merges_judge_scores(judge_server: tuple[TestServer, ScriptedJudge]) -> None:
    srv, _ = judge_server
    scorer = RubricJudgeScorer(judge=_judge(srv), cache=None, pass_grade=4)
    case = Case(id="c9", prompt="Q")

    async def go() -> tuple[dict[str, float | None], dict[str, str]]:
        try:
            return await score_record(case, _record(case, "grade=2"), [scorer])
        finally:
            await scorer.aclose()

    scores, reasons = asyncio.run(go())
    assert scores["judge_rubric_grade"] == 2.0
    assert scores["pass"] == 0.0
    assert "grade 2 < 4" in reasons["judge_rubric"]


def test_a_config_can_name_the_judge_scorers_without_importing_them() -> None:
    """A run config names `judge_pairwise`; nothing imported nullband.score.judge yet."""
    import subprocess
    import sys

    code = (
        "import sys; from nullband.score.registry import resolve_factory, available;"
        "assert 'nullband.score.judge' not in sys.modules;"
        "print(resolve_factory('judge_pairwise').__name__, 'judge_rubric' in available())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["PairwiseJudgeScorer", "True"]
