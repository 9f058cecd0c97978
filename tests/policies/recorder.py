"""Run a Pulumi Python program under the mock runtime and record its resources.

A stand-in for the offline engine's recording (which the lead builds in ``aistack/``): it
produces the resource dicts ``policies.evaluate`` takes, with the same conventions the engine
promises: a bucket's ``id`` and ``bucket`` outputs (and a cluster's ``name``) are its physical
name, i.e. the ``bucket``/``name`` (AKS: ``resourceName``) input when given, else the logical
name; every resource echoes its inputs as outputs, AWS resources get an ``arn`` and Azure and GCP
resources a ``name``. Nothing is returned for other computed outputs, so with
``preview=True`` they stay unknown, as in a real preview.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks, rpc

# Resources whose physical name other resources refer to, and the input that holds it.
_PHYSICAL_NAME_INPUT = {
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketV2:BucketV2": "bucket",
    "aws:eks/cluster:Cluster": "name",
    "gcp:container/cluster:Cluster": "name",
    "gcp:storage/bucket:Bucket": "name",
    "azure-native:containerservice:ManagedCluster": "resourceName",
    "azure-native:storage:StorageAccount": "accountName",
}


class _Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        key = _PHYSICAL_NAME_INPUT.get(args.typ)
        physical = state.get(key) if key else None
        physical = physical if isinstance(physical, str) else args.name
        if key:
            state[key] = physical
        if args.typ.startswith(("azure-native:", "gcp:")):
            state.setdefault("name", physical)
        if args.typ.startswith("aws:"):
            service = args.typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:us-east-1:123456789012:{args.name}")
        return physical if key else f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        raise AssertionError(f"unexpected invoke {args.token}")


class _Monitor(mocks.MockMonitor):
    def __init__(self) -> None:
        super().__init__(_Mocks())
        self.records: list[dict[str, Any]] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.records.append(
                {
                    "urn": response.urn,
                    "type": request.type,
                    "name": request.name,
                    "parent": request.parent or None,
                    "custom": request.custom,
                    "provider": request.provider or None,
                    "inputs": rpc.deserialize_properties(request.object),
                }
            )
        return response


def record(
    program: Callable[[], None] | Path, *, preview: bool = True, stack: str = "dev"
) -> list[dict[str, Any]]:
    """Run ``program`` (a function, or a program directory with ``__main__.py``) under mocks.

    Returns:
        One dict per registered resource: ``urn``, ``type``, ``name``, ``parent``, ``custom``,
        ``provider`` and camelCase ``inputs`` (unknowns as ``pulumi.output.Unknown``).
    """
    monitor = _Monitor()
    pulumi.runtime.set_mocks(monitor.mocks, project="fixture", stack=stack, preview=preview, monitor=monitor)
    if isinstance(program, Path):
        directory = str(program)

        def program() -> None:  # noqa: F811 (the directory becomes a callable)
            sys.path.insert(0, directory)
            try:
                runpy.run_path(str(Path(directory) / "__main__.py"), run_name="__main__")
            finally:
                sys.path.remove(directory)

    pulumi.runtime.test(program)()
    return monitor.records
