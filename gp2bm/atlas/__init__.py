"""Every published MLPerf Training ResNet-50 and BERT result (rounds v0.7 to v5.0) as
data, and what it says of a campaign before it runs and of a claim after.

The API other stages call::

    atlas = load_atlas()                               # the atlas shipped with gp2bm
    atlas.rows(benchmark="bert", accelerator="H100-SXM5-80GB", count=8, nodes=1)
    normalise_accelerator("NVIDIA H100 80GB HBM3")     # -> "H100-SXM5-80GB" (None: unknown)
    expect(atlas, "H100-SXM5-80GB", 8, 1, suite)       # -> Expectation (expect.RULE)
    plausibility(atlas, "resnet", "H100-SXM5-80GB", 8, 1, 5.0)   # -> Plausibility

The build (``gp2bm.atlas.build``, run by ``scripts/build_atlas.py``) is not imported here:
it needs gp2bm's scoring, which nothing that only reads the atlas needs.
"""

from gp2bm.atlas.accelerators import clean_accelerator, normalise_accelerator
from gp2bm.atlas.claims import Plausibility, plausibility
from gp2bm.atlas.expectation import RULE, BenchmarkExpectation, Expectation, UsedResult, expect
from gp2bm.atlas.table import Atlas, AtlasRow, RunEntry, load_atlas

__all__ = [
    "RULE",
    "Atlas",
    "AtlasRow",
    "BenchmarkExpectation",
    "Expectation",
    "Plausibility",
    "RunEntry",
    "UsedResult",
    "clean_accelerator",
    "expect",
    "load_atlas",
    "normalise_accelerator",
    "plausibility",
]
