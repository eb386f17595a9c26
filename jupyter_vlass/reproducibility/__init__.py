"""Reproducibility: signed run capsules of analysis jobs (RO-Crate 1.1, OpenSSF Model Signing), verified
by anyone with the site's public key."""
