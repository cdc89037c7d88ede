"""Built-in PII and secret recognisers: a regex to find candidates, a check to confirm them.

Types: EMAIL, PHONE (8-15 digits, international or national grouping; ISO dates and SSN-shaped
``AAA-GG-SSSS`` strings are never phones), CREDIT_CARD
(13-19 digits passing the Luhn check), IBAN (ISO 13616, mod-97 check), US_SSN (dashed
``AAA-GG-SSSS`` with the invalid area/group/serial values excluded), UK_NINO (National
Insurance number), IP_ADDRESS (v4 and v6, parsed by :mod:`ipaddress`), API_KEY (OpenAI
``sk-``, Anthropic ``sk-ant-``, Bifrost ``sk-bf-``, AWS ``AKIA``, GitHub ``ghp_``, Slack
``xox?-``, Google ``AIza``, JWTs), BEARER_TOKEN (the token after ``Bearer``) and
URL_CREDENTIALS (a URL with ``user:password@``). A match's value is what is replaced.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass


def luhn_ok(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(compact: str) -> bool:
    """True when ``compact`` (no spaces, upper case) passes the IBAN mod-97 check."""
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    num = "".join(str(int(c, 36)) for c in moved)
    return int(num) % 97 == 1


@dataclass(frozen=True)
class Recognizer:
    """One entity type: a pattern, the group holding the value, and a confirming check."""

    type: str
    pattern: re.Pattern[str]
    group: int = 0
    check: Callable[[str], bool] | None = None
    normalize: Callable[[str], str] = str
    priority: int = 0
    """Higher wins when matches overlap."""


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _card_ok(s: str) -> bool:
    d = _digits(s)
    return 13 <= len(d) <= 19 and luhn_ok(d)


def _phone_ok(s: str) -> bool:
    return 8 <= len(_digits(s)) <= 15


def _ip_ok(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _ip_norm(s: str) -> str:
    return str(ipaddress.ip_address(s))


BUILTIN: tuple[Recognizer, ...] = (
    Recognizer(
        "URL_CREDENTIALS",
        re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@]+:[^\s/@]+@[^\s\"'<>]+"),
        priority=100,
    ),
    Recognizer(
        "BEARER_TOKEN",
        re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/=-]{8,})"),
        group=1,
        priority=90,
    ),
    Recognizer(
        "API_KEY",
        re.compile(
            r"(?<![A-Za-z0-9_-])(sk-(?:proj-|ant-|bf-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}"
            r"|gh[pousr]_[A-Za-z0-9]{30,}|xox[abpr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}"
            r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"
        ),
        group=1,
        priority=80,
    ),
    Recognizer(
        "EMAIL",
        re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
        normalize=str.lower,
        priority=70,
    ),
    Recognizer(
        "IBAN",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b"),
        normalize=lambda s: s.replace(" ", "").upper(),
        priority=60,
    ),
    Recognizer(
        "CREDIT_CARD",
        re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"),
        check=_card_ok,
        normalize=_digits,
        priority=50,
    ),
    Recognizer(
        "US_SSN",
        re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])"),
        priority=45,
    ),
    Recognizer(
        "UK_NINO",
        re.compile(
            r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
        ),
        normalize=lambda s: s.replace(" ", ""),
        priority=44,
    ),
    Recognizer(
        "IP_ADDRESS",
        re.compile(
            r"(?<![\w.:])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?!\w|\.\d)"
            r"|(?<![\w:])(?=[0-9A-Fa-f]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}(?![\w:])"
        ),
        check=_ip_ok,
        normalize=_ip_norm,
        priority=40,
    ),
    Recognizer(
        "PHONE",
        re.compile(
            r"(?<![\w+])(?!\d{4}-\d{2}-\d{2}(?!\d)|\d{3}-\d{2}-\d{4}(?!\d))(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])"
        ),
        check=_phone_ok,
        normalize=lambda s: ("+" if s.startswith("+") else "") + _digits(s),
        priority=10,
    ),
)
"""The built-in recognisers, strongest first."""


def find_iban(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """The longest prefix of an IBAN-looking match that passes mod-97 (trailing words trimmed)."""
    s = m.group(0)
    ends = [i + 1 for i, c in enumerate(s) if c != " "]
    for end in reversed(ends):
        compact = s[:end].replace(" ", "")
        if len(compact) < 15:
            break
        if iban_ok(compact):
            return m.start(), m.start() + end
    return None
