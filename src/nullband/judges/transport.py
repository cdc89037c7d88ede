"""Judges over the runner's ``TargetClient``: retries on the same model, rate limits,
gateway provenance and the shared budget apply to judge calls exactly as to eval calls.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from nullband.judges.cache import JudgeCache
from nullband.judges.call import ChatFn, Judge, JudgeReply, JudgeUsage
from nullband.judges.panel import PanelConfig
from nullband.targets.budget import Budget
from nullband.targets.client import TargetClient


def target_chat_fn(client: TargetClient) -> ChatFn:
    """A :class:`ChatFn` that sends through ``client`` (which must be open).

    A failed call (after the client's retries) is a reply with no text and the error;
    :class:`~nullband.targets.budget.BudgetExceeded` propagates, so no judge call starts
    once a cap is reached.
    """

    async def chat(
        messages: list[dict[str, Any]], *, params: dict[str, Any], case_key: str | None
    ) -> JudgeReply:
        out = await client.chat(messages, case_key=case_key, params=params)
        usage = out.usage
        if out.status != "ok" or out.output_text is None:
            why = out.error or (
                "the reply had no text" if out.status == "ok" else "the call failed"
            )
            return JudgeReply(
                text=None,
                error=why,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cost_usd=out.cost_usd,
            )
        return JudgeReply(
            text=out.output_text,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=out.cost_usd,
            served=out.provenance.served,
            mismatch=out.provenance.mismatch,
        )

    return chat


def panel_budget(panel: PanelConfig, shared: Budget | None) -> Budget | None:
    """The budget judge calls charge: the shared one, else the panel's own caps, else none."""
    if shared is not None:
        return shared
    if panel.budget.usd is None and panel.budget.tokens is None:
        return None
    return Budget(panel.budget.usd, panel.budget.tokens)


async def open_judges(
    panel: PanelConfig,
    stack: AsyncExitStack,
    *,
    budget: Budget | None = None,
    cache: JudgeCache | None = None,
    seed: int = 0,
    usage: dict[str, JudgeUsage] | None = None,
    ledger: JudgeCache | None = None,
) -> list[Judge]:
    """Open one client per judge of ``panel`` on ``stack`` and wrap each as a :class:`Judge`.

    Args:
        panel: the judges and their settings.
        stack: closes the clients when it closes.
        budget: the budget to charge (shared with a run, or the panel's own).
        cache: the reply cache, or None.
        seed: seed of the clients' backoff jitter.
        usage: accounting per judge name to keep adding to (clients reopened later).
        ledger: a file where usage per run id is written (the judge cache file).
    """
    judges: list[Judge] = []
    for i, target in enumerate(panel.judges):
        client = await stack.enter_async_context(
            TargetClient(target, panel.retries, budget, seed=seed + i)
        )
        judges.append(
            Judge(
                name=target.name,
                model=target.model,
                base_url=target.base_url,
                chat=target_chat_fn(client),
                cache=cache,
                params=panel.params(),
                usage=(usage or {}).get(target.name),
                ledger=ledger,
            )
        )
    return judges
