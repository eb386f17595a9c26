"""The JupyterHub service for what many users share: approvals, the allocation ledger, job authorization,
charges and reports, the site's signing key, consensus, votes, the audit trail and search quotas.

Runs as one hub-managed process (``python -m jupyter_vlass.hubservice``); users log in through the hub
(HubOAuth). :mod:`.base` holds the handler every resource shares; one module per resource
(:mod:`.allocations`, :mod:`.jobs`, :mod:`.signing`, :mod:`.review`, :mod:`.quotas`) exports its
``routes``; :mod:`.app` assembles and serves them. Deciding on approvals needs the custom scope
``custom:vlass-approvals:decide``.
"""
