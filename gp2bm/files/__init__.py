"""Domain-free helpers: JSON and YAML files, checksums, timestamps, tar archives, redaction.

Nothing here knows about MLPerf, campaigns or runtimes; every other package may use it.
"""
