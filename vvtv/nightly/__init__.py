"""The nightly job (SPEC §1.9): export and retention, reports, autotune."""
