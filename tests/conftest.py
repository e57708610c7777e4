"""Shared fixtures. pytest-trio provides ``autojump_clock`` (a MockClock that jumps when idle)."""
