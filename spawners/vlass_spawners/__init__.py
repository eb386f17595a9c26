"""JupyterHub spawners for jupyter-vlass (thin adapters over ``jupyter_vlass.compute``)."""

__version__ = "0.1.0"
