"""Cases for the guarded-endpoint rules: the serving API key and customer-managed keys on secret managers."""

from __future__ import annotations

from typing import Any

from policies import UNKNOWN as U
from tests.policies.cases import DEPLOYMENT, Case, container, res

SM_SECRET = "aws:secretsmanager/secret:Secret"
GCP_SECRET = "gcp:secretmanager/secret:Secret"
KEY_REF = {"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "chat-api-key", "key": "api-key"}}}
CMEK = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"


def vllm(env: Any = None, args: Any = None, **changes: Any) -> dict[str, Any]:
    """A Deployment running vLLM with ``env`` (the API key from a Secret unless given)."""
    server = container(
        command=["vllm", "serve"],
        args=args if args is not None else ["/models/llama", "--port=8000"],
        env=[KEY_REF] if env is None else env,
        **changes,
    )
    spec = {"template": {"spec": {"containers": [server]}}}
    return res(DEPLOYMENT, "chat", {"metadata": {"namespace": "aistack-serving"}, "spec": spec})


def gcp_secret(replication: Any) -> dict[str, Any]:
    return res(GCP_SECRET, "s", {"secretId": "chat", "replication": replication})


GUARD_CASES = {
    "k8s-serving-api-key": Case(
        compliant=[vllm(), vllm(env=None, image="docker.io/vllm/vllm-openai:v0.11.0")],
        violating=[vllm(env=[{"name": "VLLM_API_KEY", "value": "sk-plain"}])],
        unknown=[
            vllm(env=[{"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": U, "key": "api-key"}}}])
        ],
        message="sets VLLM_API_KEY as a plain value",
    ),
    "secret-manager-cmk": Case(
        compliant=[
            res(SM_SECRET, "s", {"kmsKeyId": "arn:aws:kms:us-east-1:111122223333:key/k"}),
            gcp_secret(
                {
                    "userManaged": {
                        "replicas": [
                            {"location": "us-central1", "customerManagedEncryption": {"kmsKeyName": CMEK}}
                        ]
                    }
                }
            ),
        ],
        violating=[res(SM_SECRET, "s", {"description": "no key"})],
        unknown=[res(SM_SECRET, "s", {"kmsKeyId": U})],
        message="kmsKeyId is not set",
    ),
}
