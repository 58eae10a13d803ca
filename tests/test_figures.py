"""README's measured figures come from results files (benchmarks/figures.py; how-to in docs/figures.md)."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import figures  # noqa: E402


def test_readme_and_docs_figures_match_their_results_files():
    found = [f for doc in figures.documents() for f in figures.figures_in(doc)]
    bad = figures.check(found)
    assert not bad, "figures that do not match their results files (see docs/figures.md):\n" + "\n".join(
        f"{f.doc}:{f.line}: {f.error}" for f in bad)


def test_readme_quotes_its_measured_figures_from_files():
    """The check cannot be switched off by dropping the table's source column or the demo's link."""
    if (ROOT / "EXERCISES.md").exists():
        pytest.skip("a student edition: its README (written by the release for students) quotes no benchmark")
    found = figures.figures_in(ROOT / "README.md")
    assert len({f.line for f in found}) >= 10
    demo = [f for f in found if any(path.name == "demo.json" for path, _ in f.sources)]
    assert any(key == "evaluation.kappa" for f in demo for _, key in f.sources)


def _doc(tmp_path, text, results):
    (tmp_path / "results").mkdir()
    for name, data in results.items():
        (tmp_path / "results" / name).write_text(json.dumps(data))
    doc = tmp_path / "README.md"
    doc.write_text(text)
    return figures.check(figures.figures_in(doc))


TABLE = """| what | result | target | source |
|---|---|---|---|
| speed | **{}** ({} vs 239 ms) | <= 1.5 in 3 runs | [r.json](results/r.json) |
"""


@pytest.mark.parametrize("quoted, ok", [(("0.95", "226"), True), (("0.95", "1,226"), False),
                                        (("0.96", "226"), False), (("0.947", "226"), True)])
def test_table_figures_are_checked_against_the_linked_file(tmp_path, quoted, ok):
    bad = _doc(tmp_path, TABLE.format(*quoted), {"r.json": {"ratio": 0.9474, "ms": [226.2, 238.8], "n": 3}})
    assert (not bad) == ok, [f.error for f in bad]


def test_figure_links_in_text_percentages_bytes_and_keys(tmp_path):
    text = ("kappa [0.970](results/d.json#evaluation.kappa) and [+12.0 %](results/d.json), "
            "[476 MB](results/d.json#bytes); [0.5](results/d.json#evaluation.kappa); [98.3-99.7 %](results/d.json#acc)\n"
            "```\n[9.99](results/d.json)\n```\n")
    bad = _doc(tmp_path, text, {"d.json": {"evaluation": {"kappa": 0.9697}, "overhead": 0.1196, "bytes": 475983273,
                                       "acc": [0.9833, 0.9972]}})
    assert [f.text for f in bad] == ["0.5"]  # wrong key value; the code block is ignored


def test_missing_file_key_or_source_are_errors_that_say_so(tmp_path):
    text = ("| what | result | source |\n|---|---|---|\n| a | 1.5 | |\n| b | 2.5 | [x](results/none.json) |\n\n"
            "[0.3](results/d.json#no.such)\n")
    bad = _doc(tmp_path, text, {"d.json": {"v": 0.3}})
    errors = " | ".join(f.error for f in bad)
    assert "no results file linked" in errors
    assert "none.json does not exist" in errors
    assert "no entry 'no.such'" in errors
