"""Analysis jobs: a notebook run with pinned inputs at a site (local, or a Slurm partition).

:mod:`.jobs` submits and follows them (:class:`~.jobs.Jobs`, :class:`~.job.Job`) from a validated
:mod:`.manifest`; :mod:`.sites` runs them, :mod:`.staging` and :mod:`.s3scratch` bring their inputs,
:mod:`.execute` is what runs inside the job (papermill), :mod:`.cache` is the result cache across sites,
:mod:`.dask_cluster` a Dask cluster of Slurm jobs; :mod:`.hub_accounts` and :mod:`.job_accounts` are the
two sides of authorizing and charging them at the hub, :mod:`.dashboard` the hub's figures of them, and
:mod:`.config` the configuration file the command line, the Python API and the server share.
"""
