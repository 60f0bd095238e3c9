"""Stand-in package: see run.py."""
