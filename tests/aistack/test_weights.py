"""The weights manifest: its format, the CLI that writes it, and the servers' check script run for real.

The check script runs under ``sh`` with this machine's coreutils; ``rclone`` is replaced by a stand-in that
answers the two calls the script makes (``cat`` and ``lsf -R --files-only --format ps --exclude``) from a
local directory, as rclone's local backend would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from aistack import weights
from aistack.cli import main
from aistack.errors import InputError

FAKE_RCLONE = """#!{python}
import os, sys
from pathlib import Path

root = Path(os.environ["FAKE_STORE"])
args = sys.argv[1:]
path = root / args[-1].split(":", 1)[1]
if args[0] == "cat":
    if not path.is_file():
        sys.exit(3)
    sys.stdout.write(path.read_text())
elif args[0] == "lsf":
    excluded = args[args.index("--exclude") + 1].lstrip("/")
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = f.relative_to(path).as_posix()
        if rel != excluded:
            print(f"{{rel}};{{f.stat().st_size}}")
else:
    sys.exit(2)
"""


def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "store" / "bucket" / "llama"
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text('{"model_type": "llama"}')
    (root / "sub" / "model-00001.safetensors").write_bytes(b"\x00" * 4096)
    (root / "tokenizer.json").write_text("{}")
    return root


def test_manifest_lists_every_file_sorted_with_size_and_sha256(tmp_path: Path) -> None:
    root = model_dir(tmp_path)
    text = weights.build(root)
    lines = text.splitlines()
    assert [line.split(";")[0] for line in lines] == [
        "config.json",
        "sub/model-00001.safetensors",
        "tokenizer.json",
    ]
    assert lines[1].split(";")[1:] == ["4096", weights.file_sha256(root / "sub" / "model-00001.safetensors")]
    assert weights.listing(text)[1] == "sub/model-00001.safetensors;4096"
    # The manifest itself is never listed in it, so writing it does not change it.
    (root / weights.MANIFEST_NAME).write_text(text)
    assert weights.build(root) == text


def test_manifest_refuses_names_the_format_cannot_carry(tmp_path: Path) -> None:
    root = model_dir(tmp_path)
    (root / "a;b.json").write_text("{}")
    with pytest.raises(InputError, match="may not contain"):
        weights.build(root)


def test_cli_writes_the_manifest_prints_its_digest_and_verifies(tmp_path: Path, capsys) -> None:
    root = model_dir(tmp_path)
    assert main(["weights", "manifest", str(root)]) == 0
    printed = capsys.readouterr().out.strip()
    assert weights.DIGEST.match(printed)
    assert printed == weights.digest((root / weights.MANIFEST_NAME).read_text())
    assert main(["weights", "verify", str(root), "--digest", printed]) == 0
    (root / "config.json").write_text('{"model_type": "mistral"}')
    assert main(["weights", "verify", str(root)]) == 1
    assert "missing or changed: config.json" in capsys.readouterr().err


def run_check(tmp_path: Path, expected: str) -> subprocess.CompletedProcess:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "rclone"
    shim.write_text(FAKE_RCLONE.format(python=sys.executable))
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    base = "src:bucket/llama"
    script = weights.check_script(f"{base}/{weights.MANIFEST_NAME}", base, expected)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_STORE": str(tmp_path / "store")}
    # The script writes its scratch files to /tmp; run each check in its own directory's copy of it.
    script = script.replace("/tmp/", f"{tmp_path}/")
    return subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, check=False)


def test_check_passes_on_the_primarys_weights(tmp_path: Path) -> None:
    root = model_dir(tmp_path)
    text = weights.build(root)
    (root / weights.MANIFEST_NAME).write_text(text)
    done = run_check(tmp_path, weights.digest(text))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "weights match manifest" in done.stdout


def test_check_refuses_another_manifest(tmp_path: Path) -> None:
    root = model_dir(tmp_path)
    (root / weights.MANIFEST_NAME).write_text(weights.build(root))
    done = run_check(tmp_path, "sha256:" + "0" * 64)
    assert done.returncode == 1
    assert "refusing to serve" in done.stdout


def test_check_refuses_a_half_copied_store(tmp_path: Path) -> None:
    root = model_dir(tmp_path)
    text = weights.build(root)
    (root / weights.MANIFEST_NAME).write_text(text)
    (root / "sub" / "model-00001.safetensors").write_bytes(b"\x00" * 100)  # truncated copy
    done = run_check(tmp_path, weights.digest(text))
    assert done.returncode == 1
    assert "sub/model-00001.safetensors;4096" in done.stdout


def test_check_refuses_a_store_without_manifest(tmp_path: Path) -> None:
    model_dir(tmp_path)
    done = run_check(tmp_path, "sha256:" + "1" * 64)
    assert done.returncode == 1
    assert "no weights manifest" in done.stdout
