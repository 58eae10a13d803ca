"""Write the student edition of the repository.

The student edition is the same tree with every solution region replaced, at the same indentation, by
``raise NotImplementedError("<id>: implement <function> in <file>: <hint>")`` (a constant string, so it
also compiles inside Numba functions), the notebooks cleared the same way and stripped of their outputs,
and the hidden tests left out. Only files tracked by git ship (``git ls-files``): run outputs, grading
reports, caches and anything else lying in the working tree stay behind, whatever their name. A tracked
file modified but not committed stops the release (``allow_dirty`` overrides it), so that what ships is
what the history holds. Everything else is copied byte for byte, plus what the release writes itself
(``EXERCISES.md``, the student ``README.md``).

Hidden tests are test files that students do not get (the instructor grades with them): every file below
a ``tests/hidden/`` folder and every file containing the line ``# teaching: hidden``. Notebook sources
(a ``_src/`` folder next to ``.ipynb`` files, see ``generic_exercises/_build.py``) are the instructor's
authoring format and are left out too: students work in the notebooks.

After writing, :func:`scan_for_leaks` reads the whole output back and fails the release when any
solution line, marker, hidden test, compiled cache or notebook output is found in it, or when two
consecutive statements of a region appear in any shipped file, tests and Markdown included, whatever the
layout (token streams, :mod:`minicnn.teaching.leaks`).
"""

# teaching: no-regions

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from minicnn.teaching import leaks as token_leaks
from minicnn.teaching.regions import (
    EXCLUDED_DIRS,
    EXCLUDED_SUFFIXES,
    HIDDEN_PRAGMA,
    NO_REGIONS_PRAGMA,
    MarkerError,
    Region,
    cell_source,
    exercises,
    find_notebook_regions,
    find_regions,
    has_pragma,
    iter_source_files,
    marker_lines,
    read_notebook,
)
from minicnn.teaching.student_docs import exercises_markdown, student_readme


class ReleaseError(ValueError):
    """The student edition cannot be written (bad markers, invalid result, leaked solution, bad target)."""


@dataclass
class ReleaseReport:
    """What a release wrote."""

    out: Path
    files: int = 0
    regions: list[Region] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    untracked: int = 0
    #: golden-value files the release computed with the solution (``tests/golden/<exercise>.npz``)
    golden: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines for the terminal."""
        by_ex = exercises(self.regions)
        lines = [
            f"student edition written to {self.out}",
            f"  {self.files} files, {len(self.regions)} solution regions in {len(by_ex)} exercises, "
            f"{len(self.hidden)} hidden test files and {len(self.sources)} notebook sources left out; leak scan passed",
        ]
        if self.untracked:
            lines.append(
                f"  {self.untracked} untracked files of the working tree left out (only files git tracks ship)"
            )
        for ex_id, regs in by_ex.items():
            files = sorted({r.path for r in regs})
            lines.append(f"  {ex_id}: {len(regs)} regions in {len(files)} files ({', '.join(files)})")
        lines.append(f"  details: {self.out / 'EXERCISES.md'}")
        return "\n".join(lines)


def raise_line(region: Region) -> str:
    """The statement that replaces a region: one ``raise`` at the region's indentation."""
    return f"{region.indent}raise NotImplementedError({json.dumps(region.message())})"


def strip_regions(source: str, regions: list[Region]) -> str:
    """``source`` with each region (markers included) replaced by its ``raise`` line."""
    lines = source.splitlines()
    for region in sorted(regions, key=lambda r: r.begin, reverse=True):
        lines[region.begin - 1 : region.end] = [raise_line(region)]
    text = "\n".join(lines)
    return text + "\n" if source.endswith("\n") else text


def _compile_check(text: str, where: str) -> None:
    try:
        compile(text, where, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise ReleaseError(
            f"{where}:{exc.lineno}: the student version does not compile after replacing the solution "
            f"regions ({exc.msg}); a region must be a whole block of statements"
        ) from exc


def _magic_free(source: str) -> str:
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(
            line[: len(line) - len(stripped)] + "#" + stripped if stripped.startswith(("!", "%")) else line
        )
    return "\n".join(lines) + "\n"


def student_python(text: str, rel: str) -> tuple[str, list[Region]]:
    """Student version of a module: (text, regions). Files with the no-regions pragma are unchanged."""
    if has_pragma(text, NO_REGIONS_PRAGMA):
        return text, []
    regions = find_regions(text, rel)
    if not regions:
        return text, []
    out = strip_regions(text, regions)
    _compile_check(out, rel)
    return out, regions


def student_notebook(nb: dict, rel: str) -> tuple[dict, list[Region]]:
    """Student version of a notebook (a new dict): regions replaced, outputs and execution counts cleared."""
    regions = find_notebook_regions(nb, rel)
    nb = json.loads(json.dumps(nb))
    for index, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        cell_regions = [r for r in regions if r.cell == index]
        if cell_regions:
            source = strip_regions(cell_source(cell), cell_regions)
            _compile_check(_magic_free(source), f"{rel}:cell {index}")
            cell["source"] = source
        cell["outputs"] = []
        cell["execution_count"] = None
    return nb, regions


#: Instructor-only files at the root of the solution edition (grading weights and groups).
INSTRUCTOR_FILES = frozenset({"grading.toml"})


def is_hidden_test(rel: str, path: Path) -> bool:
    """True for files students must not get: below ``tests/hidden/``, carrying ``# teaching: hidden``, or
    one of :data:`INSTRUCTOR_FILES`."""
    if rel in INSTRUCTOR_FILES:
        return True
    parts = rel.split("/")
    for i in range(len(parts) - 1):
        if parts[i] == "hidden" and i > 0 and parts[i - 1] == "tests":
            return True
    if rel.endswith(".py"):
        try:
            return has_pragma(path.read_text(encoding="utf-8"), HIDDEN_PRAGMA)
        except UnicodeDecodeError:
            return False
    return False


def is_notebook_source(rel: str, source: Path) -> bool:
    """True for a file below a ``_src/`` folder whose parent folder holds notebooks (percent-format sources)."""
    parts = rel.split("/")
    for i in range(len(parts) - 1):
        if parts[i] == "_src" and any(Path(source).joinpath(*parts[:i]).glob("*.ipynb")):
            return True
    return False


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _git(source: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True, timeout=120)
    except FileNotFoundError as exc:
        raise ReleaseError("git is not installed: the release ships the files git tracks") from exc
    if proc.returncode != 0:
        raise ReleaseError(
            f"{source} is not a git work tree ({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'git failed'}); "
            "the release ships only the files git tracks: run `git init && git add -A && git commit` first"
        )
    return proc.stdout


def tracked_files(source: Path) -> list[tuple[Path, str]]:
    """The files git tracks below ``source`` (that exist), as (absolute path, relative POSIX path), sorted.

    Excluded folders (virtual environments, caches, ``runs``) and compiled files are left out even when
    tracked. Raises ReleaseError when ``source`` is not inside a git work tree.
    """
    source = Path(source)
    names = _git(source, "ls-files", "-z", "--cached", "--full-name", "--", ".").split("\0")
    top = Path(_git(source, "rev-parse", "--show-toplevel").strip()).resolve()
    files = []
    for name in names:
        if not name:
            continue
        path = top / name
        try:
            rel = path.relative_to(source.resolve()).as_posix()
        except ValueError:
            continue
        parts = rel.split("/")
        if any(p in EXCLUDED_DIRS or p.endswith(EXCLUDED_SUFFIXES) for p in parts[:-1]):
            continue
        if parts[-1].endswith(EXCLUDED_SUFFIXES) or not path.is_file() or path.is_symlink():
            continue
        files.append((path, rel))
    return sorted(files, key=lambda item: item[1])


def modified_files(source: Path) -> list[str]:
    """Tracked files below ``source`` whose working copy differs from the last commit (staged or not)."""
    out = _git(Path(source), "status", "--porcelain=v1", "-z", "--untracked-files=no", "--", ".")
    names = []
    entries = out.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        names.append(entry[3:])
        if entry[0] in "RC":  # a rename carries the old name in the next field
            i += 1
    return sorted(names)


def untracked_count(source: Path) -> int:
    """How many files below ``source`` git does not track and does not ignore: they do not ship."""
    out = _git(Path(source), "ls-files", "-z", "--others", "--exclude-standard", "--", ".")
    return len([n for n in out.split("\0") if n])


def _build(
    source: Path, tmp: Path, skip: Path | None, files: list[tuple[Path, str]] | None = None
) -> ReleaseReport:
    report = ReleaseReport(out=tmp)
    for path, rel in files if files is not None else iter_source_files(source):
        if skip is not None and (path == skip or skip in path.parents):
            continue
        if is_hidden_test(rel, path):
            report.hidden.append(rel)
            continue
        if is_notebook_source(rel, source):
            report.sources.append(rel)
            continue
        if rel == "README.md":
            continue  # the instructor's README: the student edition gets its own (below)
        target = tmp / rel
        if rel.endswith(".py"):
            text = _read_text(path)
            if text is None:
                raise ReleaseError(f"{rel}: not a UTF-8 text file")
            new, regions = student_python(text, rel)
            _write_text(target, new)
            report.regions.extend(regions)
        elif rel.endswith(".ipynb"):
            nb, regions = student_notebook(read_notebook(path), rel)
            _write_text(target, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            report.regions.extend(regions)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        report.files += 1
    _write_text(tmp / "EXERCISES.md", exercises_markdown(report.regions))
    _write_text(tmp / "README.md", student_readme(report.regions))
    report.files += 2
    report.golden = write_golden(source, tmp)
    report.files += len(report.golden)
    return report


#: The golden cases of a source tree: run by the release with the solution's code, written as data.
GOLDEN_CASES = "tests/golden_cases.py"


def write_golden(source: Path, edition: Path) -> list[str]:
    """Write the golden values of ``source`` (``tests/golden_cases.py``: ``write(root, edition)``) into ``edition``.

    The cases run in this process with the solution edition's code, so the ``minicnn`` imported here must be
    ``source``'s own. Returns the files written, relative to ``edition`` (none when there are no cases).
    """
    import importlib.util

    import minicnn

    path = Path(source) / GOLDEN_CASES
    if not path.is_file():
        return []
    package = Path(minicnn.__file__).resolve().parent
    if package != (Path(source) / "minicnn").resolve():
        raise ReleaseError(f"{GOLDEN_CASES}: golden values must be computed with {source}'s minicnn, but this "
                           f"process imports {package}; run the release with PYTHONPATH={source}")
    import sys

    name = "_release_golden_cases"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        written = module.write(Path(source), Path(edition))
    except Exception as exc:  # noqa: BLE001 - any failure of the cases stops the release with its reason
        raise ReleaseError(f"{GOLDEN_CASES}: the golden values could not be computed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(name, None)
    return sorted(Path(p).relative_to(edition).as_posix() for p in written)


def scan_for_leaks(
    source: Path,
    out: Path,
    regions: list[Region],
    hidden: list[str],
    files: list[tuple[Path, str]] | None = None,
) -> list[str]:
    """Everything of the solution that the written student edition still contains.

    ``hidden`` lists the files left out on purpose (hidden tests, notebook sources); ``files`` the files
    of the source that were released (default: every file below ``source``).

    Checks that no released file holds a line of a solution region (unless the same line is also part
    of the released, non-solution text, e.g. ``return out``), that no ``.py``/``.ipynb`` holds a marker
    (files with the no-regions pragma excepted), that no hidden test, compiled cache (``.pyc``,
    ``.nbi``, ``.nbc``) or notebook output was written.

    Returns
    -------
    list of str
        One message per leak; empty when the edition is clean.
    """
    source, out = Path(source), Path(out)
    leaks: list[str] = []
    region_lines: dict[str, set[int]] = {}
    cell_lines: dict[tuple[str, int], set[int]] = {}
    solution: dict[str, str] = {}
    for r in regions:
        key = (r.path, r.cell)
        span = set(range(r.begin, r.end + 1))
        if r.cell is None:
            region_lines.setdefault(r.path, set()).update(span)
        else:
            cell_lines.setdefault(key, set()).update(span)
        for line in r.body:
            text = line.strip()
            if text and not text.startswith("#") or len(text) > 20:
                solution.setdefault(text, r.location)

    # Lines the student edition legitimately contains: the released non-solution text of the source.
    allowed: set[str] = set()
    library_streams: list[list[str]] = []
    for path, rel in files if files is not None else iter_source_files(source):
        if rel in hidden:
            continue
        if rel.endswith(".py") and not rel.startswith("tests/"):
            text = _read_text(path)
            if text is not None:
                try:
                    library_streams.append(
                        token_leaks.token_stream(student_python(text, rel)[0], python=True)
                    )
                except (MarkerError, ReleaseError):
                    pass
        if rel.endswith(".ipynb"):
            try:
                nb = read_notebook(path)
            except MarkerError:
                continue
            for index, cell in enumerate(nb["cells"]):
                skip = cell_lines.get((rel, index), set())
                for number, line in enumerate(cell_source(cell).splitlines(), start=1):
                    if number not in skip:
                        allowed.add(line.strip())
            continue
        text = _read_text(path)
        if text is None:
            continue
        skip = region_lines.get(rel, set())
        for number, line in enumerate(text.splitlines(), start=1):
            if number not in skip:
                allowed.add(line.strip())
    secret = {line: loc for line, loc in solution.items() if line not in allowed}
    windows = token_leaks.solution_windows(regions, library_streams)

    hidden_set = set(hidden)
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_dir():
            continue
        if path.name.endswith(EXCLUDED_SUFFIXES) or "__pycache__" in rel.split("/"):
            leaks.append(f"{rel}: compiled cache file in the student edition")
            continue
        if rel in hidden_set:
            leaks.append(
                f"{rel}: file left out on purpose (hidden test, notebook source) is in the student edition"
            )
            continue
        text = _read_text(path)
        if text is None:
            continue
        markers: list[str] = []
        streams: list[tuple[str, list[str]]] = []
        if rel.endswith(".ipynb"):
            nb = json.loads(text)
            lines = []
            for index, cell in enumerate(nb.get("cells", [])):
                if cell.get("outputs"):
                    leaks.append(f"{rel}:cell {index}: notebook output in the student edition")
                source = cell_source(cell)
                lines.extend(source.splitlines())
                markers += [f"{rel}:cell {index}:line {n}" for n in marker_lines(source)]
                streams.append(
                    (f"{rel}:cell {index}", token_leaks.token_stream(source, cell.get("cell_type") == "code"))
                )
        else:
            lines = text.splitlines()
            if rel.endswith(".py") and not has_pragma(text, NO_REGIONS_PRAGMA):
                markers = [f"{rel}:{n}" for n in marker_lines(text)]
            streams.append((rel, token_leaks.token_stream(text, rel.endswith(".py"))))
        for where, stream in streams:
            for w in token_leaks.find_windows(stream, windows):
                leaks.append(
                    f"{where}: solution code of {w.location} leaked (two statements from {w.first_statement!r})"
                )
        for where in markers:
            leaks.append(f"{where}: solution marker left in the student edition")
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if stripped in secret:
                leaks.append(f"{rel}:{number}: solution line of {secret[stripped]} leaked: {stripped!r}")
    return leaks


def release(source: Path, out: Path, force: bool = False, allow_dirty: bool = False) -> ReleaseReport:
    """Write the student edition of ``source`` to ``out``.

    Only the files git tracks ship (plus what the release writes: ``EXERCISES.md`` and the student
    ``README.md``). The edition is built in a temporary folder next to ``out``, checked (every modified
    module and notebook cell compiles, the leak scan finds nothing) and only then renamed to ``out``: a
    failed release leaves nothing behind.

    Parameters
    ----------
    source : path
        The solution edition (a git work tree, usually the repository root).
    out : path
        Folder to create. It must not exist (or be empty) unless ``force`` is set, and must not be
        ``source`` or contain it.
    force : bool
        Replace an existing ``out``.
    allow_dirty : bool
        Release the working copies of tracked files that are modified but not committed (by default
        such files stop the release: commit them first).

    Raises
    ------
    ReleaseError
        Not a git work tree, uncommitted changes, bad markers (the message names file:line), a module that
        does not compile after replacement, a leak, or a bad ``out``.
    """
    source = Path(source).resolve()
    out = Path(out).resolve()
    if not source.is_dir():
        raise ReleaseError(f"source {source} is not a folder")
    if out == source or out in source.parents:
        raise ReleaseError(f"output folder {out} must not be the source tree or contain it")
    if out.exists() and any(out.iterdir()) and not force:
        raise ReleaseError(f"output folder {out} exists and is not empty (use --force to replace it)")
    files = tracked_files(source)
    if not allow_dirty:
        dirty = modified_files(source)
        if dirty:
            shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
            raise ReleaseError(
                f"{len(dirty)} tracked file{'s' if len(dirty) != 1 else ''} modified but not committed ({shown}): "
                "commit them so that the release matches the history, or pass --allow-dirty"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        try:
            report = _build(source, tmp, skip=out if source in out.parents else None, files=files)
        except MarkerError as exc:
            raise ReleaseError(str(exc)) from exc
        report.untracked = untracked_count(source)
        leaks = scan_for_leaks(source, tmp, report.regions, report.hidden + report.sources, files=files)
        if leaks:
            shown = "\n  ".join(leaks[:20])
            more = f"\n  ... and {len(leaks) - 20} more" if len(leaks) > 20 else ""
            raise ReleaseError(f"the student edition leaks the solution:\n  {shown}{more}")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        report.out = out
        return report
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check(source: Path) -> list[Region]:
    """Validate every marker of ``source`` and that each student version compiles; returns the regions.

    Raises
    ------
    ReleaseError
        With ``file:line`` of the first problem.
    """
    regions: list[Region] = []
    for path, rel in iter_source_files(Path(source)):
        try:
            if rel.endswith(".py"):
                text = _read_text(path)
                if text is None:
                    continue
                regions.extend(student_python(text, rel)[1])
            elif rel.endswith(".ipynb"):
                regions.extend(student_notebook(read_notebook(path), rel)[1])
        except MarkerError as exc:
            raise ReleaseError(str(exc)) from exc
    return regions
