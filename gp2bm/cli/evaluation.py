"""gp2bm verify: the evaluator's commands (wiring: parse, call, render)."""

from __future__ import annotations

import json
import shlex

from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import AcceptOpt, BundleArg, JsonOpt, OwnSuiteOpt
from gp2bm.evaluation.verify import verify_bundle
from gp2bm.handin.scratch import stop_on_sigterm
from gp2bm.reports.terminal import print_verification
from gp2bm.reports.workprogress import WorkProgress


@app.command()
def verify(
    bundle: BundleArg,
    suite: OwnSuiteOpt = None,
    accept: AcceptOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a hand-in bundle: what it proves, by your rules, trusting nothing it says.

    Recomputed from the raw logs, by the reference rules (your --suite file, else gp2bm's
    own suite): SHA256SUMS, each run's time to train, the olympic means, the scaling, the
    score, MLCommons' compliance, seed, RCP and package checks, and every number of every
    claim and report. Cross-checked: each log against its run record, gp2bm's own lines
    in it and the campaign; its timeline; the numbering of the runs and the attempts; the
    system description against the inventory and the records. Reservations (the trust
    ledger: a run without a cache drop or the pre-flight, an unpinned image, runs redone,
    logs gp2bm did not run) are named, and verified only when you --accept them. Not
    provable from any bundle: that the runs happened on the hardware claimed (only a re-run
    can show it). docs/VERIFY.md says it all.

    Exit 0 only when nothing differs, contradicts or is reserved unaccepted and the bundle
    is valid; 1 with each finding and its class otherwise (or for an unsafe archive member,
    or a bundle past the size limits); 2 when the file is not a readable bundle or an
    option is wrong; 130 when stopped (Ctrl-C, SIGTERM).
    """
    with stop_on_sigterm("gp2bm verify"), WorkProgress(err, "verify") as work:
        result = verify_bundle(bundle, suite, frozenset(accept or []))
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
