"""The bundle format: its number, and the bytes of the files whose content is fixed.

A bundle's file names and folders are the campaign's layout (``gp2bm.campaign.layout``,
``BundleLayout``). What a bundle's reports and README say is part of its format too: verify
renders them again and compares them character for character, so a change to their text
is a new format (``tests/test_golden_reports.py`` fails until the number goes up).
"""

from __future__ import annotations

# 2: reports and README that verify renders again and compares character for character.
# 3: gp2bm's run line names the run's campaign, benchmark and node, its closing line its
#    timings; run records of schema gp2bm.run-record/2 (the pre-flight); the trust ledger
#    in gp2bm-bundle.json, the README and the reports; each benchmark's energy in the
#    claims and reports (null without power logs), and the submission tree's MLPerf power
#    logs (power/result_N/node_K.txt); each benchmark's 95 % interval and MLPerf's stated
#    variance, the score's interval, in the claims, the README and every report (the CSV's
#    interval and variance columns, the workbook's, the HTML page's spread bar).
# 4: the RFP template the filled workbook was made from (reports/template/), which verify
#    fills again and compares cell by cell; the wheel of the gp2bm that wrote the bundle
#    (tool/, named and hashed in gp2bm-bundle.json); the HTML score card at the score's six
#    decimals, as every other report.
BUNDLE_FORMAT = 4

# The package checker compares each line with readlines() output, newline included: only a
# last line without a newline ever matches. So the file holds exactly this, no newline.
RCP_BYPASS = "rcp-bypass"
