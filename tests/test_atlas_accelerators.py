"""One name per accelerator: the table of published spellings (gp2bm/atlas/accelerators.py)."""

from __future__ import annotations

import pytest

from gp2bm.atlas import load_atlas
from gp2bm.atlas.accelerators import (
    SPELLINGS,
    accelerator_name,
    clean_accelerator,
    has_no_accelerator,
    normalise_accelerator,
)


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("NVIDIA H100-SXM5-80GB", "H100-SXM5-80GB"),
        ("H100 80GB HBM3", "H100-SXM5-80GB"),
        ("NVIDIA H100 80GB HBM3", "H100-SXM5-80GB"),
        ("NVIDIA H100 SXM 80GB", "H100-SXM5-80GB"),
        ("NVIDIA H100-SXM-80GB", "H100-SXM5-80GB"),
        ("h100-sxm5-80gb", "H100-SXM5-80GB"),
        ("NVIDIA A100-SXM4-80GB (400W)", "A100-SXM4-80GB"),
        ("NVIDIA A100-SXM4-80GB(400W)", "A100-SXM4-80GB"),
        ("NVIDIA A100-SXM-80GB CTS", "A100-SXM4-80GB"),
        ("NVIDIA A100 - PCIe - 80 GB", "A100-PCIe-80GB"),
        ("NVIDIA A100-PCIE-40GB (250W)", "A100-PCIe-40GB"),
        ("Nvidia Tesla V100-SXM2-32GB", "V100-SXM2-32GB"),
        ("NVIDIA Blackwell GPU (B200-SXM-180GB)", "B200-SXM-180GB"),
        ("Habana Gaudi HL-205", "Gaudi"),
        ("Intel Gaudi2", "Gaudi2"),
        ("  NVIDIA   H200-SXM5-141GB ", "H200-SXM5-141GB"),
    ],
)
def test_published_spellings_have_one_name(spelling, name):
    assert normalise_accelerator(spelling) == name
    assert accelerator_name(spelling) == (name, True)


@pytest.mark.parametrize(
    ("nvml", "name"),
    [  # what NVML (nvidia-smi --query-gpu=name) calls each part the atlas has results of
        ("NVIDIA H100 80GB HBM3", "H100-SXM5-80GB"),
        ("NVIDIA H100 PCIe", "H100-PCIe-80GB"),
        ("NVIDIA H200", "H200-SXM5-141GB"),
        ("NVIDIA B200", "B200-SXM-180GB"),
        ("NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB"),
        ("NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB"),
        ("NVIDIA A100 80GB PCIe", "A100-PCIe-80GB"),
        ("NVIDIA A100-PCIE-40GB", "A100-PCIe-40GB"),
        ("Tesla V100-SXM2-16GB", "V100-SXM2-16GB"),
        ("Tesla V100-SXM2-32GB", "V100-SXM2-32GB"),
        ("Tesla V100-SXM3-32GB", "V100-SXM3-32GB"),
        ("Tesla V100S-PCIE-32GB", "V100S-PCIe-32GB"),
        ("NVIDIA A30", "A30-PCIe-24GB"),
        ("NVIDIA L40S", "L40S"),
    ],
)
def test_the_names_nvml_gives_are_the_atlas_names(nvml, name):
    """A node's inventory (NVML) and the system description written from it meet the
    published results under the same name; a part with no published result is not made
    one that has ("NVIDIA H200 NVL" is not the SXM H200)."""
    assert accelerator_name(nvml) == (name, True)
    assert load_atlas().rows(accelerator=nvml), nvml


@pytest.mark.parametrize("nvml", ["NVIDIA H200 NVL", "NVIDIA H100 NVL", "NVIDIA GH200 480GB"])
def test_a_part_without_published_results_is_not_another_part(nvml):
    assert normalise_accelerator(nvml) is None and not load_atlas().rows(accelerator=nvml)


def test_every_listed_spelling_maps_to_its_own_name_and_no_other():
    for name, spellings in SPELLINGS.items():
        assert normalise_accelerator(name) == name
        for spelling in spellings:
            assert normalise_accelerator(spelling) == name, spelling


@pytest.mark.parametrize(
    ("spelling", "cleaned"),
    [
        ("NVIDIA A100", "A100"),
        ("Nvidia Tesla V100", "V100"),
        ("TPU", "TPU"),
        ("Acme X 9", "Acme-X-9"),
    ],
)
def test_an_unknown_spelling_is_kept_cleaned_never_guessed(spelling, cleaned):
    assert normalise_accelerator(spelling) is None
    assert clean_accelerator(spelling) == cleaned
    assert accelerator_name(spelling) == (cleaned, False)


def test_no_accelerator():
    assert has_no_accelerator("N/A") and has_no_accelerator("")
    assert clean_accelerator("N/A") == ""
    assert not has_no_accelerator("NVIDIA A30")


def test_shipped_rows_carry_the_table_name_or_the_listed_cleaned_spelling():
    atlas = load_atlas()
    unknown = atlas.manifest["unknown_accelerators"]
    for row in atlas.all:
        if row.accelerator_known:
            assert row.accelerator == normalise_accelerator(row.accelerator_published)
        elif not has_no_accelerator(row.accelerator_published):
            assert unknown[row.accelerator_published]["name"] == row.accelerator
    counted = sum(e["rows"] for e in unknown.values())
    assert counted == sum(
        1
        for r in atlas.all
        if not r.accelerator_known and not has_no_accelerator(r.accelerator_published)
    )
