"""The documents the release writes for students: ``README.md`` and ``EXERCISES.md`` of the student edition.

The instructor's README (release and grading commands, the solution's benchmark figures, ``make demo``
as a finished pipeline) is not the student's: the release replaces it with :func:`student_readme`.
Both documents are generated from the regions found and from
:data:`minicnn.teaching.progress.PREREQUISITES`, so they cannot drift from the code.
"""

# teaching: no-regions

from __future__ import annotations

from minicnn.teaching.progress import ALTERNATIVES, CHECKPOINT_USES, PREREQUISITES, prerequisites_line
from minicnn.teaching.regions import Region, exercises

TOPICS = {
    "G01": "dense layer, activations, gradient checking",
    "G02": "losses and numerical stability",
    "G03": "convolution: loops, im2col, the fast kernel",
    "G04": "pooling",
    "G05": "optimizers: SGD, momentum, Adam",
    "G06": "training a CNN: batch norm, dropout, the training loop",
    "G07": "augmentation and stain normalization",
    "G08": "decision trees",
    "G09": "random forests",
    "G10": "evaluation: confusion matrix, ROC/AUC, kappa",
    "S01": "whole-slide images",
    "S02": "tissue detection and tiling",
    "S03": "the HDF5 tile dataset",
    "S04": "stain and augmentation on slides",
    "S05": "training the tile CNN",
    "S06": "heatmaps",
    "S07": "heatmap features",
    "S08": "slide labels with trees and forests",
    "S09": "pN staging and the quadratic weighted kappa",
}


def notebook_path(ex_id: str, regions: list[Region]) -> str | None:
    """The notebook holding an exercise's notebook regions (``generic_exercises/G03_convolution.ipynb``)."""
    paths = sorted({r.path for r in regions if r.exercise == ex_id and r.path.endswith(".ipynb")})
    return paths[0] if paths else None


def needed_by() -> dict[str, list[str]]:
    """Inverse of PREREQUISITES: ``{exercise: [notebooks that need it]}``."""
    found: dict[str, list[str]] = {}
    for ex, needs in PREREQUISITES.items():
        for need in needs:
            found.setdefault(need, []).append(ex)
    return {k: sorted(v) for k, v in sorted(found.items())}


def prerequisites_diagram() -> str:
    """A plain-text map: each exercise, and the notebooks that build on it."""
    users = needed_by()
    lines = []
    for ex in sorted(PREREQUISITES):
        after = users.get(ex)
        lines.append(f"{ex}  {TOPICS.get(ex, ''):<52}" + (f" ──► {' '.join(after)}" if after else "").rstrip())
    return "\n".join(line.rstrip() for line in lines)


def mermaid_diagram() -> str:
    """The same map as a Mermaid graph (GitHub and GitLab draw it)."""
    lines = ["```mermaid", "graph LR"]
    for ex in sorted(PREREQUISITES):
        for need in PREREQUISITES[ex]:
            lines.append(f"  {need} --> {ex}")
    lines.append("```")
    return "\n".join(lines)


def exercises_markdown(regions: list[Region]) -> str:
    """EXERCISES.md: per exercise, its notebook, what it needs, and every function to write."""
    lines = [
        "# Exercises",
        "",
        "Each exercise below is a set of functions that raise `NotImplementedError` until you write them.",
        "Check one exercise with `python -m pytest -m <id>` (for example `python -m pytest -m G03`); an",
        "exercise you have not done yet is reported in one line, `G03 not implemented: <file>::<function>`.",
        "",
        "## Prerequisites",
        "",
        "Which exercises each notebook builds on (the notebook's first cell says the same and lists those you",
        "have not written yet; a cell that reaches one stops with one line naming it):",
        "",
        "```text",
        prerequisites_diagram(),
        "```",
        "",
    ]
    for ex in sorted(PREREQUISITES):
        if PREREQUISITES[ex] or ex in CHECKPOINT_USES:
            line = f"- {prerequisites_line(ex)}"
            if ex in CHECKPOINT_USES:
                line += f"; reads shipped checkpoint data: {', '.join(CHECKPOINT_USES[ex])}"
            if ex in ALTERNATIVES:
                line += f" ({ALTERNATIVES[ex]})"
            lines.append(line)
    lines.append("")
    for ex_id, regs in exercises(regions).items():
        lines.append(f"## {ex_id}" + (f": {TOPICS[ex_id]}" if ex_id in TOPICS else ""))
        lines.append("")
        nb = notebook_path(ex_id, regions)
        if nb:
            lines.append(f"Notebook: `{nb}`. {prerequisites_line(ex_id)}.")
            lines.append("")
        for r in regs:
            hint = f": {r.hint}" if r.hint else ""
            lines.append(f"- `{r.location}`{hint}")
        lines.append("")
    return "\n".join(lines)


def student_readme(regions: list[Region]) -> str:
    """README.md of the student edition: install, notebooks, self-check, prerequisites, starting mid-way."""
    by_ex = exercises(regions)
    table = ["| exercise | topic | notebook | functions to write |", "|---|---|---|---|"]
    for ex_id, regs in by_ex.items():
        nb = notebook_path(ex_id, regions) or ""
        table.append(f"| {ex_id} | {TOPICS.get(ex_id, '')} | `{nb}` | {len(regs)} |")
    return "\n".join(
        [
            "# minicnn-camelyon: student edition",
            "",
            "You build a small CNN and decision-tree library, `minicnn`, from scratch in NumPy (the generic",
            "exercises G01-G10), then use it on breast-cancer lymph-node slides in the CAMELYON style (the specific",
            "exercises S01-S09): tiles, a tile CNN, heatmaps, slide labels and the patient's pN stage. Everything",
            "runs on a laptop with a small synthetic cohort; real CAMELYON slides work too.",
            "",
            "Every function you write raises `NotImplementedError(\"G03: implement ...\")` until you do.",
            "`EXERCISES.md` lists them all, with hints.",
            "",
            "## Install (once)",
            "",
            "```bash",
            "make install-dev          # creates .venv with minicnn, camelyon, Jupyter and pytest (about a minute)",
            "```",
            "",
            "Without make: `python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'`.",
            "",
            "## Work through the notebooks",
            "",
            "```bash",
            ".venv/bin/jupyter lab generic_exercises/G01_dense_activations.ipynb",
            "```",
            "",
            "Each notebook explains the idea, derives what you need, and has exercise cells. Hints are folded:",
            "open the first for the idea, the second for the formula, the third for a sketch, only when stuck.",
            "",
            *table,
            "",
            "## Check your work",
            "",
            "```bash",
            ".venv/bin/python -m pytest -m G03          # the tests of one exercise",
            "```",
            "",
            "or run the last cell of the notebook (`self_check(\"G03\")`). **Save the notebook first**: the tests read",
            "the functions you write in a notebook from the saved file, and the check says so when the saved",
            "file and the running notebook differ. An exercise you have not written yet shows as one line,",
            "`G03 not implemented: minicnn/functional/conv_naive.py::conv2d_forward_naive`; every failing test names",
            "the exercise that blocks it.",
            "",
            "`make demo` runs the whole pipeline on a synthetic cohort as far as your code allows, then prints the",
            "exercises it still needs; run it again when you have written them (it resumes).",
            "",
            "## Which exercise needs which",
            "",
            "```text",
            prerequisites_diagram(),
            "```",
            "",
            mermaid_diagram(),
            "",
            "## Starting mid-way",
            "",
            "- G01-G05, G07, G08, G10 stand alone. G06 trains a CNN with your G01-G05 layers; G09 grows forests",
            "  of your G08 trees.",
            "- S01-S03 need no exercise: the course code paints the synthetic cohort and builds the tile store.",
            "- S05 and S06 run your CNN (G01-G07); if you have not written it, start at S07.",
            "- S07, S08 and S09 start from the shipped **sample heatmaps** (`specific_exercises/sample_heatmaps/`).",
            "  S08 and S09 read the shipped sample features when S07 is not written, and S09 reads the shipped",
            "  sample slide labels when G08/G09 are not written: you can start at any of them. The first cell of",
            "  each notebook says which prerequisites you still have to write.",
            "",
        ]
    )
