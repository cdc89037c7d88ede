"""`nullband judge audit|show|check` as a user runs them (a real subprocess, a real server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from judges_scripted import ScriptedJudge, write_pairwise_items

from nullband._cli.main import main
from nullband.judges.audit import JudgeAudit
from nullband.testserver import TestServer


class _Done:
    """What an in-process CLI call gave: exit code, stdout, stderr."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run(capsys: pytest.CaptureFixture[str], *args: str, cwd: Path) -> _Done:
    """The `nullband` entry point in this process (same code path as the script)."""
    import os

    old = Path.cwd()
    os.chdir(cwd)
    try:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    return _Done(code, out.out, out.err)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed command in a subprocess, exactly as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "nullband", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def _write_config(path: Path, base_url: str, **extra: object) -> None:
    data: dict[str, object] = {
        "mode": "pairwise",
        "items": "items.jsonl",
        "judges": [{"name": "scripted", "base_url": base_url, "model": "judge-1"}],
        "samples": 3,
        "bootstrap": {"resamples": 300, "seed": 11},
    }
    data.update(extra)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def test_audit_trusted_judge_exits_0_and_writes_the_result(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    judge.noise = 0.05
    write_pairwise_items(tmp_path / "items.jsonl", 30)
    _write_config(tmp_path / "audit.yaml", srv.base_url)
    proc = _cli("judge", "audit", "audit.yaml", "--out", "out/audit.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "verdict: TRUSTED" in proc.stdout
    assert "position consistency" in proc.stdout
    result = JudgeAudit.model_validate_json((tmp_path / "out/audit.json").read_text())
    assert result.trusted
    assert result.schema_version == 1
    assert result.seed == 11
    assert result.usage[0].calls == 30 * 3 * 2
    check = _cli("judge", "check", "out/audit.json", "--metric", "judge_pairwise", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["decision"] == "ok"
    show = _cli("judge", "show", "out/audit.json", cwd=tmp_path)
    assert show.returncode == 0
    assert "self-consistency" in show.stdout


def test_untrusted_judge_exits_1_and_a_gate_on_it_is_invalid(
    tmp_path: Path,
    judge_server: tuple[TestServer, ScriptedJudge],
    capsys: pytest.CaptureFixture[str],
) -> None:
    srv, judge = judge_server
    judge.first_bias = 1.0
    write_pairwise_items(tmp_path / "items.jsonl", 20)
    _write_config(tmp_path / "audit.yaml", srv.base_url, samples=2)
    proc = _run(capsys, "judge", "audit", "audit.yaml", "-o", "audit.json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "NOT TRUSTED" in proc.stdout
    check = _run(capsys, "judge", "check", "audit.json", "--metric", "judge_pairwise", cwd=tmp_path)
    assert check.returncode == 4
    assert "INVALID" in check.stderr
    allowed = _run(capsys, "judge", "check", "audit.json", "--allow-untrusted", cwd=tmp_path)
    assert allowed.returncode == 0
    assert json.loads(allowed.stdout)["decision"] == "allowed_untrusted"
    report_only = _run(
        capsys, "judge", "audit", "audit.yaml", "--report-only", "--json", cwd=tmp_path
    )
    assert report_only.returncode == 0
    assert json.loads(report_only.stdout)["trusted"] is False


@pytest.mark.parametrize(
    ("config", "items", "message"),
    [
        ({"mode": "pairwise", "items": "items.jsonl", "judges": []}, None, "judges"),
        ({"mode": "pairwise", "items": "items.jsonl", "judge": {}}, None, "Field required"),
        (None, '{"id": "a", "prompt": "q", "candidate": "x"}\n', "items.jsonl:1"),
        (None, '{"id": "a", "prompt": "q", "candidate": "x", "reference": "y", "human": "A"}\n',
         "'candidate', 'reference' or 'tie'"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_file(
    tmp_path: Path,
    config: dict[str, object] | None,
    items: str | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "items.jsonl").write_text(
        items or '{"id": "a", "prompt": "q", "candidate": "x", "reference": "y"}\n'
    )
    if config is None:
        _write_config(tmp_path / "audit.yaml", "http://127.0.0.1:9/v1")
    else:
        (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
    proc = _run(capsys, "judge", "audit", "audit.yaml", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_has_examples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in ("audit", "show", "check"):
        proc = _run(capsys, "judge", cmd, "--help", cwd=tmp_path)
        assert proc.returncode == 0
        assert "Example: nullband judge" in proc.stdout
