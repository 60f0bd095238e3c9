"""The names of what a hand-in bundle holds (shared by packaging and verify)."""

from __future__ import annotations

CLAIMS_FILE = "gp2bm-claims.json"


BUNDLE_FILE = "gp2bm-bundle.json"


SUMS_FILE = "SHA256SUMS"


README_FILE = "README.md"


# 2: reports and README that verify renders again and compares character for character.
BUNDLE_FORMAT = 2


PARAMS_FILE = "package_checker_params"


# The package checker compares each line with readlines() output, newline included: only a
# last line without a newline ever matches. So the file holds exactly this, no newline.
RCP_BYPASS = "rcp-bypass"
