"""The weights manifest: every file of a model directory with its size and SHA-256, and the manifest's digest.

The manifest is written next to the weights (``<storage_uri>/aistack-manifest.txt``), uploaded with them
and copied with them to every replica store; an endpoint names the digest it must serve
(``weights_manifest: sha256:...``) and each server pod checks its store against it before vLLM starts
(``components/k8s/serving.py``, :func:`check_script`).

Format (chosen so a POSIX shell with ``cut``/``sort``/``cmp`` and ``rclone lsf`` can check it): one line
per file, ``<path>;<size>;<sha256 hex>``, paths relative to the model directory with ``/`` separators,
sorted by their UTF-8 bytes (``LC_ALL=C sort``), newline-terminated, the manifest itself excluded. The
digest is the SHA-256 of the manifest's bytes, written ``sha256:<hex>``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

from aistack.errors import InputError

MANIFEST_NAME = "aistack-manifest.txt"
"""The manifest's file name, inside the model directory (vLLM's streamer pulls only ``*.json``, ``*.model``,
``*.py`` and ``*.safetensors``: it never reads this file)."""

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
"""A manifest digest as an endpoint names it."""

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def build(directory: Path) -> str:
    """The manifest text of every file under ``directory`` (recursively), the manifest itself excluded.

    Raises:
        InputError: not a directory, no files, or a path the line format cannot carry (``;`` or a newline).
    """
    if not directory.is_dir():
        raise InputError("arguments", "weights manifest", f"{directory} is not a directory")
    lines = []
    for path in directory.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(directory).as_posix()
        if rel == MANIFEST_NAME:
            continue
        if ";" in rel or "\n" in rel:
            raise InputError(
                "arguments", "weights manifest", f"{rel!r}: file names may not contain ';' or newlines"
            )
        lines.append((rel.encode(), f"{rel};{path.stat().st_size};{file_sha256(path)}\n"))
    if not lines:
        raise InputError("arguments", "weights manifest", f"{directory} holds no files")
    return "".join(line for _, line in sorted(lines))


def digest(text: str) -> str:
    """``sha256:<hex>`` of a manifest's bytes: the value an endpoint's ``weights_manifest`` names."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def listing(text: str) -> list[str]:
    """``<path>;<size>`` per line of a manifest: what ``rclone lsf --format ps`` lists for the same store."""
    return [line.rsplit(";", 1)[0] for line in text.splitlines()]


def verify(directory: Path, text: str) -> list[str]:
    """The differences between a directory's files and a manifest (empty when identical): full digests."""
    have = set(build(directory).splitlines())
    want = set(text.splitlines())
    return [f"missing or changed: {line}" for line in sorted(want - have)] + [
        f"not in the manifest: {line}" for line in sorted(have - want)
    ]


def check_script(manifest_uri: str, weights_uri: str, expected: str) -> str:
    """The server pod's check, a POSIX shell script over ``rclone`` (the ``weights-check`` init container).

    Exact and cheap: the manifest is compared with the expected digest byte for byte (SHA-256 over a few
    KiB), and the store's listing (every object's path and size, one list call per 1,000 objects) with the
    manifest's. The digests of the weight files themselves are not recomputed here (that would read every
    byte, as long as the load itself): the transfer verifies each object's checksum in flight (Storage
    Transfer Service and rclone compare checksums of every copied object) and ``python -m aistack weights
    verify`` re-hashes a local copy against the manifest when needed. A missing, extra, truncated or
    half-copied file changes the listing; a different model or revision changes the manifest.

    Args:
        manifest_uri: ``src:<bucket or container>/<storage_uri>/aistack-manifest.txt``.
        weights_uri: ``src:<bucket or container>/<storage_uri>``.
        expected: The endpoint's ``weights_manifest``.
    """
    return "\n".join(
        [
            "set -eu",
            "export LC_ALL=C",
            f'rclone cat "{manifest_uri}" > /tmp/manifest || {{ echo "aistack: no weights manifest at '
            f'{manifest_uri}: refusing to serve"; exit 1; }}',
            'got="sha256:$(sha256sum /tmp/manifest | cut -d" " -f1)"',
            f'if [ "$got" != "{expected}" ]; then echo "aistack: weights manifest is $got, the endpoint '
            f"expects {expected} (the primary's): refusing to serve\"; exit 1; fi",
            "cut -d';' -f1,2 /tmp/manifest | sort > /tmp/want",
            f'rclone lsf -R --files-only --format ps --exclude "/{MANIFEST_NAME}" "{weights_uri}" | sort > /tmp/have',
            "if ! cmp -s /tmp/want /tmp/have; then echo \"aistack: the store's files differ from the manifest "
            '(- manifest, + store):"; diff /tmp/want /tmp/have | head -20; exit 1; fi',
            'echo "aistack: weights match manifest $got"',
        ]
    )


def add_command(commands: argparse._SubParsersAction) -> None:
    """``python -m aistack weights manifest DIR`` and ``weights verify DIR``."""
    p = commands.add_parser("weights", help="Write or verify the weights manifest of a model directory.")
    sub = p.add_subparsers(dest="weights_command", required=True, parser_class=type(p))
    m = sub.add_parser("manifest", help=f"Write DIR/{MANIFEST_NAME} and print its digest.")
    m.add_argument("directory", type=Path)
    m.add_argument("--print-only", action="store_true", help="Print the digest without writing the file.")
    v = sub.add_parser("verify", help=f"Re-hash DIR against DIR/{MANIFEST_NAME} (exit 1 on a difference).")
    v.add_argument("directory", type=Path)
    v.add_argument("--digest", help="Also require the manifest's digest to be this sha256:<hex>.")

    def handler(args: argparse.Namespace) -> int:
        directory: Path = args.directory
        target = directory / MANIFEST_NAME
        if args.weights_command == "manifest":
            text = build(directory)
            if not args.print_only:
                target.write_text(text)
            print(digest(text))
            return 0
        if not target.is_file():
            raise InputError("arguments", "weights verify", f"{target} does not exist")
        text = target.read_text()
        problems = verify(directory, text)
        if args.digest and args.digest != digest(text):
            problems.insert(0, f"manifest digest is {digest(text)}, expected {args.digest}")
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            print(digest(text))
        return 1 if problems else 0

    p.set_defaults(handler=handler)
