"""Is the store there and healthy: :mod:`.connectivity` (``vigileos check``: reach,
authenticate, write and read back), :mod:`.diagnosis` (what a failure means and what
to do about it), :mod:`.facts` (what the store holds, its spool, rollups and
storage)."""
