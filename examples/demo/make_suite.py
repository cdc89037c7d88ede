"""Write examples/suite.jsonl: the demo's 100 short cases in four kinds.

Run: .venv/bin/python examples/demo/make_suite.py   (deterministic; the file is committed)

Kinds (segment ``kind``) and how each is scored (the case's own ``scorers``):
- arithmetic (30): one number; regex on the number with no digit on either side.
- extraction (25): a JSON object from a sentence; parsed JSON equality.
- tool_choice (25): pick one of four offered tools by name; contains.
- factual (20): a short fact or a format instruction; contains or regex.
Segment ``difficulty`` is easy or hard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "suite.jsonl"


def _num_case(cid: str, question: str, answer: int, difficulty: str) -> dict[str, Any]:
    return {
        "id": cid,
        "prompt": f"{question} Answer with the number only.",
        "expected": rf"(?<![0-9]){answer}(?![0-9])",
        "scorers": ["regex"],
        "segments": {"kind": "arithmetic", "difficulty": difficulty},
        "metadata": {"answer": answer},
    }


def arithmetic() -> list[dict[str, Any]]:
    easy = [(2, 3), (4, 5), (6, 1), (3, 3), (7, 2), (1, 8), (5, 4), (2, 6), (8, 1), (4, 4)]
    out = [
        _num_case(f"arith-add-{i:02d}", f"What is {a} + {b}?", a + b, "easy")
        for i, (a, b) in enumerate(easy)
    ]
    sub = [(9, 4), (8, 3), (7, 5), (6, 2), (10, 7)]
    out += [
        _num_case(f"arith-sub-{i:02d}", f"What is {a} - {b}?", a - b, "easy")
        for i, (a, b) in enumerate(sub)
    ]
    add2 = [(23, 45), (31, 19), (56, 27), (48, 36), (72, 18)]
    out += [
        _num_case(f"arith-add2-{i:02d}", f"What is {a} + {b}?", a + b, "hard")
        for i, (a, b) in enumerate(add2)
    ]
    mul = [(3, 4), (6, 7), (8, 9), (12, 3), (7, 11), (5, 13), (9, 6), (4, 15), (14, 2), (25, 4)]
    out += [
        _num_case(f"arith-mul-{i:02d}", f"What is {a} times {b}?", a * b, "hard")
        for i, (a, b) in enumerate(mul)
    ]
    return out


def extraction() -> list[dict[str, Any]]:
    people = [
        ("Alice", 30, "Alice is 30 years old."),
        ("Bob", 45, "Bob is 45 years old."),
        ("Maria", 34, "Maria turned 34 last week."),
        ("Kenji", 28, "Kenji is 28."),
        ("Olga", 61, "Olga, aged 61, is a teacher."),
        ("Tom", 19, "Tom is a 19 year old student."),
        ("Priya", 52, "Priya is 52 years old and lives in Leeds."),
        ("Lars", 40, "Lars celebrated his 40th birthday today, so he is 40."),
        ("Amina", 23, "Amina is 23 years old."),
        ("Diego", 37, "At 37, Diego runs a bakery."),
        ("Chen", 66, "Chen is 66 and retired."),
        ("Sara", 25, "Sara is 25 years old."),
        ("Omar", 33, "Omar, 33, works as a nurse."),
    ]
    out = []
    for i, (name, age, text) in enumerate(people):
        difficulty = "easy" if text == f"{name} is {age} years old." else "hard"
        out.append(
            {
                "id": f"extract-person-{i:02d}",
                "prompt": 'Extract the person\'s name and age as JSON with keys "name" and '
                f'"age" (age as a number). Text: {text}',
                "expected": {"name": name, "age": age},
                "scorers": ["json"],
                "segments": {"kind": "extraction", "difficulty": difficulty},
            }
        )
    cities = [
        ("Paris", "France", "Paris is the capital of France."),
        ("Tokyo", "Japan", "Tokyo is a city in Japan."),
        ("Lima", "Peru", "The city of Lima is in Peru."),
        ("Oslo", "Norway", "Oslo is in Norway."),
        ("Nairobi", "Kenya", "Nairobi, the largest city of Kenya, is busy."),
        ("Cairo", "Egypt", "Cairo is in Egypt."),
        ("Toronto", "Canada", "We flew to Toronto, Canada, in May."),
        ("Madrid", "Spain", "Madrid is in Spain."),
        ("Hanoi", "Vietnam", "Hanoi is in Vietnam."),
        ("Perth", "Australia", "Perth, on the west coast of Australia, is sunny."),
        ("Quito", "Ecuador", "Quito is in Ecuador."),
        ("Dublin", "Ireland", "Dublin is in Ireland."),
    ]
    for i, (city, country, text) in enumerate(cities):
        difficulty = "easy" if text == f"{city} is in {country}." else "hard"
        out.append(
            {
                "id": f"extract-city-{i:02d}",
                "prompt": 'Extract the city and the country as JSON with keys "city" and '
                f'"country". Text: {text}',
                "expected": {"city": city, "country": country},
                "scorers": ["json"],
                "segments": {"kind": "extraction", "difficulty": difficulty},
            }
        )
    return out


TOOLS = (
    "get_weather (current weather for a city), send_email (send an email to someone), "
    "search_flights (find flights between two cities), convert_currency (convert an amount "
    "of money to another currency)"
)


def tool_choice() -> list[dict[str, Any]]:
    requests = [
        ("get_weather", "What is the weather in Oslo right now?", "easy"),
        ("get_weather", "Will it rain in London today?", "easy"),
        ("get_weather", "How hot is it in Cairo at the moment?", "easy"),
        ("get_weather", "Do I need an umbrella in Seattle this afternoon?", "hard"),
        ("get_weather", "Is it snowing in Denver?", "hard"),
        ("get_weather", "Tell me the temperature in Rome.", "easy"),
        ("send_email", "Send an email to Anna saying I will be late.", "easy"),
        ("send_email", "Email my boss that the report is done.", "easy"),
        ("send_email", "Write to bob@example.com and tell him the meeting moved.", "hard"),
        ("send_email", "Let Priya know by email that lunch is at noon.", "hard"),
        ("send_email", "Send a message to the team inbox about the outage.", "hard"),
        ("send_email", "Email Carlos the invoice number 4411.", "easy"),
        ("search_flights", "Find flights from Paris to Berlin next Monday.", "easy"),
        ("search_flights", "Are there any flights from Oslo to Rome on Friday?", "easy"),
        ("search_flights", "I need to fly from Tokyo to Seoul tomorrow.", "hard"),
        ("search_flights", "What is the cheapest way to get by plane from Lima to Quito?", "hard"),
        ("search_flights", "Search flights between New York and Boston.", "easy"),
        ("search_flights", "Book me onto a plane to Madrid from Dublin.", "hard"),
        ("search_flights", "Show flights from Nairobi to Cairo in June.", "easy"),
        ("convert_currency", "Convert 100 US dollars to euros.", "easy"),
        ("convert_currency", "How many yen is 50 pounds?", "hard"),
        ("convert_currency", "Convert 20 euros into Swiss francs.", "easy"),
        ("convert_currency", "What are 300 Norwegian kroner in dollars?", "hard"),
        ("convert_currency", "Change 75 Canadian dollars to pesos.", "hard"),
        ("convert_currency", "Convert 10 pounds to euros.", "easy"),
    ]
    out = []
    for i, (tool, request, difficulty) in enumerate(requests):
        out.append(
            {
                "id": f"tool-{i:02d}",
                "prompt": f"You can use one of these tools: {TOOLS}. Which tool should be "
                f"used for this request? Answer with the tool name only. Request: {request}",
                "expected": tool,
                "scorers": ["contains"],
                "segments": {"kind": "tool_choice", "difficulty": difficulty},
            }
        )
    return out


def factual() -> list[dict[str, Any]]:
    facts = [
        ("What is the capital of France? Answer with one word.", "Paris", "easy"),
        ("What is the capital of Italy? Answer with one word.", "Rome", "easy"),
        ("What is the capital of Japan? Answer with one word.", "Tokyo", "easy"),
        ("What is the capital of Spain? Answer with one word.", "Madrid", "easy"),
        ("What is the capital of Germany? Answer with one word.", "Berlin", "easy"),
        ("What is the capital of Canada? Answer with one word.", "Ottawa", "hard"),
        ("What is the capital of Australia? Answer with one word.", "Canberra", "hard"),
        ("Which planet is known as the Red Planet? Answer with one word.", "Mars", "easy"),
        ("What color is the sky on a clear day? Answer with one word.", "blue", "easy"),
        ("How many days are in a week? Answer with the number only.", "7", "easy"),
        ("What is the largest ocean on Earth? Answer with one word.", "Pacific", "hard"),
        ("What gas do plants take in from the air? Answer briefly.", "carbon dioxide", "hard"),
        ("What is frozen water called? Answer with one word.", "ice", "easy"),
        ("Which animal is known as the king of the jungle? One word.", "lion", "easy"),
    ]
    out = []
    for i, (q, a, difficulty) in enumerate(facts):
        out.append(
            {
                "id": f"fact-{i:02d}",
                "prompt": q,
                "expected": a,
                "scorers": ["contains"],
                "segments": {"kind": "factual", "difficulty": difficulty},
            }
        )
    formats = [
        ("Reply with the word YES in capital letters and nothing else.", r"^\W*YES\W*$", "easy"),
        ("Reply with only the word OK.", r"^\W*(?i:ok)\W*$", "easy"),
        ("Write the word apple in uppercase letters.", r"APPLE", "easy"),
        ("Write the numbers one to three as digits separated by commas.", r"1,\s*2,\s*3", "hard"),
        ("Answer yes or no: is the sun a star?", r"(?i)^\W*yes\b", "hard"),
        ("Answer true or false: 2 is larger than 5.", r"(?i)^\W*false\b", "hard"),
    ]
    for i, (q, pattern, difficulty) in enumerate(formats):
        out.append(
            {
                "id": f"format-{i:02d}",
                "prompt": q,
                "expected": pattern,
                "scorers": ["regex"],
                "segments": {"kind": "factual", "difficulty": difficulty},
            }
        )
    return out


def main() -> None:
    cases = arithmetic() + extraction() + tool_choice() + factual()
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    with OUT.open("w", encoding="utf-8") as fh:
        for case in cases:
            fh.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
