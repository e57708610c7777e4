"""Discovery (SPEC §1.1): from sources to screened candidates.

``sources/`` reads folders, RSS/Atom and JSON Feeds into candidates; ``screening``
applies the allowlist, blocked keywords, the HD probe, the score and deduplication.
"""
