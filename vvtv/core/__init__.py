"""The kernel every stage builds on.

The data model and the messages actors exchange, the one JSON path (``convert``), the
clock, the settings read from the environment, request signing, the shared TLS context,
the one retry policy for outgoing HTTP, and thread offload. Nothing here imports another
part of vvtv.
"""
