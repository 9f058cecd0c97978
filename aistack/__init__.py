"""aistack: multi-cloud GPU stacks on Pulumi.

This package holds everything that is not a Pulumi resource: the stack spec and its
loader, the offline engine, reports and the command-line tool (``python -m aistack``).
Importing it does not import Pulumi.
"""
