"""Pulumi component families, one per cloud, all implementing the contract in ``contract.py``."""
