"""Tokenizers for prefix analysis: the server's /tokenize, a local file, or bytes.

Which one was used is named in every report, because block boundaries (and so the hit
rate) depend on it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from nullband.errors import UsageError


class Tokenizer(Protocol):
    """Turns text into token ids."""

    name: str

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        ...


class ByteTokenizer:
    """One token per UTF-8 byte: always available, tokenizer-agnostic, pessimistic on length."""

    name = "bytes (fallback: one token per UTF-8 byte)"

    def encode(self, text: str) -> list[int]:
        """UTF-8 bytes as ids."""
        return list(text.encode("utf-8"))


class ServerTokenizer:
    """A vLLM-style ``POST /tokenize`` endpoint (``{"model", "prompt"} -> {"tokens"}``)."""

    def __init__(self, url: str, model: str | None = None, timeout_s: float = 30.0) -> None:
        self.url = url
        self.model = model
        self.timeout_s = timeout_s
        self.name = f"server /tokenize at {url}" + (f" (model {model})" if model else "")

    def encode(self, text: str) -> list[int]:
        """Token ids from the server.

        Raises:
            UsageError: the endpoint failed or answered without ``tokens``.
        """
        body: dict[str, Any] = {"prompt": text, "add_special_tokens": False}
        if self.model:
            body["model"] = self.model
        req = urllib.request.Request(
            self.url,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                data = json.loads(resp.read())
        except (OSError, ValueError) as exc:
            raise UsageError(f"POST {self.url} failed: {exc}") from None
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list):
            raise UsageError(f"POST {self.url} answered without a 'tokens' list")
        return [int(t) for t in tokens]


class LocalTokenizer:
    """A Hugging Face ``tokenizer.json`` through the ``tokenizers`` package, if installed."""

    def __init__(self, path: str | Path) -> None:
        try:
            from tokenizers import Tokenizer as HFTokenizer  # type: ignore[import-not-found]
        except ImportError:
            raise UsageError(
                "a local tokenizer needs the 'tokenizers' package, which is not installed",
                hint="install it, or use --tokenize-url, or the byte-level fallback",
            ) from None
        self._tok = HFTokenizer.from_file(str(path))
        self.name = f"local tokenizer {path}"

    def encode(self, text: str) -> list[int]:
        """Token ids (no special tokens)."""
        return list(self._tok.encode(text, add_special_tokens=False).ids)


def probe_server(url: str, model: str | None) -> ServerTokenizer | None:
    """A server tokenizer when ``url`` answers a probe, else None."""
    tok = ServerTokenizer(url, model, timeout_s=5.0)
    try:
        tok.encode("probe")
    except UsageError:
        return None
    return tok


def choose_tokenizer(
    tokenize_url: str | None = None,
    model: str | None = None,
    local_path: str | Path | None = None,
    *,
    strict: bool = False,
) -> tuple[Tokenizer, list[str]]:
    """The best available tokenizer, and notes on what was tried.

    Order: the server's /tokenize, then a local tokenizer file, then bytes. With
    ``strict`` a requested tokenizer that fails is an error instead of a fallback.

    Raises:
        UsageError: ``strict`` and the requested tokenizer is unavailable.
    """
    notes: list[str] = []
    if tokenize_url:
        tok = probe_server(tokenize_url, model)
        if tok is not None:
            return tok, notes
        if strict:
            raise UsageError(f"{tokenize_url} did not answer a /tokenize probe")
        notes.append(f"{tokenize_url} did not answer a /tokenize probe")
    if local_path:
        try:
            return LocalTokenizer(local_path), notes
        except UsageError as exc:
            if strict:
                raise
            notes.append(exc.message)
        except Exception as exc:  # the tokenizers library raises its own exception types
            if strict:
                raise UsageError(f"cannot load {local_path}: {exc}") from None
            notes.append(f"cannot load {local_path}: {exc}")
    return ByteTokenizer(), notes


Encode = Callable[[str], list[int]]
