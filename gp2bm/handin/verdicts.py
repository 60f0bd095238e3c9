"""The checkers' verdicts of one ``package`` or ``verify`` run, by the content they judged.

Scoring a bundle runs MLCommons' compliance checker and seed reader on every log; MLCommons'
package checker would then run the same library calls on the same bytes again. Within one
run, each verdict is computed once: the scoring stores it here under the log's SHA-256 (this
object stands in for the verdict cache of ``score_paths``), and the package checker is handed
it for a byte-identical log (``package_check``).

``package`` backs it with the persistent verdict cache (a log that has not changed is not
checked again); ``verify`` does not: it trusts nothing computed before its own run.
"""

from __future__ import annotations

from gp2bm.results.checkpool import COMPLIANCE, SEEDS
from gp2bm.results.rules import CheckResult, SeedRecords
from gp2bm.results.verdictcache import VerdictCache


class RunVerdicts:
    """What the checkers said in this run, by (checker, ruleset, SHA-256 of the content)."""

    def __init__(self, cache: VerdictCache | None = None):
        self.cache = cache
        self.entries: dict[tuple[str, str, str], dict] = {}

    def load(self, checker: str, ruleset: str, digest: str) -> dict | None:
        key = (checker, ruleset, digest)
        if key not in self.entries and self.cache is not None:
            found = self.cache.load(checker, ruleset, digest)
            if found is not None:
                self.entries[key] = found
        return self.entries.get(key)

    def store(self, checker: str, ruleset: str, digest: str, value: dict) -> None:
        self.entries[(checker, ruleset, digest)] = value
        if self.cache is not None:
            self.cache.store(checker, ruleset, digest, value)

    def compliance(self, ruleset: str, digest: str) -> CheckResult | None:
        found = self.entries.get((COMPLIANCE, ruleset, digest))
        return None if found is None else CheckResult.from_dict(found)

    def seeds(self, ruleset: str, digest: str) -> SeedRecords | None:
        found = self.entries.get((SEEDS, ruleset, digest))
        return None if found is None else SeedRecords.from_dict(found)
