"""The one error type for bad input.

Every user-facing input (stack files, catalogs, workload files, command-line arguments)
is rejected with an :class:`InputError`, which the CLI prints as a single line and turns
into exit code 2. Nothing is declared from an input that raised it.
"""

from __future__ import annotations


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
