"""Receipt text (`generate --text receipt`): the lines a till prints. Item lines with
quantities and prices, totals and tax, payment and change, dates and times, receipt and
tax numbers, shop addresses and phone numbers, the thank-you line; often one field alone,
as a crop of one box of a receipt holds. Upper case most of the time, as till rolls are.
Every draw comes from the `random.Random` it is given."""

from __future__ import annotations

import random
import string
from typing import Callable

from pipeline.text import codes_en

# Every character these lines can hold besides the words' own: coverage is checked up front.
ALPHABET = frozenset(string.ascii_letters + string.digits + " .,:;-/#$%()&+@*=x€£¥")

TOTALS = ("TOTAL", "SUBTOTAL", "SUB TOTAL", "TOTAL DUE", "AMOUNT DUE", "BALANCE", "NET TOTAL", "GRAND TOTAL",
          "TOTAL INCL. TAX", "TOTAL SALES", "ROUNDING", "ROUNDING ADJ", "DISCOUNT", "SERVICE CHARGE", "TIPS")
TAXES = ("TAX", "VAT", "GST", "SST", "SALES TAX", "HST")
PAYMENTS = ("CASH", "CHANGE", "CHANGE DUE", "CARD", "VISA", "MASTERCARD", "DEBIT", "CREDIT", "TENDERED",
            "PAID", "AMOUNT PAID", "E-WALLET")
FIELDS = ("RECEIPT NO", "RECEIPT #", "INVOICE NO", "BILL NO", "TRANS NO", "TRANSACTION NO", "ORDER NO",
          "TABLE", "CASHIER", "SERVER", "TERMINAL", "POS", "STORE", "REG NO", "TAX ID", "VAT NO", "DOC NO",
          "MEMBER", "COUNTER", "SHIFT", "QTY", "ITEM COUNT", "ITEMS")
HEADINGS = ("TAX INVOICE", "SIMPLIFIED TAX INVOICE", "RECEIPT", "CASH RECEIPT", "OFFICIAL RECEIPT",
            "ITEM", "QTY", "PRICE", "AMOUNT", "DESCRIPTION", "UNIT PRICE", "TOTAL", "CUSTOMER COPY",
            "MERCHANT COPY", "DUPLICATE")
CLOSINGS = ("THANK YOU", "THANK YOU. PLEASE COME AGAIN.", "THANK YOU FOR SHOPPING WITH US",
            "GOODS SOLD ARE NOT RETURNABLE", "PLEASE KEEP THIS RECEIPT", "HAVE A NICE DAY",
            "NO REFUND", "EXCHANGE WITHIN 7 DAYS WITH RECEIPT", "PRICES INCLUDE TAX", "SEE YOU AGAIN")
STREETS = ("ROAD", "RD", "STREET", "ST", "AVENUE", "AVE", "LANE", "JALAN", "BLVD", "DRIVE", "WAY", "PLAZA",
           "SQUARE", "PARK", "CENTRE", "MALL")
CURRENCIES = ("", "", "", "$", "RM", "€", "£", "S$", "USD ", "EUR ")
TAX_FLAGS = ("", "", "", " S", " Z", " T", " A", " *")


def amount(rng: random.Random) -> str:
    value = rng.choice((rng.uniform(0, 10), rng.uniform(0, 100), rng.uniform(0, 1000)))
    text = f"{value:,.2f}" if value >= 1000 and rng.random() < 0.5 else f"{value:.2f}"
    return ("-" + text) if rng.random() < 0.04 else text


def money(rng: random.Random) -> str:
    currency = rng.choice(CURRENCIES)
    gap = " " if currency and currency[-1].isalpha() and rng.random() < 0.5 else ""
    return f"{currency}{gap}{amount(rng)}"


def _colon(rng: random.Random) -> str:
    return rng.choice((" : ", ": ", ":", " ", "  "))


def _item(rng: random.Random, words: list[str]) -> str:
    name = " ".join(rng.choice(words) for _ in range(rng.choice((1, 1, 2, 2, 3)))).upper()
    form = rng.random()
    if form < 0.3:
        return f"{name} {amount(rng)}"
    if form < 0.55:
        return f"{rng.randint(1, 12)} X {amount(rng)}" if rng.random() < 0.5 else f"{rng.randint(1, 9)} {name}"
    if form < 0.75:
        return f"{rng.randint(1, 9)} {name} {amount(rng)}{rng.choice(TAX_FLAGS)}"
    return name


def _total(rng: random.Random) -> str:
    form = rng.random()
    if form < 0.7:
        return f"{rng.choice(TOTALS + PAYMENTS)}{_colon(rng)}{money(rng)}"
    tax = rng.choice(TAXES)
    rate = rng.choice((5, 6, 7, 8, 10, 15, 20))
    return rng.choice((f"{tax} {rate}%{_colon(rng)}{amount(rng)}", f"{tax} @{rate}%", f"{tax} S@{rate}%",
                       f"{tax}{_colon(rng)}{money(rng)}", f"{tax} ({rate}%)"))


def _when(rng: random.Random) -> str:
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2010, 2030)
    date = rng.choice((f"{day:02d}/{month:02d}/{year}", f"{day:02d}-{month:02d}-{year}",
                       f"{year}-{month:02d}-{day:02d}", f"{day:02d}/{month:02d}/{year % 100:02d}",
                       f"{day} {codes_en.MONTHS[month - 1][:3].upper()} {year}"))
    time = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}" + (f":{rng.randint(0, 59):02d}" if rng.random() < 0.5 else "")
    form = rng.random()
    if form < 0.3:
        return date
    if form < 0.45:
        return time
    if form < 0.7:
        return f"{date} {time}"
    if form < 0.88:
        return f"DATE{_colon(rng)}{date}"
    return f"TIME{_colon(rng)}{time}"


def _field(rng: random.Random, words: list[str]) -> str:
    label = rng.choice(FIELDS)
    value = rng.choice((
        lambda: str(rng.randint(1, 99999)),
        lambda: f"{codes_en.letters(rng, rng.randint(1, 3))}{codes_en.digits(rng, rng.randint(4, 10))}",
        lambda: f"{codes_en.digits(rng, rng.randint(1, 4))}-{codes_en.digits(rng, rng.randint(4, 8))}",
        lambda: f"({codes_en.digits(rng, rng.randint(6, 12))}-{rng.choice(string.ascii_uppercase)})",
        lambda: rng.choice(words).upper(),
    ))()
    return f"{label}{_colon(rng)}{value}" if rng.random() < 0.85 else value


def _address(rng: random.Random, words: list[str]) -> str:
    form = rng.random()
    if form < 0.5:
        return (f"{rng.choice(('NO ', 'NO. ', 'LOT ', '', ''))}{rng.randint(1, 300)}{rng.choice(('', '', 'A', 'B'))}"
                f"{rng.choice((', ', ' '))}{rng.choice(words).upper()} {rng.choice(STREETS)}")
    if form < 0.75:
        return f"{rng.choice(('TEL', 'TEL.', 'PHONE', 'FAX', 'HP'))}{_colon(rng)}{codes_en.phone(rng)}"
    if form < 0.9:
        return f"{codes_en.digits(rng, 5)} {rng.choice(words).upper()}"
    return " ".join(rng.choice(words) for _ in range(rng.randint(1, 3))).upper() + rng.choice(
        (" SDN BHD", " LTD", " INC", " LLC", " GMBH", " & CO", " ENTERPRISE", " TRADING", ""))


def _lone(rng: random.Random, words: list[str]) -> str:
    """One box alone: a price, a count, a code, a word, a colon."""
    return rng.choice((
        lambda: amount(rng), lambda: amount(rng), lambda: money(rng), lambda: str(rng.randint(1, 20)),
        lambda: codes_en.digits(rng, rng.choice((8, 12, 13))), lambda: rng.choice(HEADINGS + TOTALS + PAYMENTS),
        lambda: rng.choice(words).upper(), lambda: ":",
    ))()


KINDS: tuple[tuple[Callable[..., str], float, bool], ...] = (
    (_item, 0.22, True), (_total, 0.16, False), (_when, 0.1, False), (_field, 0.12, True),
    (_address, 0.1, True), (_lone, 0.2, True),
    (lambda rng: rng.choice(HEADINGS + CLOSINGS), 0.1, False),
)


def line(rng: random.Random, words: list[str]) -> str:
    """One receipt line; upper case, except one line in eight in the case it was written in
    (receipts printed in mixed case exist too, and eval compares case-insensitively)."""
    kinds = [k for k in KINDS if words or not k[2]]
    make, _, needs_words = rng.choices(kinds, weights=[w for _, w, _ in kinds])[0]
    text = make(rng, words) if needs_words else make(rng)
    if rng.random() < 0.125:
        text = text.title() if rng.random() < 0.7 else text.lower()
    return " ".join(text.split())
