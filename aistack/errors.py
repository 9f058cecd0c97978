"""The one error type for bad input.

Every user-facing input (stack files, catalogs, workload files, command-line arguments)
is rejected with an :class:`InputError`, which the CLI prints as a single line and turns
into exit code 2. Nothing is declared from an input that raised it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path


class InputError(Exception):
    """Invalid user input, reported as ``<file>: <key>: <message>``.

    Args:
        file: The file (or ``"arguments"``) the bad value came from.
        key: Dotted key path of the bad value, e.g. ``aistack:clusters.main.gpu_pools.a10g.max_nodes``.
            Empty when the whole file is at fault (e.g. malformed YAML).
        message: What is wrong and what is allowed.
    """

    exit_code = 2

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = str(file)
        self.key = key
        self.message = message
        super().__init__(self.line())

    def line(self) -> str:
        """The single line printed on stderr (control characters from the input escaped)."""
        where = f"{self.file}: {self.key}" if self.key else self.file
        text = f"{where}: {self.message}"
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def csv_rows(path: Path, columns: Sequence[str], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a bundled or user CSV table with exactly ``columns``: ``(line number, stripped row)``.

    Raises:
        InputError: the file cannot be read (``cannot read <what>``) or its header is not ``columns``.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(str(path), "", f"cannot read {what}: {err.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != tuple(columns):
        raise InputError(str(path), "header", f"columns must be exactly {', '.join(columns)}")
    for line, raw in enumerate(reader, start=2):
        yield line, {k: (v or "").strip() for k, v in raw.items()}
