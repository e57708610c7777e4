"""The channel's side of the edge (cloud/worker, SPEC §10): publishing and relayed control.

The edge is a Cloudflare Worker that serves viewers and relays the operator's control
calls; the channel machine only ever connects outwards to it. Its contract is
cloud/worker/PROTOCOL.md. This folder holds the pure parts the ``edge`` actors
(``actors/edge.py``) are built from:

- ``client``: signed requests to the edge (a fresh nonce each), answers as values;
- ``hls``: what to upload for the live window (every segment once, then the playlist
  that lists only stored segments, numbered as the origin numbers them), and how far the
  edge is behind;
- ``commands``: the agent's reading of relayed commands (untrusted input, checked field
  by field) and their deadlines.
"""
