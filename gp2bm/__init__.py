"""gp2bm: run, check, score and hand in the GP2BM MLPerf Training benchmark of an RFP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gp2bm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
