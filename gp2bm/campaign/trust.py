"""The reservations of a campaign's trust ledger, by name (``results.ledger`` finds them;
``gp2bm verify --accept NAME`` accepts one): what weakens a result without breaking a rule."""

from __future__ import annotations

CACHE_DROP = "cache-drop"
PREFLIGHT = "preflight"
UNPINNED = "unpinned"
ATTEMPTS = "attempts"
NOT_RUN = "not-run-by-gp2bm"
RESERVATIONS = {
    CACHE_DROP: "a run without a cache drop (disabled, or failed and let go on)",
    PREFLIGHT: "a run started without the pre-flight (--skip-check), or with no word of it",
    UNPINNED: "a run of an image not pinned by digest (--allow-unpinned)",
    ATTEMPTS: "runs interrupted and redone (their attempts are kept in the bundle)",
    NOT_RUN: "result logs gp2bm did not run (no run line of gp2bm in them)",
}
