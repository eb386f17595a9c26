"""Web layer: thin tornado handlers over the domain packages."""
