"""``python -m aistack``.

One command per process, so two costs of the interpreter that buy such a process nothing are
skipped (``benchmarks/preview_bench.py`` measures the preview): the cyclic garbage collector, whose
full passes walk the SDKs' hundreds of thousands of objects again and again while a program is
previewed (a third of ``preview --stack dev``; peak memory alike without it, as reference counting
frees nearly everything), and the teardown at exit, which frees those objects one by one (another
0.7 s of CPU for ``dev``) when the operating system reclaims the whole process at once.
"""

import contextlib
import gc
import os
import sys

gc.disable()

from aistack.cli import main  # noqa: E402 (after the collector is off: the imports are much of its work)

code = main()
for stream in (sys.stdout, sys.stderr):
    # A closed pipe (`| head`) or stream: nothing more to deliver.
    with contextlib.suppress(OSError, ValueError):
        stream.flush()
os._exit(code)
