"""The aistack CrossGuard policy pack, as ``pulumi preview --policy-pack policies`` runs it.

Pulumi runs this file from inside ``policies/`` (so ``aistack_rules`` is importable as a top-level
package). Building the ``PolicyPack`` starts the policy server, so it happens only when run as a
program; the rules themselves live in ``aistack_rules`` and are importable anywhere.
"""

if __name__ == "__main__":
    from aistack_rules.pack import pack_arguments
    from pulumi_policy import PolicyPack

    PolicyPack(**pack_arguments())
