"""vvtv: an automated 24/7 TV channel on one machine, built from supervised Trio actors."""

__version__ = "0.1.0"
