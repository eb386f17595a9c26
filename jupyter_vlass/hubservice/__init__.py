"""The JupyterHub service for what many users share: approvals, the allocation ledger, job reports and
the site's signing key (capsules are signed here, for their author only).

Runs as one hub-managed process (``python -m jupyter_vlass.hubservice``); users log in through the
hub (HubOAuth). Deciding on approvals needs the custom scope ``custom:vlass-approvals:decide``.
"""
