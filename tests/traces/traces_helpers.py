"""Helpers shared by the traces tests: corpus files on disk and a planted PII corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from nullband.traces.synth import SynthCorpus


@dataclass
class CorpusFiles:
    corpus: SynthCorpus
    steps: Path
    tools: Path
    results: Path
    truth: Path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def write_spread_trace(path: Path) -> Path:
    """Trace "w" with steps at both ends of a file of three 1 MiB chunks (a retry first,
    a failed step last) among 2,605 one-step filler traces."""
    filler = [
        {"trace_id": f"f{i}", "step_id": "1", "duration_ms": 10.0 + i % 5, "name": "x" * 900}
        for i in range(2600)
    ]
    rows = [
        {"trace_id": "w", "step_id": "1", "retry_count": 2, "started_at": "2026-05-01T00:00:00Z"},
        *filler,
        {"trace_id": "w", "step_id": "2", "started_at": "2026-05-01T00:00:05Z"},
        *filler[:5],
        {"trace_id": "w", "step_id": "3", "status": "error", "started_at": "2026-05-01T00:00:09Z"},
    ]
    write_jsonl(path, rows)
    assert path.stat().st_size > 2 << 20  # at least three chunks of 1 MiB
    return path


# --- PII -------------------------------------------------------------------------------


def _luhn_complete(prefix: str, length: int, rng: np.random.Generator) -> str:
    body = prefix + "".join(str(int(d)) for d in rng.integers(0, 10, length - len(prefix) - 1))
    for check in range(10):
        cand = body + str(check)
        total = 0
        for i, ch in enumerate(reversed(cand)):
            v = int(ch) * (2 if i % 2 else 1)
            total += v - 9 if v > 9 else v
        if total % 10 == 0:
            return cand
    raise AssertionError("unreachable")


def _iban(country: str, bban: str) -> str:
    # ISO 7064 mod 97-10 check digits, computed independently of the code under test
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(num) % 97
    return f"{country}{check:02d}{bban}"


def pii_values(seed: int, per_type: int = 40) -> dict[str, list[str]]:
    """Planted values of every built-in type, generated from ``seed``."""
    rng = np.random.default_rng(seed)
    names = ["ann", "bob", "chen", "dara", "eli", "fatima", "gus", "hana"]
    hexd = "0123456789abcdef"
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    def pick(chars: str, n: int) -> str:
        return "".join(chars[int(i)] for i in rng.integers(0, len(chars), n))

    out: dict[str, list[str]] = {
        k: []
        for k in (
            "EMAIL",
            "PHONE",
            "CREDIT_CARD",
            "IBAN",
            "US_SSN",
            "UK_NINO",
            "IP_ADDRESS",
            "API_KEY",
            "BEARER_TOKEN",
            "URL_CREDENTIALS",
        )
    }
    for i in range(per_type):
        out["EMAIL"].append(
            f"{names[i % 8]}.{pick('abcdefgh', 4)}{i}@{pick('abcdefgh', 5)}.example.com"
        )
        fmt = i % 4
        a, b, c = (int(x) for x in rng.integers(200, 999, 3))
        out["PHONE"].append(
            [
                f"+1 {a} {b} {c:03d}{i % 10}",
                f"({a}) {b}-{c:03d}{i % 10}",
                f"+44 20 {b:03d}{i % 10} {c:03d}{i % 10}",
                f"+49 30 {a}{b}{i % 10}",
            ][fmt]
        )
        card = _luhn_complete(["4", "51", "37", "6011"][i % 4], [16, 16, 15, 16][i % 4], rng)
        out["CREDIT_CARD"].append(
            " ".join(card[j : j + 4] for j in range(0, len(card), 4)) if i % 2 else card
        )
        iban = [
            _iban("DE", "".join(str(int(d)) for d in rng.integers(0, 10, 18))),
            _iban("GB", "NWBK" + "".join(str(int(d)) for d in rng.integers(0, 10, 14))),
            _iban("FR", "".join(str(int(d)) for d in rng.integers(0, 10, 23))),
        ][i % 3]
        out["IBAN"].append(
            " ".join(iban[j : j + 4] for j in range(0, len(iban), 4)) if i % 2 else iban
        )
        out["US_SSN"].append(
            f"{int(rng.integers(100, 665)):03d}-{int(rng.integers(10, 99)):02d}-{int(rng.integers(1000, 9999)):04d}"
        )
        out["UK_NINO"].append(
            f"{'ACEHJ'[i % 5]}{'BEKLM'[i % 5]} {int(rng.integers(10, 99))} {int(rng.integers(10, 99))} {int(rng.integers(10, 99))} {'ABCD'[i % 4]}"
        )
        if i % 2:
            out["IP_ADDRESS"].append(".".join(str(int(x)) for x in rng.integers(1, 255, 4)))
        else:
            out["IP_ADDRESS"].append("2001:db8:" + ":".join(pick(hexd, 4) for _ in range(6)))
        out["API_KEY"].append(
            ["sk-proj-", "sk-ant-", "sk-bf-", "AKIA"][i % 4]
            + (pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16) if i % 4 == 3 else pick(alnum, 32))
        )
        out["BEARER_TOKEN"].append(pick(alnum, 24) + "." + pick(alnum, 12))
        out["URL_CREDENTIALS"].append(
            f"postgres://{names[i % 8]}:{pick(alnum, 12)}@db{i}.internal.example.net:5432/app"
        )
    return out


TEMPLATES = {
    "EMAIL": "Please reply to {v} when the refund is done.",
    "PHONE": "Call me back on {v} after 5pm.",
    "CREDIT_CARD": "Charge the card {v} for the upgrade.",
    "IBAN": "Wire it to {v} by Friday.",
    "US_SSN": "My SSN is {v} if you need it.",
    "UK_NINO": "National Insurance number {v}.",
    "IP_ADDRESS": "Login attempts came from {v} overnight.",
    "API_KEY": "The key we use is {v} in prod.",
    "BEARER_TOKEN": "Header was Authorization: Bearer {v}",
    "URL_CREDENTIALS": "Connect with {v} please.",
}
