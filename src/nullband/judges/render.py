"""A judge audit as plain text for the terminal."""

from __future__ import annotations

from nullband.judges.audit import JudgeAudit, JudgeAuditEntry
from nullband.judges.estimate import Estimate


def _e(est: Estimate | None) -> str:
    return "n/a" if est is None else est.describe()


def _entry(e: JudgeAuditEntry) -> list[str]:
    lines = [
        f"judge {e.judge} (model {e.model}): {'TRUSTED' if e.trust.trusted else 'NOT TRUSTED'}"
    ]
    sc = e.self_consistency
    lines.append(
        f"  self-consistency      {_e(sc.self_consistency)}  "
        f"(mean flip rate {_e(sc.mean_flip_rate)}, items with any flip {_e(sc.any_flip_share)})"
    )
    if sc.quantiles:
        q = sc.quantiles
        lines.append(
            f"  flip-rate quantiles   p50 {q['p50']:.3f}  p75 {q['p75']:.3f}  "
            f"p90 {q['p90']:.3f}  max {q['max']:.3f}; histogram {sc.histogram}"
        )
    if sc.above_threshold:
        shown = ", ".join(f"{f.item} ({f.flip_rate:.2f})" for f in sc.above_threshold[:8])
        more = len(sc.above_threshold) - 8
        lines.append(
            f"  items flipping > {sc.threshold:g}  {len(sc.above_threshold)}: {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if e.position is not None:
        p = e.position
        lines += [
            f"  position consistency  {_e(p.consistency)}  ({p.inconsistent_pairs} of {p.pairs} "
            "pairs inconsistent)",
            f"  first wins both       {_e(p.first_both)}",
            f"  second wins both      {_e(p.second_both)}",
            f"  tie in one order      {_e(p.tie_mixed)}",
            f"  unreadable            {_e(p.error)}",
            f"  first-position rate   {_e(p.first_position_rate)}  (0.5 = no position bias)",
            f"  net preference        {_e(p.net_preference)}  "
            f"(adjusted win rate {_e(p.win_rate_adjusted)})",
        ]
    if e.human is not None:
        h = e.human
        base = "n/a" if h.majority_baseline is None else f"{h.majority_baseline:.3f}"
        lines += [
            f"  human: kappa          {_e(h.kappa)}",
            f"  human: raw agreement  {_e(h.raw_agreement)}  (majority-label baseline {base})",
        ]
        if h.kappa_linear is not None:
            lines.append(f"  human: kappa linear   {_e(h.kappa_linear)}")
        if h.kappa_quadratic is not None:
            lines.append(f"  human: kappa quadr.   {_e(h.kappa_quadratic)}")
        if h.mcnemar is not None:
            m = h.mcnemar
            lines.append(
                f"  human: McNemar        {m.positive}: judge-only {m.judge_only}, "
                f"human-only {m.human_only}, p={m.p_exact:.4g} (mid-p {m.p_mid:.4g}), {m.lean}"
            )
    else:
        lines.append("  human: no labels given (kappa not measured)")
    lines += [f"  - {r}" for r in e.trust.reasons]
    return lines


def render_audit(audit: JudgeAudit) -> str:
    """The audit as text: one block per judge, the panel, usage, and the verdict."""
    lines = [
        f"judge audit ({audit.mode}): {audit.items} items x {audit.samples} sample(s)"
        + (" per order" if audit.mode == "pairwise" else "")
        + f", temperature {audit.temperature}, intervals: {audit.level:.0%} bootstrap over "
        f"items, {audit.resamples} resamples, seed {audit.seed}",
        "",
    ]
    for e in audit.judges:
        lines += [*_entry(e), ""]
    if audit.ensemble is not None:
        ens = audit.ensemble
        lines.append(f"panel {', '.join(ens.judges)} (min_agree {ens.min_agree}):")
        for level, est in ens.alpha.items():
            lines.append(f"  Krippendorff alpha ({level:8s}) {_e(est)}")
        lines.append(f"  dropped (no consensus) {_e(ens.dropped_share)}")
        if ens.human is not None:
            lines.append(f"  consensus vs humans: kappa {_e(ens.human.kappa)}")
        lines += [f"  - {r}" for r in ens.trust.reasons]
        lines.append("")
    for u in audit.usage:
        lines.append(
            f"usage {u.judge}: {u.calls} calls, {u.errors} failed, {u.unparsed} unreadable, "
            f"{u.input_tokens}+{u.output_tokens} tokens, ${u.cost_usd:.4f}"
            + (f", {u.model_mismatches} served by another model" if u.model_mismatches else "")
        )
    verdict = "TRUSTED" if audit.trusted else "NOT TRUSTED"
    lines += ["", f"verdict: {verdict}"]
    lines += [f"  - {r}" for r in audit.untrusted_reasons]
    return "\n".join(lines)
