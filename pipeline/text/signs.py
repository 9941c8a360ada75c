"""Word text as signs, covers, cards and labels show it (`generate --text words`): one token
per word, in the casing mix of signs (capitals most often), with numbers, prices and phone
numbers, brand-like compounds, web addresses and the punctuation a sign carries. The label
is what the image shows, punctuation included (eval's `alnum` normalization scores the
cropped-word protocol). Every draw comes from the `random.Random` it is given."""

from __future__ import annotations

import random
import string

from pipeline.text import codes_en

# Every character these tokens can hold besides the words' own: coverage is checked up front.
ALPHABET = frozenset(string.ascii_letters + string.digits + ".,:-/#$%&+@'!?€£¥()")
TLDS = ("com", "com", "com", "net", "org", "co.uk", "de", "in", "info")


def cased(word: str, rng: random.Random) -> str:
    """Capitals (2 in 5), Title Case (1 in 3), or as written."""
    u = rng.random()
    if u < 0.4:
        return word.upper()
    if u < 0.73:
        return word[:1].upper() + word[1:]
    return word


def number(rng: random.Random) -> str:
    """A number as one token (a quantity's space goes: `500g`)."""
    return rng.choice((codes_en.integer, codes_en.price, codes_en.phone, codes_en.quantity,
                       lambda r: str(r.randint(1900, 2030)), lambda r: str(r.randint(1, 999))))(rng).replace(" ", "")


def brand(rng: random.Random, words: list[str]) -> str:
    """`MegaMart`, `HOTEL24`, `Joe's`, `A&B`, `Coffee-House`: compounds a sign is made of."""
    a, b = rng.choice(words), rng.choice(words)
    form = rng.random()
    if form < 0.3:
        return a[:1].upper() + a[1:].lower() + b[:1].upper() + b[1:].lower()
    if form < 0.55:
        return cased(a, rng) + str(rng.choice((rng.randint(1, 99), rng.randint(100, 9999))))
    if form < 0.75:
        return cased(a, rng) + "'s"
    if form < 0.88:
        return cased(a, rng) + rng.choice(("&", "-", "+")) + cased(b, rng)
    return "".join(w[:1].upper() for w in (a, b, rng.choice(words)))        # initials: `IBM`-like


def web(rng: random.Random, words: list[str]) -> str:
    name = rng.choice(words).lower() + (rng.choice(words).lower() if rng.random() < 0.4 else "")
    form = rng.random()
    if form < 0.45:
        text = f"www.{name}.{rng.choice(TLDS)}"
    elif form < 0.8:
        text = f"{name}.{rng.choice(TLDS)}"
    else:
        text = f"{rng.choice(words).lower()}@{name}.{rng.choice(TLDS)}"
    return text.upper() if rng.random() < 0.2 else text


def ascii_words(words: list[str]) -> list[str]:
    """The words of ASCII letters alone, for compounds and addresses (computed once per pool)."""
    return [w for w in words if w.isascii() and w.isalpha()] or words


def token(rng: random.Random, words: list[str], ascii_words: list[str]) -> str:
    """One sign token: a word (62%), a number (14%), a compound (12%), a web address (6%), or a
    word with the punctuation of a sign (6%); `ascii_words` is `ascii_words(words)`."""
    u = rng.random()
    if u < 0.62 or not ascii_words:
        return cased(rng.choice(words), rng)
    if u < 0.76:
        return number(rng)
    if u < 0.88:
        return brand(rng, ascii_words)
    if u < 0.94:
        return web(rng, ascii_words)
    return cased(rng.choice(ascii_words), rng) + rng.choice(("!", ".", ":", "?", ","))


def line(rng: random.Random, words: list[str], n_words: int, ascii_only: list[str] | None = None) -> str:
    ascii_only = ascii_words(words) if ascii_only is None else ascii_only
    return " ".join(token(rng, words, ascii_only) for _ in range(max(1, n_words)))
