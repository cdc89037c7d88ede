"""The test server's toy tokenizer, chat template and hashed bag-of-words embeddings.

Tokens are pieces of text that concatenate back to the text: with ``words`` a token is a
run of whitespace followed by a run of non-whitespace; with ``bytes`` it is one UTF-8
byte. Token ids are stable (CRC-32 based), so ``/tokenize`` is deterministic.
"""

from __future__ import annotations

import base64
import math
import re
import struct
import zlib
from typing import Any

from nullband.testserver.config import TokenizerKind

_WORD = re.compile(r"\s*\S+|\s+")
_WORDS_ONLY = re.compile(r"\w+")
VOCAB_SIZE = 50_000
FILLER = " tok"


def split_tokens(text: str, kind: TokenizerKind) -> list[str]:
    """Cut ``text`` into token strings whose concatenation is ``text``."""
    if kind == "bytes":
        # Whole characters are emitted when streaming; count bytes via count_tokens.
        return list(text)
    return _WORD.findall(text)


def count_tokens(text: str, kind: TokenizerKind) -> int:
    """Number of tokens in ``text``."""
    if kind == "bytes":
        return len(text.encode("utf-8"))
    return len(_WORD.findall(text))


def token_ids(text: str, kind: TokenizerKind) -> list[int]:
    """Stable token ids of ``text`` (byte values, or CRC-32 of each word piece)."""
    if kind == "bytes":
        return list(text.encode("utf-8"))
    return [zlib.crc32(p.encode("utf-8")) % VOCAB_SIZE for p in _WORD.findall(text)]


def message_text(content: Any) -> str:
    """The text of an OpenAI message content (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return str(content)


def chat_template(messages: list[Any]) -> str:
    """Render chat messages to one prompt string (a ChatML-like template)."""
    out = []
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role", "user")
        text = message_text(msg.get("content"))
        calls = msg.get("tool_calls")
        if calls:
            for call in calls:
                fn = call.get("function", {}) if isinstance(call, dict) else {}
                text += f" {fn.get('name', '')}({fn.get('arguments', '')})"
        out.append(f"<|{role}|> {text}\n")
    out.append("<|assistant|>")
    return "".join(out)


def embed(text: str, dim: int) -> list[float]:
    """A deterministic hashed bag-of-words vector of unit length (all zeros for no words).

    Each lower-cased word adds +1 or -1 (from one CRC bit) at index ``crc % dim``.
    """
    vec = [0.0] * dim
    for word in _WORDS_ONLY.findall(text.lower()):
        h = zlib.crc32(word.encode("utf-8"))
        vec[h % dim] += 1.0 if (h >> 31) & 1 == 0 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm > 0:
        vec = [v / norm for v in vec]
    return vec


def encode_base64(vec: list[float]) -> str:
    """Little-endian float32 base64, as OpenAI's ``encoding_format: base64`` returns."""
    return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode("ascii")
