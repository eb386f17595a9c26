"""Compute: resource requests, site backends and the subprocess seam (grows with the HPC issue)."""
