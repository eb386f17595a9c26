"""The JupyterHub service for what many users share: approvals and the allocation ledger.

Runs as one hub-managed process (``python -m jupyter_vlass.hubservice``); users log in through the
hub (HubOAuth). Deciding on approvals needs the custom scope ``custom:vlass-approvals:decide``.
"""
