"""What untrusted content may make the channel do on the network (ARCHITECTURE "Trust boundaries").

Feed hosts and media hosts are untrusted content providers. This package holds the rules
every outgoing connection for their content obeys, whichever stage makes it:

- ``addresses``: which resolved addresses may be reached (public unicast, plus the ranges
  the OwnerCard lists in ``search_policy.allow_private_addresses``);
- ``http``: an httpx client that resolves each host once, checks every address, and
  connects to the address it checked (every redirect hop included);
- ``body``: reading a response body bounded in *decoded* bytes (compression bombs,
  stacked encodings) and at a minimum rate (drip servers).

It sits at the bottom of the import order, next to ``vvtv.core``: it imports nothing
from vvtv but ``vvtv.core``, so both ``vvtv.discover`` and ``vvtv.media`` can use it.
"""
