"""A campaign's list of numbers checked against customers' bans and consents: CSV with a
``phone`` column (the header names it), or one column of numbers without a header."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

from webapp.customers import flags
from webapp.importers import batched
from webapp.phones import to_e164

BATCH = 2000


class ListError(ValueError):
    pass


def read(path: Path) -> list[str]:
    """The numbers as the file writes them, in its order."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
        lines = [fields for fields in csv.reader(io.StringIO(text, newline="")) if fields]
    except UnicodeDecodeError as error:
        raise ListError(f"not UTF-8 (byte {error.start + 1} is not valid)") from error
    except csv.Error as error:
        raise ListError(f"broken CSV: {error}") from error
    header = [name.strip().lower() for name in lines[0]] if lines else []
    if "phone" in header:
        column, lines = header.index("phone"), lines[1:]
    elif len(header) == 1:
        column = 0
    else:
        raise ListError("a header with a phone column, or one column of numbers, is needed")
    return [fields[column].strip() if column < len(fields) else "" for fields in lines]


def check(
    numbers: list[str],
    purpose: str,
    day: date,
    progress: Callable[[int], None] = lambda n: None,
) -> Iterator[tuple[str, str | None, flags.Decision | None]]:
    """Each number as given, as E.164 and its decision; None and None when it is no number."""
    for batch in batched(numbers, BATCH):
        normalised = {}
        for given in batch:
            try:
                normalised[given] = to_e164(given)
            except ValueError:
                normalised[given] = None
        decisions = flags.decide_many(set(normalised.values()) - {None}, purpose, day)
        for given in batch:
            phone = normalised[given]
            yield given, phone, decisions[phone] if phone else None
        progress(len(batch))
