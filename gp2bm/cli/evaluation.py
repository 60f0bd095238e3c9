"""gp2bm verify: the evaluator's commands (wiring: parse, call, render)."""

from __future__ import annotations

import json
import shlex

from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import BundleArg, JsonOpt, OwnSuiteOpt
from gp2bm.evaluation.verify import verify_bundle
from gp2bm.handin.scratch import stop_on_sigterm
from gp2bm.reports.terminal import print_verification
from gp2bm.reports.workprogress import WorkProgress


@app.command()
def verify(bundle: BundleArg, suite: OwnSuiteOpt = None, as_json: JsonOpt = False):
    """Verify a hand-in bundle: recompute it from its raw logs and compare every claim.

    SHA256SUMS is checked, every log re-parsed, each result and the score recomputed,
    MLCommons' compliance, seed, RCP and package checks re-run, and all of it compared with
    what the bundle and its reports claim.

    Exit 0 only when everything matches and the bundle is valid, 1 with the differences
    otherwise (or for an unsafe archive member, or a bundle past the size limits), 2 when
    the file is not a readable bundle, 130 when stopped (Ctrl-C, SIGTERM).
    """
    with stop_on_sigterm("gp2bm verify"), WorkProgress(err, "verify") as work:
        result = verify_bundle(bundle, suite)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_verification(result.as_dict(), out)
    failure = result.failure()
    if failure is not None:
        raise failure
    err.print(
        f"verified in {work.elapsed:.1f} s; done: {shlex.quote(str(bundle))} is ready to hand in",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
