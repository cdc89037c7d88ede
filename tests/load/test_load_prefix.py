"""Prefix-cache analysis on a two-tenant corpus: one fixed prefix; one with a timestamp at
token 47 (and a session UUID after it), as in the field note."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from nullband._cli.main import main
from nullband.load.prefix import analyze_prompts, cache_hits, nearest_lcp, read_prompts
from nullband.load.tokenizers import ByteTokenizer, choose_tokenizer
from nullband.testserver import SubprocessServer

N = 40
SYSTEM = " ".join(f"rule{i}" for i in range(300))  # 300 stable words
PREAMBLE = " ".join(f"intro{i}" for i in range(47))  # tokens 0..46


def corpus() -> list[dict[str, str]]:
    rows = []
    for i in range(N):
        question = f"ask{i} " + " ".join(f"word{i}x{j}" for j in range(39))  # 40 unique words
        rows.append({"tenant": "fixed", "prompt": f"{SYSTEM} {question}"})
        ts = f"2026-05-26T10:{i // 60:02d}:{i % 60:02d}Z"
        sid = str(uuid.UUID(int=1000 + i))
        mid = " ".join(f"ctx{j}" for j in range(12))
        rows.append(
            {"tenant": "templated", "prompt": f"{PREAMBLE} {ts} {mid} {sid} {SYSTEM} {question}"}
        )
    return rows


def write(tmp_path: Path) -> Path:
    p = tmp_path / "prompts.jsonl"
    p.write_bytes(b"\n".join(orjson.dumps(r) for r in corpus()) + b"\n")
    return p


@pytest.fixture(scope="module")
def word_server() -> Iterator[SubprocessServer]:
    with SubprocessServer(["--tokenizer", "words"]) as srv:
        yield srv


def test_block_cache_and_lcp_primitives() -> None:
    # three prompts: the second shares 2 full blocks of 4 with the first, the third none
    a = list(range(12))
    b = [*list(range(9)), 99, 98, 97]
    c = [7, *list(range(11))]
    assert cache_hits([a, b, c], 4) == [0, 8, 0]
    assert nearest_lcp([a, b, c]) == [9, 9, 0]


def test_two_tenants_with_the_server_tokenizer(
    tmp_path: Path, word_server: SubprocessServer
) -> None:
    items = read_prompts(write(tmp_path))
    tok, notes = choose_tokenizer(f"{word_server.url}/tokenize", "m")
    assert "server /tokenize" in tok.name
    assert notes == []
    rep = analyze_prompts(items, tok, block_size=16)
    fixed, templ = rep.tenants["fixed"], rep.tenants["templated"]
    # words tokenizer: one token per word. Fixed: 300 shared tokens -> 18 full blocks (288)
    # hit for every prompt after the first; each prompt has 340 tokens.
    assert fixed.mean_tokens == 340
    assert fixed.hit_rate == pytest.approx((N - 1) * 288 / (N * 340), abs=0.005)
    assert fixed.divergence_median == 300
    assert fixed.volatile == []
    assert fixed.fix is None
    # Templated: the timestamp is token 47, so only blocks 0-1 (32 tokens) are shared.
    length = 47 + 1 + 12 + 1 + 300 + 40
    assert templ.mean_tokens == length
    assert templ.divergence_median == 47
    assert templ.hit_rate == pytest.approx((N - 1) * 32 / (N * length), abs=0.005)
    kinds = [(f.kind, f.token_position) for f in templ.volatile]
    assert kinds == [("timestamp", 47), ("uuid", 60)]
    assert templ.volatile[0].share == pytest.approx(1.0)
    # Once both fields are out of the way the prompts share 47 + 12 + 300 tokens.
    assert templ.stable_prefix_tokens is not None
    assert abs(templ.stable_prefix_tokens - (47 + 12 + 300)) <= 2
    assert templ.fix is not None
    assert "after token" in templ.fix
    assert "timestamp" in templ.fix
    # moved to the end: about 22 shared blocks (352 tokens) of ~389
    assert templ.hit_rate_after_fix is not None
    assert templ.hit_rate_after_fix == pytest.approx((N - 1) * 352 / (N * length), abs=0.03)


def test_byte_fallback_is_named_and_still_finds_the_field(tmp_path: Path) -> None:
    tok, notes = choose_tokenizer("http://127.0.0.1:9/tokenize", None)
    assert isinstance(tok, ByteTokenizer)
    assert notes
    assert "did not answer" in notes[0]
    rep = analyze_prompts(read_prompts(write(tmp_path)), tok, block_size=16)
    templ = rep.tenants["templated"]
    # the timestamps differ first in the seconds digits: byte len(PREAMBLE) + 1 + 17
    first_diff = len(PREAMBLE) + 1 + len("2026-05-26T10:00:0")
    assert templ.divergence_min is not None
    assert templ.divergence_min >= first_diff - 1
    assert templ.volatile[0].kind == "timestamp"
    assert templ.volatile[0].token_position == len(PREAMBLE) + 1  # bytes before the field
    assert "bytes" in rep.tokenizer


def test_cli_prefix_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep.json"
    with pytest.raises(SystemExit) as exc:
        main(["prefix", str(write(tmp_path)), "--json", str(out)])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "tokenizer bytes" in text
    assert "volatile timestamp" in text
    assert "fix: move" in text
    data = orjson.loads(out.read_bytes())
    assert data["schema_version"] == 1
    assert data["kind"] == "prefix_report"
