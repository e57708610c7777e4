"""The nightly job (SPEC §1.9): once per local date, at 03:00 local.

``job`` runs it (export of the audit trail, retention, the daily and weekly reports, the
autotune step) and records it; ``reports`` builds the reports from what aired (pure
functions, also the date/week parsing of the reports API); ``autotune`` nudges the fine
scoring weights within the card's bounds and explains each change.
"""
