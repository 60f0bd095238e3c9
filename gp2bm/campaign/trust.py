"""The reservations of a campaign's trust ledger, by name (``results.ledger`` finds them;
``gp2bm verify --accept NAME`` accepts one): what weakens a result without breaking a rule.
And the differences of a delivered system from the committed one that ``gp2bm accept``
accepts only by name (``evaluation.accept`` finds them)."""

from __future__ import annotations

CACHE_DROP = "cache-drop"
PREFLIGHT = "preflight"
UNPINNED = "unpinned"
PINNED_LOCALLY = "pinned-locally"
ATTEMPTS = "attempts"
NOT_RUN = "not-run-by-gp2bm"
IMPLAUSIBLE_RESULT = "implausible"
RESERVATIONS = {
    CACHE_DROP: "a run without a cache drop (disabled, or failed and let go on)",
    PREFLIGHT: "a run started without the pre-flight (--skip-check), or with no word of it",
    UNPINNED: "a run of an image not pinned by digest (--allow-unpinned)",
    PINNED_LOCALLY: "a run of an image pinned locally (its image ID or file hash, gp2bm pin "
    "--local): no registry holds it for the evaluator to pull",
    ATTEMPTS: "runs interrupted and redone (their attempts are kept in the bundle)",
    NOT_RUN: "result logs gp2bm did not run (no run line of gp2bm in them)",
    IMPLAUSIBLE_RESULT: "a result more than 1.5x faster than any published closed-division "
    "result of its accelerator, count and node count (gp2bm atlas)",
}

# Host memory as the kernel reports it moves with firmware and kernel reservations: within
# this share it is the same memory.
MEMORY_SLACK = 0.05
ACCEPTANCE_DIFFERENCES = {
    "image": "another image (ID) ran a benchmark",
    "source": "the implementation source differs (a file added, removed or changed)",
    "accelerator": "another accelerator model",
    "accelerator-count": "another number of accelerators per node",
    "accelerator-memory": "another accelerator memory capacity",
    "driver": "another GPU driver version",
    "cpu": "another host CPU model or number of logical CPUs",
    "memory": f"another host memory capacity (by more than {MEMORY_SLACK:.0%})",
    "nodes": "another number of nodes per run",
}
