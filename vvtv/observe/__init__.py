"""What the channel shows about itself.

Live topics for the dashboards (latest state wins, snapshot first), Prometheus metrics,
and the pipeline statistics (QA pass rate, fallback rate) they are computed from.
"""
