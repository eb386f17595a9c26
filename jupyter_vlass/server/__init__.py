"""Web layer: thin tornado handlers over the domain packages, one module per resource (:mod:`.routes` lists them).

A handler imports the domain modules it serves when it first runs (deliberately: a user's server starts
without astropy, MOCs, SQLAlchemy or the models; the first request that needs them pays once).
"""
