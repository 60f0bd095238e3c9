"""The evaluator's side: what a bundle proves (``verify``), and, built on it, several
vendors' bundles side by side and a delivered system held to its committed bundle."""
