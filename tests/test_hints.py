"""Hints teach: stub messages and exercise docstrings state no formula; every notebook has three hint tiers.

The derivation is the exercise (G01-G04 above all): what a student reads next to the code says what to
implement, the shapes and the contract, and the formula only in the notebook's folded second hint.
"""

# teaching: no-regions

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: What counts as a formula (concrete, so that a hint can be checked):
FORMULA_RES = {
    # a gradient name assigned an arithmetic expression: "dx = dout @ w.T", "db = dout summed" is fine
    "gradient assignment": re.compile(r"\b(?:dx|dw|dW|db|dscores|dgamma|dbeta|d[A-Z]\w*)\s*=\s*[^,;]*?(?:\s[-+*/@]\s|\*\*)"),
    # dout in arithmetic: "dout / (H*W)", "dout * mask"
    "arithmetic on dout": re.compile(r"\bdout\s*[*/@]|[*/@]\s*\(?dout\b"),
    # an optimizer's update rule: "p -= lr * v", "(1 - beta1) * g", "beta2 * v"
    "update rule": re.compile(r"\bp\s*[-+*]=\s*[^,;]*\blr\b|\(1\s*-\s*beta|\bbeta[12]\s*\*"),
    # closed forms: sums, exp/log/sqrt, squares, the logistic function
    "closed form": re.compile(r"\bsum_\w|\bexp\s*\(|\blog2?\s*\(|\*\*\s*2\b|\bsqrt\s*\(|1\s*/\s*\(1\s*\+"),
    # any assignment of an arithmetic expression, except the output shape (OH, OW: part of the contract)
    "assignment of an expression": re.compile(r"\b(?!O[HW]\b)[A-Za-z_]\w*\s*=\s*[^=,;]*?(?:\s[-+*/]{1,2}\s|\*\*)"),
    # "the gradient is ``1 - out**2``"
    "stated gradient": re.compile(r"gradient\s+is\s+``"),
}
#: Class docstrings may define the forward computation (a loss, an affine map); not its gradient or update.
CLASS_RULES = ("gradient assignment", "arithmetic on dout", "update rule", "stated gradient")


def formula_in(text: str, rules=tuple(FORMULA_RES)) -> str | None:
    """The first formula found in ``text``, as ``rule: 'match'``, or None."""
    for rule in rules:
        match = FORMULA_RES[rule].search(text or "")
        if match:
            return f"{rule}: {match.group(0)!r}"
    return None


def _solution_regions():
    from minicnn.teaching.release import check

    regions = [r for r in check(REPO) if "/_src/" not in r.path]
    if not regions:
        pytest.skip("this is a student edition: its solution regions are already replaced")
    return regions


def _docstrings(path: Path, function: str) -> list[tuple[str, str]]:
    """(kind, text) of the docstrings around ``function`` (``name`` or ``Class.method``) in module ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    owner, _, name = function.rpartition(".")
    for node in tree.body:
        if owner and isinstance(node, ast.ClassDef) and node.name == owner:
            found.append(("class docstring", ast.get_docstring(node) or ""))
            found += [("docstring", ast.get_docstring(n) or "") for n in node.body
                      if isinstance(n, ast.FunctionDef) and n.name == name]  # fmt: skip
        elif not owner and isinstance(node, ast.FunctionDef) and node.name == name:
            found.append(("docstring", ast.get_docstring(node) or ""))
    return found


@pytest.mark.parametrize("text, rule", [
    ("dx = dout @ w.T; dw = x.T @ dout", "gradient assignment"),
    ("each pixel gets dout / (H*W)", "arithmetic on dout"),
    ("p -= lr * v", "update rule"),
    ("m = beta1 * m + (1 - beta1) * g", "update rule"),
    ("Gini impurity 1 - sum_k p_k**2", "closed form"),
    ("OD = c_H h + c_E e per pixel", "assignment of an expression"),
    ("the gradient is ``1 - out**2``", "closed form"),
])  # fmt: skip
def test_formula_rules_catch_the_formulas_hints_used_to_state(text, rule):
    assert formula_in(text) is not None and formula_in(text).startswith(rule), formula_in(text)


@pytest.mark.parametrize("text", [
    "out (N, F, OH, OW), OH = (H + 2 padding - KH) // stride + 1: loop over output pixels",
    "dx (N, D), dw (D, M), db (M,) from dout (N, M) and the cache (x, w); derive them with the chain rule",
    "update p IN PLACE (p -= ..., never p = ...) from g",
    "out = tanh of x element-wise, same shape and dtype as x",
    "set self.cache = (scores, y, w)",
])  # fmt: skip
def test_formula_rules_leave_contracts_alone(text):
    assert formula_in(text) is None


def test_no_stub_message_or_exercise_docstring_states_a_formula():
    stated = []
    for region in _solution_regions():
        if formula_in(region.hint):
            stated.append(f"{region.location}: the stub message states a formula ({formula_in(region.hint)})")
        if region.path.endswith(".py") and region.function:
            for kind, text in _docstrings(REPO / region.path, region.function):
                found = formula_in(text, CLASS_RULES if kind == "class docstring" else tuple(FORMULA_RES))
                if found:
                    stated.append(f"{region.path}::{region.function}: its {kind} states a formula ({found})")
    assert not stated, "move these formulas to the notebook's second hint:\n" + "\n".join(sorted(set(stated)))


TIERS = ("Hint 1: the idea", "Hint 2: the formula", "Hint 3: a sketch")
DETAILS_RE = re.compile(r"<details><summary>(?P<title>Hint \d: [^<]*)</summary>(?P<body>.*?)</details>", re.S)
SOURCES = sorted(p for folder in ("generic_exercises", "specific_exercises")
                 for p in (REPO / folder / "_src").glob("[GS][0-9][0-9]_*.py"))  # fmt: skip


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem[:3])
def test_every_notebook_exercise_has_three_tiers_of_hints(source):
    from minicnn.teaching.regions import find_regions

    text = source.read_text(encoding="utf-8")
    hints = [(m.group("title"), m.group("body").replace("#", "").strip()) for m in DETAILS_RE.finditer(text)]
    titles = [title for title, _ in hints]
    assert titles, f"{source.name}: no folded hints; add <details> cells {TIERS} next to each exercise"
    assert len(titles) % 3 == 0 and all(t == TIERS[i % 3] for i, t in enumerate(titles)), (
        f"{source.name}: hints must come in groups of three, in order {TIERS}; found {titles}"
    )
    assert all(body for _, body in hints), f"{source.name}: an empty hint"
    # a notebook whose exercise is written in the notebook (every S notebook) has one group per function
    functions = {r.function for r in find_regions(text, source.name)}
    if source.name.startswith("S"):
        assert len(titles) // 3 >= len(functions), (
            f"{source.name}: {len(titles) // 3} groups of hints for {len(functions)} exercise functions {sorted(functions)}"
        )
