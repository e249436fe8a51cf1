"""The verdict as a picture, exported from a workspace without opening the window: the Results
panel's forest plot (each model's relative difference to the reference, 95% intervals from a
paired bootstrap over users, personalized models linked to their session-only twins) of a fair
comparison's runs (default: the latest), or of every evaluated run, written as PNG or SVG.

    QT_QPA_PLATFORM=offscreen python docs/export_verdict.py WORKSPACE OUT.png
    python docs/export_verdict.py WORKSPACE OUT.svg --dataset ml-100k --comparison 3 --metric recall@10 \\
        --reference hrnn-init --ties conservative

``--comparison all`` compares every evaluated run of the dataset; ``--reference`` takes a model
("rnn", its first label) or a label; ``--metric`` a registered metric at a cut-off."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import cast

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from PySide6.QtWidgets import QApplication

from app.appearance import apply_appearance
from app.results.forest_plot import ForestPlot
from app.results.ties import protocol_caption
from engine.errors import InputError
from engine.progress import CancelToken, no_progress
from engine.workbench.comparison_view import ALL_RUNS, ForestPlotData, forest_data, run_selections
from engine.workbench.datasets import list_datasets
from engine.workbench.results import TieMode, load_results
from engine.workbench.workspaces import Workspace

WIDTH = 1400
EXPORT_ROW_PX = 28


def verdict_data(workspace: str | Path, dataset: str | None = None, comparison: str | None = None,
                 metric: str = "recall@5", reference: str | None = "rnn",
                 tie_mode: str = "conservative") -> tuple[ForestPlotData, str]:
    """The forest plot's data of a comparison (its number, "all", or None: the latest) of a dataset
    (its id or name; None: the first), and the ranking protocol in words."""
    with Workspace(workspace, create=False) as opened:
        datasets = list_datasets(opened)
        url = opened.url
    chosen = next((d for d in datasets if dataset is None or str(d.id) == str(dataset) or d.name == dataset), None)
    if chosen is None:
        raise InputError(f"no dataset {dataset!r} in {workspace} (its datasets: {', '.join(d.name for d in datasets)})")
    snapshot = load_results(url, chosen.id, None, no_progress, CancelToken(), tie_mode=cast(TieMode, tie_mode))
    selections = run_selections(snapshot)
    if comparison is None:
        selection = next((s for s in selections if s.key.startswith("compare-")), selections[0])
    else:
        key = ALL_RUNS if comparison == "all" else f"compare-{comparison}"
        selection = next((s for s in selections if s.key == key), None)
        if selection is None:
            raise InputError(f"no runs of comparison {comparison} among the evaluated runs of {chosen.name}")
    labels_of_model = {row["model_name"]: row["model"] for row in snapshot.rows.values()}
    label = labels_of_model.get(reference or "", reference)
    data = forest_data(snapshot, metric, label, selection)
    return data, protocol_caption(snapshot.settings.tie_mode, snapshot.settings.n_candidates)


def export_verdict(data: ForestPlotData, caption: str, path: Path, width: int = WIDTH) -> Path:
    """Draw ``data`` offscreen and write it to ``path`` (PNG or SVG, by the suffix)."""
    app = QApplication.instance() or QApplication(sys.argv)
    if isinstance(app, QApplication):
        apply_appearance(app)
    plot = ForestPlot()
    plot.show_data(data, caption)
    plot.plot_widget.setMinimumHeight(EXPORT_ROW_PX * len(data.rows) + 170)  # roomier than in the panel
    plot.resize(width, plot.plot_widget.minimumHeight())
    plot.show()
    app.processEvents()
    plot.export(path)
    plot.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path)
    parser.add_argument("out", type=Path, help="the figure: .png or .svg")
    parser.add_argument("--dataset", help="dataset id or name (default: the first)")
    parser.add_argument("--comparison", help="a fair comparison's number, or 'all' (default: the latest)")
    parser.add_argument("--metric", default="recall@5")
    parser.add_argument("--reference", default="rnn", help="a model or a label (default: rnn)")
    parser.add_argument("--ties", default="conservative", choices=("conservative", "median", "standard"))
    args = parser.parse_args()
    data, caption = verdict_data(args.workspace, args.dataset, args.comparison, args.metric, args.reference,
                                 args.ties)
    print(export_verdict(data, caption, args.out))


if __name__ == "__main__":
    main()
