"""The OwnerCard (SPEC §2): the channel's editorial policy.

Its shape (``card``), loading it from YAML with errors that name the field (``load``),
and the holder that validates a reload, keeps the previous card on error, and records
what changed.
"""
