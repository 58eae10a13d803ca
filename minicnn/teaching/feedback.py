"""Feedback page of one student (Markdown and HTML) from a ``grade.json`` payload.

Per exercise: the points, the groups of checks, the first failing check with expected vs got (the smallest
differing output of a hidden check, or the assertion message of a test), and the hint of the exercise's
function that failed. The pages name hidden checks but never show their inputs' seed or code.
"""

# teaching: no-regions

from __future__ import annotations

import html
from pathlib import Path

from minicnn.io import write_text


def _points(g: dict) -> str:
    if g["score"] is None:
        return "not graded (every check was skipped)"
    return f"{g['points']:g} / {g['max_points']:g}"


def _student_id(payload: dict) -> str:
    return payload.get("student_id") or Path(payload["student"]).name


def feedback_markdown(payload: dict) -> str:
    """The Markdown page."""
    sid = _student_id(payload)
    total = payload["total_score"]
    lines = [f"# Feedback for {sid}", ""]
    lines.append(f"**Total: {payload['total_points']:g} / {payload['max_points']:g} points**"
                 + (f" ({total:.1f} %)" if total is not None else ""))  # fmt: skip
    lines += ["", "| exercise | points | status |", "|---|---|---|"]
    for ex_id, g in payload["exercises"].items():
        lines.append(f"| {ex_id} | {_points(g)} | {g['status'].replace('|', '/')} |")
    for ex_id, g in payload["exercises"].items():
        lines += ["", f"## {ex_id}: {_points(g)}", ""]
        groups = [f"{name} {v['earned']:g}/{v['points']:g} ({v['passed']} passed, {v['failed']} failed"
                  + (f", {v['skipped']} skipped" if v["skipped"] else "")
                  + (f", {v['blank']} not counted: they pass on the blank edition" if v.get("blank") else "") + ")"
                  for name, v in g["groups"].items() if v.get("status") != "not graded"]  # fmt: skip
        if groups:
            lines.append("Checks: " + "; ".join(groups) + ".")
        skipped = [name for name, v in g["groups"].items() if v.get("status") == "not graded"]
        if skipped:
            lines.append(f"Not graded (all skipped): {', '.join(skipped)}.")
        if g.get("gamed") or g["delegation"]:
            lines += ["", f"**Gamed, not accepted:** {g.get('gamed') or g['delegation']}. {_consequence(g)}"]
        if g["hung"]:
            lines += ["", "**Hung:** " + ", ".join(f"`{h}`" for h in g["hung"][:5])]
        failure = g.get("first_failure")
        if failure:
            lines += ["", f"First failing check: `{failure['check']}`", "", "```", failure["detail"].strip(), "```"]
        if g.get("hint"):
            lines += ["", f"Hint: {g['hint']}"]
        if g["score"] == 100.0:
            lines += ["", "All checks pass."]
    return "\n".join(lines) + "\n"


def _consequence(g: dict) -> str:
    return "The exercise scores 0." if g["points"] == 0 else "The checks concerned fail."


def feedback_html(payload: dict) -> str:
    """The same page in stand-alone HTML (no external resources)."""
    sid = html.escape(_student_id(payload))
    e = html.escape
    total = payload["total_score"]
    rows = []
    for ex_id, g in payload["exercises"].items():
        colour = "#b00020" if g["score"] is None or g.get("gamed") or g["delegation"] or g["score"] == 0 else "#1b5e20" if g["score"] == 100 else "#8a6d00"
        rows.append(f"<tr><td>{e(ex_id)}</td><td style='color:{colour}'>{e(_points(g))}</td><td>{e(g['status'])}</td></tr>")
    sections = []
    for ex_id, g in payload["exercises"].items():
        parts = [f"<h2 id='{e(ex_id)}'>{e(ex_id)}: {e(_points(g))}</h2>"]
        if g["score"] is None:
            parts.append("<p style='color:#b00020'><b>Not graded</b>: every check of this exercise was skipped.</p>")
        if g.get("gamed") or g["delegation"]:
            parts.append(f"<p style='color:#b00020'><b>Gamed, not accepted:</b> {e(g.get('gamed') or g['delegation'])}. "
                         f"{e(_consequence(g))}</p>")  # fmt: skip
        if g["hung"]:
            parts.append("<p><b>Hung:</b> " + ", ".join(f"<code>{e(h)}</code>" for h in g["hung"][:5]) + "</p>")
        items = "".join(
            f"<li>{e(name)}: {v['earned']:g}/{v['points']:g} ({v['passed']} passed, {v['failed']} failed, {v['skipped']} skipped)</li>"
            for name, v in g["groups"].items() if v.get("status") != "not graded"
        )  # fmt: skip
        if items:
            parts.append(f"<ul>{items}</ul>")
        failure = g.get("first_failure")
        if failure:
            parts.append(f"<p>First failing check: <code>{e(failure['check'])}</code></p><pre>{e(failure['detail'].strip())}</pre>")
        if g.get("hint"):
            parts.append(f"<p><b>Hint:</b> {e(g['hint'])}</p>")
        sections.append("\n".join(parts))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Feedback for {sid}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}
pre{{background:#f4f4f4;padding:.6em;overflow-x:auto;white-space:pre-wrap}}</style></head>
<body><h1>Feedback for {sid}</h1>
<p><b>Total: {payload['total_points']:g} / {payload['max_points']:g} points</b>{f' ({total:.1f} %)' if total is not None else ''}</p>
<table><tr><th>exercise</th><th>points</th><th>status</th></tr>
{''.join(rows)}
</table>
{''.join(sections)}
</body></html>
"""


def write_feedback(payload: dict, stem: Path) -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.html`` (each to a temporary name first); returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix, text in ((".md", feedback_markdown(payload)), (".html", feedback_html(payload))):
        path = stem.with_suffix(suffix)
        write_text(path, text)
        paths.append(path)
    return paths[0], paths[1]
