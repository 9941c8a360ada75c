"""A generator of what real documents are full of and prose lacks: numbers, dates, times,
prices, quantities, codes and identifiers. Every function draws from the `random.Random`
it is given, so a line stays a pure function of its seed."""

from __future__ import annotations

import random
import string
from typing import Callable

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
UNITS = ("kg", "g", "mg", "lb", "oz", "km", "m", "cm", "mm", "in", "ft", "L", "ml", "pcs", "%", "MB", "GB", "h", "min")
LABELS = ("Total", "Subtotal", "Tax", "VAT", "Amount due", "Balance", "Invoice No.", "Order #", "Ref.",
          "Date", "Due date", "Account", "Tel.", "Phone", "Fax", "ID", "Serial No.", "Item", "Qty",
          "Price", "Discount", "Change", "Cash", "Card", "Page", "Room", "Gate", "Seat", "Flight",
          "Batch", "Lot", "Exp.", "Version", "Code", "Ticket", "Member", "Policy", "Case No.")
DOMAINS = ("example.com", "example.org", "mail.example.net", "data.example.edu")
CURRENCIES = ("$", "$", "$", "€", "£", "¥")

# Every character these generators can emit: font coverage is checked against it up front.
ALPHABET = frozenset(string.ascii_letters + string.digits + " .,:;-/#$%()[]&+@_€£¥")


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def _grouped(value: int) -> str:
    return f"{value:,}"


def integer(rng: random.Random) -> str:
    magnitude = rng.choice((10, 100, 1000, 10_000, 1_000_000, 100_000_000))
    value = rng.randrange(magnitude)
    text = _grouped(value) if value >= 1000 and rng.random() < 0.6 else str(value)
    return ("-" + text) if rng.random() < 0.08 else text


def decimal(rng: random.Random) -> str:
    places = rng.choice((1, 2, 2, 3))
    value = rng.uniform(0, rng.choice((1, 10, 100, 10_000)))
    text = f"{value:,.{places}f}" if rng.random() < 0.5 else f"{value:.{places}f}"
    return text + ("%" if rng.random() < 0.15 else "")


def price(rng: random.Random) -> str:
    value = rng.choice((rng.uniform(0, 20), rng.uniform(0, 500), rng.uniform(0, 50_000)))
    amount = f"{value:,.2f}"
    style = rng.random()
    if style < 0.6:
        return f"{rng.choice(CURRENCIES)}{amount}"
    if style < 0.8:
        return f"{amount} {rng.choice(('USD', 'EUR', 'GBP', 'CAD', 'CHF'))}"
    return f"{amount.replace(',', ' ').replace('.', ',')} €"     # continental: 1 234,50 €


def date(rng: random.Random) -> str:
    year, month, day = rng.randint(1950, 2035), rng.randint(1, 12), rng.randint(1, 28)
    forms = (f"{year}-{month:02d}-{day:02d}", f"{month:02d}/{day:02d}/{year}", f"{day:02d}.{month:02d}.{year}",
             f"{MONTHS[month - 1]} {day}, {year}", f"{day} {MONTHS[month - 1][:3]} {year}",
             f"{DAYS[rng.randrange(7)][:3]}, {day} {MONTHS[month - 1][:3]}", f"{day}/{month}/{year % 100:02d}")
    return rng.choice(forms)


def time_of_day(rng: random.Random) -> str:
    hour, minute = rng.randint(0, 23), rng.randint(0, 59)
    if rng.random() < 0.5:
        return f"{hour:02d}:{minute:02d}" + (f":{rng.randint(0, 59):02d}" if rng.random() < 0.3 else "")
    return f"{hour % 12 or 12}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def quantity(rng: random.Random) -> str:
    value = rng.choice((str(rng.randint(1, 999)), f"{rng.uniform(0, 100):.1f}"))
    unit = rng.choice(UNITS)
    return f"{value}{unit}" if unit == "%" or rng.random() < 0.4 else f"{value} {unit}"


def code(rng: random.Random) -> str:
    """Invoice numbers, SKUs, serials, plates, hex and version strings."""
    forms: tuple[Callable[[], str], ...] = (
        lambda: f"{letters(rng, 3)}-{rng.randint(2000, 2035)}-{digits(rng, 5)}",
        lambda: f"{letters(rng, 2)}{digits(rng, rng.randint(4, 8))}",
        lambda: f"{digits(rng, 5)}-{letters(rng, 1)}",
        lambda: "-".join("".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(4))
                         for _ in range(rng.randint(2, 4))),
        lambda: f"{letters(rng, 3)} {digits(rng, 4)}",
        lambda: f"0x{rng.randrange(16 ** rng.randint(2, 8)):X}",
        lambda: f"v{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}",
        lambda: f"#{digits(rng, rng.randint(3, 7))}",
        lambda: digits(rng, rng.randint(8, 13)),
    )
    return rng.choice(forms)()


def phone(rng: random.Random) -> str:
    forms = (f"({digits(rng, 3)}) {digits(rng, 3)}-{digits(rng, 4)}",
             f"+{rng.randint(1, 49)} {digits(rng, 3)} {digits(rng, 3)} {digits(rng, 4)}",
             f"{digits(rng, 3)}-{digits(rng, 3)}-{digits(rng, 4)}")
    return rng.choice(forms)


def address(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        user = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
        sep = rng.choice(("", ".", "_"))
        extra = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(0, 6)))
        return f"{user}{sep if extra else ''}{extra}@{rng.choice(DOMAINS)}"
    if kind < 0.7:
        path = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
        return f"www.{rng.choice(DOMAINS)}/{path}"
    return f"{rng.randint(1, 9999)} {rng.choice(('Main', 'Oak', 'High', 'Park', 'Mill', 'Elm'))} " \
           f"{rng.choice(('St.', 'Ave.', 'Rd.', 'Blvd.', 'Lane'))}"


def _initials(rng: random.Random) -> str:
    return " ".join(f"{rng.choice(string.ascii_uppercase)}." for _ in range(rng.choice((1, 1, 1, 2))))


def _year(rng: random.Random) -> str:
    return str(rng.randint(1950, 2026)) + (rng.choice("ab") if rng.random() < 0.05 else "")


def citation(rng: random.Random, names: list[str]) -> str:
    """What scientific prose is full of: citations, numbered references, author lists with
    initials, figure, table, equation and page references. `names` are surnames to use."""
    def name() -> str:
        return rng.choice(names) if names else letters(rng, 1) + "".join(
            rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 8)))

    def numbers() -> str:
        ids = sorted(rng.sample(range(1, 60), rng.choice((1, 1, 2, 3))))
        sep = rng.choice((", ", ","))
        if len(ids) > 1 and rng.random() < 0.3:
            return f"{ids[0]}-{ids[0] + rng.randint(1, 4)}"
        return sep.join(map(str, ids))

    def author_year() -> str:
        form = rng.random()
        if form < 0.4:
            return f"{name()}, {_year(rng)}"
        if form < 0.7:
            return f"{name()}{rng.choice((' et al.,', ', et al.,'))} {_year(rng)}"
        return f"{name()} and {name()}, {_year(rng)}"

    forms: tuple[Callable[[], str], ...] = (
        lambda: "(" + "; ".join(author_year() for _ in range(rng.choice((1, 1, 2, 3)))) + ")",
        lambda: f"[{numbers()}]",
        lambda: f"{name()} {rng.choice(('et al. ', ''))}[{numbers()}]",
        lambda: ", ".join(f"{_initials(rng)} {name()}" for _ in range(rng.randint(1, 3)))
        + f"{rng.choice((',', ''))} and {_initials(rng)} {name()}",
        lambda: f"{rng.choice(('Fig.', 'Figure', 'Table', 'Section', 'Eq.', 'Ref.'))} "
                f"{rng.choice((str(rng.randint(1, 12)), f'{rng.randint(1, 9)}.{rng.randint(1, 9)}', f'({rng.randint(1, 40)})'))}",
        lambda: (f"pp. {(a := rng.randint(1, 900))}-{a + rng.randint(1, 40)}" if rng.random() < 0.6
                 else f"Vol. {rng.randint(1, 120)}, No. {rng.randint(1, 12)}"),
    )
    return rng.choice(forms)()


GENERATORS: tuple[Callable[[random.Random], str], ...] = (
    integer, decimal, price, price, date, time_of_day, quantity, code, code, phone, address)


def token(rng: random.Random) -> str:
    return rng.choice(GENERATORS)(rng)


def line(rng: random.Random, words: list[str], n_words: int) -> str:
    """A document-like line of `n_words` pieces: labels, values and a few ordinary words."""
    form = rng.random()
    if form < 0.35:
        label = rng.choice(LABELS)
        return f"{label}{rng.choice((':', ':', '', ' -'))} {token(rng)}"
    pieces = []
    for _ in range(max(1, n_words)):
        pieces.append(token(rng) if not words or rng.random() < 0.5 else rng.choice(words))
    return " ".join(pieces)
