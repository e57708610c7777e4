"""Telling the outside (SPEC §5-6): alert rules and notification state, and signed
HTTP delivery to webhooks and the cloud.
"""
