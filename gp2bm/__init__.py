"""gp2bm: run, check, score and hand in the GP2BM MLPerf Training benchmark of an RFP."""

# The one place the version is written (pyproject.toml reads it from here): read at every
# start, where asking the installed package's metadata would cost 30 ms of imports.
__version__ = "0.1.0"
