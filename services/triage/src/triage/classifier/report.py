"""`triage evaluate --report DIR`: one self-contained HTML page (`index.html`).

It shows the headline figures, the candidates `train` cross-validated and the one it chose,
and four views of the evaluation: the confusion matrix of the largest squads (the others
folded into one row and column), precision against coverage with the operating point in
force marked, the reliability (calibration) curve, and a table per squad (support,
precision, recall, threshold, mode and its automatic assignments). Plots are inline SVG
drawn by matplotlib; the page loads nothing from anywhere. Every text from the data
(squad names, notes) is HTML-escaped.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from triage.classifier.evaluate import EvaluationReport
    from triage.classifier.model import TriageModel

LARGEST = 15
OTHER = "(other squads)"
NO_SELECTION = "no cross-validation (too little history)"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2430; max-width: 70rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border-bottom: 1px solid #d8dde6; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.figures figure { margin: 0; } figcaption { font-size: .85rem; color: #56607a; }
.chosen { font-weight: bold; } .note { color: #56607a; font-size: .9rem; }
"""


def _pct(value: float | None) -> str:
    return "&ndash;" if value is None else f"{100 * value:.1f}%"


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def fold_confusion(
    labels: list[str], matrix: np.ndarray, keep: int = LARGEST
) -> tuple[list[str], np.ndarray]:
    """The `keep` squads with most true cases; the rest summed into `OTHER`."""
    if len(labels) <= keep:
        return labels, matrix
    support = matrix.sum(axis=1)
    top = sorted(np.argsort(-support, kind="stable")[:keep].tolist())
    rest = [i for i in range(len(labels)) if i not in set(top)]
    index = [*top, rest]
    out = np.zeros((keep + 1, keep + 1), dtype=np.int64)
    for a, rows in enumerate(index):
        for b, cols in enumerate(index):
            out[a, b] = matrix[np.ix_(np.atleast_1d(rows), np.atleast_1d(cols))].sum()
    return [labels[i] for i in top] + [OTHER], out


def _confusion_svg(report: EvaluationReport) -> str:
    import matplotlib.pyplot as plt

    labels, matrix = fold_confusion(report.labels, np.asarray(report.confusion))
    size = 3 + 0.35 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), value in np.ndenumerate(matrix):
        if value:
            colour = "white" if shares[i, j] > 0.6 else "black"
            ax.text(j, i, str(value), ha="center", va="center", fontsize=6, color=colour)
    ax.set_title("Confusion matrix (colour: share of the true squad)")
    fig.tight_layout()
    return _svg(fig)


def _coverage_svg(report: EvaluationReport, target: float | None) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    if report.curve:
        cov, prec, _ = zip(*report.curve, strict=True)
        ax.plot(cov, prec, label="most confident first")
    if target is not None:
        ax.axhline(target, color="grey", linestyle="--", label=f"target {target:.0%}")
    if report.coverage is not None and report.precision is not None:
        ax.scatter(
            [report.coverage], [report.precision], color="red", zorder=3,
            label=f"operating point ({report.coverage:.0%} at {report.precision:.1%})",
        )  # fmt: skip
    ax.set_xlabel("share of cases assigned automatically (coverage)")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Precision against coverage")
    fig.tight_layout()
    return _svg(fig)


def _reliability_svg(report: EvaluationReport) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    if report.reliability:
        conf, acc, _counts = zip(*report.reliability, strict=True)
        ax.plot(conf, acc, marker="o", label="model")
        for x, y, n in report.reliability:
            ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7)
    ax.set_xlabel("confidence (mean per bin)")
    ax.set_ylabel("share correct")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Reliability (numbers: cases per bin)")
    fig.tight_layout()
    return _svg(fig)


def _squad_rows(report: EvaluationReport, model: TriageModel) -> str:
    op = model.operating
    rows = []
    for r in sorted(report.squads, key=lambda r: (-r["support"], r["squad"])):
        point = op.squads.get(r["squad"]) if op is not None else None
        if point is None:
            threshold, mode = "&ndash;", "not predicted"
        elif point.threshold is None:
            threshold = "never"
            mode = "suggest (rare: catalogue only)" if point.source == "rare" else "suggest"
        else:
            threshold, mode = f"{point.threshold:.3f}", f"auto ({point.source})"
        if report.threshold is not None:
            threshold, mode = f"{report.threshold:.3f}", "auto (explicit threshold)"
        rows.append(
            f"<tr><td>{html.escape(r['squad'])}</td><td>{r['support']}</td>"
            f"<td>{_pct(r['precision'])}</td><td>{_pct(r['recall'])}</td>"
            f"<td>{threshold}</td><td>{html.escape(mode)}</td>"
            f"<td>{r.get('assigned', 0)}</td><td>{_pct(r.get('assigned_precision'))}</td></tr>"
        )
    return "\n".join(rows)


def _candidate_rows(info: dict[str, Any]) -> str:
    selection = info.get("selection") or {}
    rows = []
    for c in selection.get("candidates", []):
        cls = ' class="chosen"' if c.get("chosen") else ""
        rows.append(
            f"<tr{cls}><td>{html.escape(str(c['name']))}</td><td>{_pct(c['accuracy'])}</td>"
            f"<td>{_pct(c['macro_f1'])}</td><td>{_pct(c['score'])}</td>"
            f"<td>{c['seconds']:.1f}</td><td>{'chosen' if c.get('chosen') else ''}</td></tr>"
        )
    return "\n".join(rows)


def render(report: EvaluationReport, model: TriageModel, *, source: str = "") -> str:
    """The report page as one HTML string."""
    target = report.target_precision or (model.operating.target if model.operating else None)
    at = (
        f"explicit threshold {report.threshold}"
        if report.threshold is not None
        else f"target precision {target}"
    )
    headline = [
        ("cases evaluated", str(report.n)),
        ("accuracy", _pct(report.accuracy)),
        ("macro-F1", _pct(report.macro_f1)),
        ("top-3 accuracy", _pct(report.top3_accuracy)),
        (f"assigned automatically ({at})", _pct(report.coverage)),
        ("precision of the automatic assignments", _pct(report.precision)),
        ("coverage at >= 90% precision (best possible ranking cut)", _pct(report.coverage_at_90)),
    ]
    figures = ""
    if report.n:
        figures = f"""
<div class="figures">
<figure>{_coverage_svg(report, target)}
<figcaption>Red: the operating point in force.</figcaption></figure>
<figure>{_reliability_svg(report)}
<figcaption>Calibration: points on the diagonal are honest.</figcaption></figure>
</div>
<h2>Confusion matrix of the {LARGEST} largest squads</h2>
<figure>{_confusion_svg(report)}</figure>"""
    selection = model.info.get("selection") or {}
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    title = f"Evaluation of model {model.version}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">Cases: {html.escape(source)}; configuration {html.escape(str(model.scorer.kind))};
trained {html.escape(model.trained_at.isoformat())}.</p>
<table id="headline">{"".join(f"<tr><td>{k}</td><td>{v}</td></tr>" for k, v in headline)}</table>
{figures}
<h2>Per squad</h2>
<table id="squads"><thead><tr><th>squad</th><th>support</th><th>precision</th><th>recall</th>
<th>threshold</th><th>mode</th><th>assigned</th><th>precision of assigned</th></tr></thead>
<tbody>{_squad_rows(report, model)}</tbody></table>
<h2>Candidates at training</h2>
<p class="note">{html.escape(str(selection.get("criterion", NO_SELECTION)))}</p>
<table id="candidates"><thead><tr><th>candidate</th><th>accuracy</th><th>macro-F1</th><th>score</th>
<th>seconds</th><th></th></tr></thead><tbody>{_candidate_rows(model.info)}</tbody></table>
<h2>Notes</h2><ul>{notes}</ul>
</body></html>
"""


def write_report(
    report: EvaluationReport, model: TriageModel, directory: Path, *, source: str = ""
) -> Path:
    """Write `index.html` into `directory` (created if needed); return its path."""
    import matplotlib

    matplotlib.use("Agg")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "index.html"
    page.write_text(render(report, model, source=source), encoding="utf-8")
    return page
