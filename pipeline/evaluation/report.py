"""`report.html`: one self-contained page people read (no scripts, no external files).

The metric table under each normalization, the breakdowns, the character confusions, and
the worst lines as images beside their reference and prediction, differences highlighted.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Sequence

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

from pipeline.evaluation.metrics import describe_ranking
from pipeline.text.scripts import SCRIPTS

CJK_FONTS = ('"Noto Sans CJK KR", "Noto Sans CJK SC", "Source Han Sans", "Apple SD Gothic Neo", "Malgun Gothic", '
             '"PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei"')
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif, CJK; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5em 0; } td, th { padding: .25em .7em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; } tr:nth-child(even) td { background: #fafafa; }
.meta { color: #666; } .line img { image-rendering: pixelated; max-width: 100%; border: 1px solid #ccc; }
.line { margin: 1em 0; padding-bottom: .6em; border-bottom: 1px solid #eee; }
.text { font-family: ui-monospace, monospace, CJK; white-space: pre-wrap; }
del { background: #fdd; text-decoration: none; } ins { background: #cfc; text-decoration: none; }
.tag { display: inline-block; width: 7em; color: #666; }
""".replace("CJK", CJK_FONTS)      # Hangul and Hanzi drawn by a font that has them
METRICS = ("mean_edit_distance", "cer", "wer", "exact_match")


def png_data_uri(pixels: np.ndarray) -> str:
    """A (H, W, C) uint8 line as an inline PNG."""
    image = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def diff_html(reference: str, prediction: str) -> tuple[str, str]:
    """Reference and prediction as HTML: what the prediction lacks in <del>, adds in <ins>."""
    ref, hyp = [], []
    for op in Levenshtein.opcodes(reference, prediction):
        a, b = html.escape(reference[op.src_start:op.src_end]), html.escape(prediction[op.dest_start:op.dest_end])
        if op.tag == "equal":
            ref.append(a)
            hyp.append(b)
        else:
            ref.append(f"<del>{a}</del>" if a else "")
            hyp.append(f"<ins>{b}</ins>" if b else "")
    return "".join(ref), "".join(hyp)


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name in ("cer", "wer", "exact_match"):
        return f"{100 * value:.2f}%"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _headline(report: dict[str, Any]) -> str:
    head = report.get("headline")
    if not head:
        return ""
    versus = f" (Tesseract {_fmt(head['metric'], head['tesseract'])})" if "tesseract" in head else ""
    ranking = describe_ranking(report.get("confidence") or {})
    trust = f"<p>Confidence: {html.escape(ranking)}.</p>" if ranking else ""
    return (f"<p><b>{html.escape(head['description'])}: {_fmt(head['metric'], head['value'])}</b>"
            f"{html.escape(versus)}</p>{trust}")


def _metric_table(systems: dict[str, dict[str, dict[str, float]]]) -> str:
    """Rows: metric; columns: system x normalization."""
    norms = list(next(iter(systems.values())))
    head = "".join(f"<th>{html.escape(s)}<br>{html.escape(n)}</th>" for s in systems for n in norms)
    rows = []
    for metric in METRICS:
        cells = "".join(f"<td>{_fmt(metric, systems[s][n][metric])}</td>" for s in systems for n in norms)
        rows.append(f"<tr><td class=l>{metric}</td>{cells}</tr>")
    return f"<table><tr><th class=l>metric</th>{head}</tr>{''.join(rows)}</table>"


def _breakdown_table(title: str, groups: dict[str, dict[str, float]]) -> str:
    if not groups:
        return ""
    rows = "".join(f"<tr><td class=l>{html.escape(k)}</td><td>{v['lines']}</td>"
                   + "".join(f"<td>{_fmt(m, v[m])}</td>" for m in METRICS) + "</tr>" for k, v in groups.items())
    head = "".join(f"<th>{m}</th>" for m in METRICS)
    return f"<h3>{html.escape(title)}</h3><table><tr><th class=l></th><th>lines</th>{head}</tr>{rows}</table>"


def _script_table(groups: dict[str, dict[str, float]]) -> str:
    if not groups:
        return ""
    rows = "".join(f"<tr><td class=l>{SCRIPTS.get(k, k)}</td><td>{v['chars']}</td><td>{v['errors']}</td>"
                   f"<td>{_fmt('cer', v['cer'])}</td></tr>" for k, v in groups.items())
    return ("<h3>by script (reference characters; an added character counts against its own script)</h3>"
            f"<table><tr><th class=l></th><th>characters</th><th>errors</th><th>cer</th></tr>{rows}</table>")


def _coverage(report: dict[str, Any]) -> str:
    """Which lines the scores include beyond the shards, and which they leave out, and why."""
    says = []
    for key, what in (("restored", "scored, though kept out of the training shards"),
                      ("skipped", "left out of the scores")):
        counts = report.get(key) or {}
        if counts:
            reasons = ", ".join(f"{n} {html.escape(r.replace('_', ' '))}" for r, n in counts.items())
            says.append(f"{sum(counts.values())} lines {what}: {reasons}")
    return f"<p class=meta>{'; '.join(says)}.</p>" if says else ""


def render(report: dict[str, Any], worst: Sequence[dict[str, Any]], images: Sequence[np.ndarray]) -> str:
    """The page for `report` (report.json's content) and its worst lines with their pixels."""
    systems = {"ocrpipe": report["metrics"]}
    if report.get("compare"):
        systems[report["compare"]["name"]] = report["compare"]["metrics"]
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>ocrpipe eval: {html.escape(report['name'])}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>ocrpipe eval: {html.escape(report['name'])}</h1>",
             f"<p class=meta>{report['lines']} lines from {html.escape(report['data']['description'])}; "
             f"checkpoint {html.escape(report['checkpoint']['path'])} (step {report['checkpoint']['step']}, "
             f"sha256 {report['checkpoint']['sha256'][:12]}); decoding {html.escape(report['decoding'])}; "
             f"{report['lines_per_s']:.0f} lines/s on {html.escape(report['device'])}; {html.escape(report['created'])}"
             "</p>", _coverage(report),
             _headline(report), "<h2>Metrics</h2>",
             "<p class=meta>mean_edit_distance: Levenshtein distance per line, averaged; cer: sum of distances / "
             "reference characters; wer: the same over words (n/a where most lines are written without spaces, as "
             "Chinese is); exact_match: share of lines read exactly. "
             "Normalizations: whitespace collapsed; typography (quotes and dashes to ASCII); case-folded; all three; "
             "alnum: case-insensitive letters and digits only (the protocol of cropped-word sets)."
             "</p>", _metric_table(systems)]
    if report.get("compare"):
        parts.append(f"<p class=meta>{html.escape(report['compare']['description'])}</p>")
    parts.append("<h2>Breakdowns</h2>")
    for title, key in (("by reference length (characters)", "by_length"), ("by line width (px)", "by_width"),
                       ("by font", "by_font")):
        parts.append(_breakdown_table(title, report["breakdowns"].get(key, {})))
    parts.append(_script_table(report["breakdowns"].get("by_script", {})))
    rows = "".join(f"<tr><td class='l text'>{html.escape(c['reference']) or '∅'}</td>"
                   f"<td class='l text'>{html.escape(c['prediction']) or '∅'}</td><td>{c['count']}</td></tr>"
                   for c in report["confusions"])
    parts.append("<h2>Most frequent character errors</h2><table><tr><th class=l>reference</th>"
                 f"<th class=l>prediction</th><th>count</th></tr>{rows}</table>")
    parts.append(f"<h2>The {len(worst)} worst lines</h2>")
    for record, pixels in zip(worst, images):
        ref, hyp = diff_html(record["reference"], record["prediction"])
        extra = ""
        if "compare_prediction" in record:
            _, other = diff_html(record["reference"], record["compare_prediction"])
            extra = f"<div><span class=tag>{html.escape(report['compare']['name'])}</span><span class=text>{other}</span></div>"
        parts.append(f"<div class=line><div class=meta>{html.escape(record['file'])}: distance {record['distance']}, "
                     f"confidence {record['confidence']:.3g}</div><img src='{png_data_uri(pixels)}' alt=''>"
                     f"<div><span class=tag>reference</span><span class=text>{ref}</span></div>"
                     f"<div><span class=tag>prediction</span><span class=text>{hyp}</span></div>{extra}</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
