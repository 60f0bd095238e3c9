"""The HTML report's place of a campaign among the published results (gp2bm atlas): a strip
plot of the published results of its system description's accelerator, count and nodes,
its own result marked; none for a node without an accelerator the atlas knows."""

from __future__ import annotations

import json

from test_report_campaign import ORG, SYSTEM, synthetic_campaign

from gp2bm.atlas import load_atlas
from gp2bm.reports.html_report import PLOT_PLACEHOLDER, _published, render_html
from gp2bm.reports.view import load_campaign


def test_the_campaign_among_the_published_results_of_its_accelerator(tmp_path):
    view = load_campaign(synthetic_campaign(tmp_path))
    found = _published(view)
    assert [bench for bench, _, _ in found] == list(view.score.benchmarks)
    atlas = load_atlas()
    for bench, minutes, times in found:
        rows = atlas.results(bench, "A100-SXM4-80GB", 8, 1)
        assert times == sorted(r.minutes for r in rows if r.minutes is not None)
        assert minutes == view.score.benchmarks[bench].minutes
    page = render_html(view)
    section = page.split("<h2>Among the published results</h2>", 1)[1].split("<h2>", 1)[0]
    assert 'src="data:image/png;base64,' in section
    assert PLOT_PLACEHOLDER in render_html(view, draw=False)


def test_no_accelerator_no_plot(tmp_path):
    root = synthetic_campaign(tmp_path)
    desc = root / ORG / "systems" / f"{SYSTEM}.json"
    data = json.loads(desc.read_text())
    data.update(accelerators_per_node="0", accelerator_model_name="N/A")
    desc.write_text(json.dumps(data))
    view = load_campaign(root)
    assert _published(view) == []
    assert "Among the published results" not in render_html(view, draw=False)
