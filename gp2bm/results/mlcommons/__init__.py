"""MLCommons' ``mlperf-logging`` library, as gp2bm calls it: the only package of gp2bm that
imports it (tests/test_architecture.py checks it, tests/test_mlcommons.py watches it run).

Each module wraps one of the library's tools in typed functions that take paths and give
back gp2bm's own records of a verdict (``results.rules``: CheckResult, SeedRecords,
RcpResult): ``rulesets`` (which rulesets it has rules for), ``compliance`` (the compliance
checker and its parser), ``seeds`` (the seed checker), ``rcp`` (the RCP checker), ``package``
(the package checker), ``sysdesc`` (the system-description checker); ``capture`` keeps what
they log, ``version`` knows the release gp2bm is pinned to.

The library's traps are wrapped here: its command-line defaults pick a ruleset without
ResNet or BERT rules, so every call names its ruleset; it reports through the root logger
and some of its checkers always "succeed", so every verdict is read from the checker's own
state or return value and its log output is captured; its compliance checker keeps a
module-global queue of configs, cleared around every call.

Its speed-ups are applied by ``install`` and by nothing else (importing this package
changes nothing of the library): the rule files parsed once (``rulefiles``), the parsers'
line stripping in linear time (``linestrip``), the RCP checker imported with the one
scipy.stats function it calls (``rcpmodule``, used by ``rcp``), and the package checker
handed this run's verdicts and trimmed copies of the logs (``package``). ``install`` applies
them once per process, when the installed mlperf-logging is the pinned release
(``version.PINNED``); another release is left as it is, with one line on stderr saying so,
and gp2bm's checks then run on the library as it is (slower).

Where it is called: every function here that runs one of the library's checkers calls it
first (so that no way into the library misses it, a test's included), and so do the two
places that fork checker processes before they fork (``results.checkpool.PendingChecks``
and ``evaluation.early.start``), so that those processes inherit the installed library and a
mismatch is said once, by the process the person started.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from gp2bm.results.mlcommons import linestrip, rulefiles
from gp2bm.results.mlcommons.version import PINNED, installed_version, mismatch_line


@dataclass
class _State:
    decided: bool = False  # install has looked at the installed release
    applied: bool = False  # and applied the speed-ups


_state = _State()
_lock = threading.Lock()


def install() -> bool:
    """Apply gp2bm's speed-ups to the library, once per process, if it is the pinned release
    (else say so once on stderr and leave it alone); whether they are applied."""
    with _lock:
        if not _state.decided:
            found = installed_version()
            if found == PINNED:
                rulefiles.install()
                linestrip.install()
                _state.applied = True
            else:
                print(mismatch_line(found), file=sys.stderr, flush=True)
            _state.decided = True
        return _state.applied


def installed() -> bool:
    """Whether ``install`` has applied the speed-ups in this process."""
    return _state.applied
