"""The aistack policy pack and its offline API.

``policies/`` is two things: the CrossGuard pack directory Pulumi runs (``PulumiPolicy.yaml``,
``__main__.py``, ``requirements.txt``) and, imported from the repository root, the offline API
the engine and the CLI use::

    from policies import evaluate, list_rules, format_rules, environment_of, UNKNOWN
"""

from .aistack_rules import RULES, UNKNOWN
from .aistack_rules.levels import environment_of
from .offline import evaluate, format_rules, list_rules

__all__ = ["RULES", "UNKNOWN", "environment_of", "evaluate", "format_rules", "list_rules"]
