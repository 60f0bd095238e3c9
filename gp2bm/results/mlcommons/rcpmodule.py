"""MLCommons' RCP checker, imported without the 0.6 s import of all of ``scipy.stats``.

The RCP checker (``mlperf_logging.rcp_checker.rcp_checker``) imports ``scipy.stats`` for a
single function, ``ttest_ind_from_stats`` (equal variances, two-sided), which it calls in a
binary search for every reference record. Importing ``scipy.stats`` is the longest single
step of a ``score`` or ``verify`` of a few logs; the t-test itself needs only the Student t
distribution function, ``scipy.special.stdtr``.

So the checker is imported here with a stand-in for ``scipy.stats`` in ``sys.modules`` (for
the time of that import only), and its global ``scipy`` then names a stand-in whose
``stats.ttest_ind_from_stats`` performs scipy's own steps, with the same ``numpy`` float64
operations in the same order and the same ``stdtr``: the same bits
(``tests/test_rcpmodule.py`` compares both on the reference records of every ruleset and
on random inputs). Anything else the checker might ask of ``scipy`` or ``scipy.stats`` is
served by the real modules, imported then.

``rcp.checker_module`` imports the checker this way once ``install`` has found the pinned
release (``gp2bm.results.mlcommons``), and as the library does otherwise.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections import namedtuple
from contextlib import contextmanager
from functools import cache

RCP_CHECKER = "mlperf_logging.rcp_checker.rcp_checker"

TtestResult = namedtuple("TtestResult", ("statistic", "pvalue"))


def ttest_ind_from_stats(
    mean1, std1, nobs1, mean2, std2, nobs2, equal_var=True, alternative="two-sided"
):
    """scipy's ``ttest_ind_from_stats`` for what the RCP checker asks (equal variances,
    two-sided), step for step; any other question goes to scipy itself."""
    if equal_var is not True or alternative != "two-sided":
        return importlib.import_module("scipy.stats").ttest_ind_from_stats(
            mean1, std1, nobs1, mean2, std2, nobs2, equal_var=equal_var, alternative=alternative
        )
    import numpy as np  # heavy: numpy (imported by the RCP checker already)
    from scipy import special  # heavy: 0.2 s, against 0.6 s for scipy.stats

    mean1, std1 = np.asarray(mean1), np.asarray(std1)
    mean2, std2 = np.asarray(mean2), np.asarray(std2)
    # the pooled variance (scipy's _equal_var_ttest_denom)
    v1 = np.where(np.asarray(nobs1 == 1), 0.0, std1**2)
    v2 = np.where(np.asarray(nobs2 == 1), 0.0, std2**2)
    df = nobs1 + nobs2 - 2.0
    svar = ((nobs1 - 1) * v1 + (nobs2 - 1) * v2) / df
    denom = np.sqrt(svar * (1.0 / nobs1 + 1.0 / nobs2))
    df = np.asarray(df, dtype=denom.dtype)
    # the statistic and its two-sided p-value (scipy's _ttest_ind_from_stats, _get_pvalue)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.divide(mean1 - mean2, denom)
    prob = 2 * special.stdtr(np.asarray(df, dtype=t.dtype), -np.abs(t))
    return TtestResult(t[()] if t.ndim == 0 else t, prob[()] if prob.ndim == 0 else prob)


class _StandIn(types.ModuleType):
    """A module that has some attributes of its own and takes the rest from the real module
    of the same name, imported when first asked."""

    def __init__(self, name: str, **own: object):
        super().__init__(name)
        vars(self).update(own)

    def __getattr__(self, attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(self.__name__), attr)


STATS = _StandIn("scipy.stats", ttest_ind_from_stats=ttest_ind_from_stats)
SCIPY = _StandIn("scipy", stats=STATS)


@contextmanager
def _standing_in(name: str, module: types.ModuleType):
    """``module`` as ``sys.modules[name]`` for a while, unless the real one is there."""
    if name in sys.modules:
        yield
        return
    sys.modules[name] = module
    try:
        yield
    finally:
        if sys.modules.get(name) is module:
            del sys.modules[name]


@cache
def rcp_checker() -> types.ModuleType:
    """MLCommons' RCP checker module, its t-test the one above (import this before the
    package checker, which imports it too)."""
    with _standing_in("scipy.stats", STATS):
        module = importlib.import_module(RCP_CHECKER)
    vars(module)["scipy"] = SCIPY
    return module
