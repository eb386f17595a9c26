"""Detection models and what their runs give: the detectors (:mod:`.classical`, the torch :mod:`.cnn`,
found through :mod:`.registry`'s entry points), images and mosaics read in chunks (:mod:`.images`,
:mod:`.mosaic`), per-pixel class maps (:mod:`.pixels`), the consensus of several runs and its
agreement regions (:mod:`.consensus`, :mod:`.regions`), and the consensus document the overlay and the
static figure draw (:mod:`.document`, :mod:`.figure`).
"""
