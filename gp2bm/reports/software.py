"""The software stack a campaign ran with, as (name, version) lines for the reports: from
the system description, the inventory, the images that ran, and gp2bm itself."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from gp2bm.reports.nested import flatten
from gp2bm.reports.view import CampaignView, ImageUse, images_used


def _declared(desc: dict) -> list[tuple[str, str]]:
    """What the system description declares: framework, OS, its other software stack."""
    found = []
    for key in ("framework", "operating_system"):
        if isinstance(desc.get(key), str) and desc[key].strip():
            found.append((key, desc[key].strip()))
    stack = desc.get("other_software_stack")
    if isinstance(stack, dict):
        found += [(str(k), str(v)) for k, v in stack.items() if str(v).strip()]
    elif isinstance(stack, str) and stack.strip():
        found.append(("other_software_stack", stack.strip()))
    return found


def _inventoried(inventory: dict, local: bool) -> list[tuple[str, str]]:
    """Every ``*version*`` value of the inventory; the host's Python only when the
    benchmarks ran as local processes (else it ran nothing of them)."""
    found = []
    for key, value in flatten(inventory):
        last = key.rsplit(".", 1)[-1]
        if "version" in last.lower() and isinstance(value, (str, int, float)) and value != "":
            found.append((key, str(value)))
        elif last == "python" and isinstance(value, str) and local:
            found.append((key, value))
    return found


def _images(used: dict[str, list[ImageUse]]) -> list[tuple[str, str]]:
    found = []
    for bench, images in used.items():
        for img in images:
            if img.local:
                found.append((f"{bench} implementation", "local process (no image)"))
            else:
                ident = img.image_id or "id not recorded"
                found.append((f"{bench} image", f"{img.image} (id {ident})"))
    return found


def software(view: CampaignView) -> list[tuple[str, str]]:
    """(name, version) of the software stack; what is unknown is simply not listed."""
    used = images_used(view)
    local = any(img.local for imgs in used.values() for img in imgs)
    found = _declared(view.system_desc or {})
    found += _inventoried(view.inventory or {}, local)
    found += _images(used)
    found.append(("gp2bm", view.gp2bm_version))
    try:
        found.append(("mlperf-logging", version("mlperf-logging")))
    except PackageNotFoundError:
        pass
    return list(dict.fromkeys(found))
