"""What experts do over detection results: the consensus each dataset version has, expert votes
(:mod:`.votes`), the publish gate and its overrides (:mod:`.gate`), the hash-chained audit trail
(:mod:`.audit`), post-publication rechecks (:mod:`.recheck`), and :mod:`.review`, the board that holds
them (in this process's database, or the hub service's under a hub).
"""
