"""What kernel spawning and analysis jobs share with ``spawners/``: typed resource requests and admin
profiles, the scheduler's argv builders and parsers, the one subprocess seam (:func:`.runner.run`), Slurm
(local or over SSH), batch-script templates, the allocations ledger and approvals. Nothing web."""
