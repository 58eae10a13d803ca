"""Command line: ``python -m minicnn.teaching {check,release,grade}``.

- ``check [ROOT]``: validate every solution region (markers, ids, the student version compiles);
- ``release OUT [--source ROOT] [--force] [--allow-dirty]``: write the student edition to OUT (tracked files only);
- ``grade STUDENT_DIR [--out DIR] [--only G01,G03] [--timeout S]``: grade a student's edition (reports
  outside both trees).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minicnn.teaching.regions import exercises
from minicnn.teaching.release import ReleaseError, check, release


def _root() -> Path:
    from minicnn.teaching.grade import REFERENCE_ROOT

    return REFERENCE_ROOT


def grade_out(out: Path | None, reference: Path, student: Path) -> Path:
    """The grading report folder: ``out``, or ``<parent of reference>/grades/<student name>``.

    A folder inside the solution edition or the student's tree is refused: the next release or
    submission would carry the graded solutions and the probes' reference outputs.
    """
    reference, student = Path(reference).resolve(), Path(student).resolve()
    if out is None:
        return reference.parent / "grades" / student.name
    out = Path(out).resolve()
    for name, tree in (("solution edition", reference), ("student's edition", student)):
        if out == tree or tree in out.parents:
            raise ReleaseError(
                f"--out {out} is inside the {name} {tree}: grading reports hold solutions and reference outputs "
                f"and must stay outside it (e.g. --out {reference.parent / 'grades' / student.name})"
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minicnn.teaching", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_check = sub.add_parser("check", help="validate the solution markers of a tree")
    p_check.add_argument(
        "root", nargs="?", type=Path, default=None, help="tree to check (default: this repository)"
    )

    p_rel = sub.add_parser("release", help="write the student edition")
    p_rel.add_argument("out", type=Path, help="output folder (must not exist or be empty unless --force)")
    p_rel.add_argument(
        "--source", type=Path, default=None, help="solution edition (default: this repository)"
    )
    p_rel.add_argument("--force", action="store_true", help="replace an existing output folder")
    p_rel.add_argument(
        "--allow-dirty",
        action="store_true",
        help="release tracked files even when modified but not committed",
    )

    p_grade = sub.add_parser("grade", help="grade a student's edition against the reference")
    p_grade.add_argument("student", type=Path, help="the student's edition")
    p_grade.add_argument(
        "--out", type=Path, default=None,
        help="folder for grade.csv, grade.json and logs, outside the solution and student trees "
        "(default: grades/<student folder name> next to the solution edition)",
    )  # fmt: skip
    p_grade.add_argument(
        "--reference", type=Path, default=None, help="solution edition (default: this repository)"
    )
    p_grade.add_argument("--tests", type=Path, default=None, help="tests folder (default: REFERENCE/tests)")
    p_grade.add_argument(
        "--probes", type=Path, default=None, help="probes file (default: minicnn/teaching/probes.py)"
    )
    p_grade.add_argument("--only", default=None, help="comma-separated exercise ids")
    p_grade.add_argument("--timeout", type=float, default=900.0, help="seconds per exercise (tests, probes)")
    p_grade.add_argument("--quiet", action="store_true", help="no progress lines")

    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            regions = check(args.root or _root())
            by_ex = exercises(regions)
            print(f"{len(regions)} solution regions in {len(by_ex)} exercises, all markers valid")
            for ex_id, regs in by_ex.items():
                print(f"  {ex_id} ({len(regs)}): " + ", ".join(r.location for r in regs))
            return 0
        if args.command == "release":
            report = release(args.source or _root(), args.out, force=args.force, allow_dirty=args.allow_dirty)
            print(report.summary())
            return 0
        from minicnn.teaching.grade import format_table, grade

        reference = Path(args.reference or _root()).resolve()
        args.out = grade_out(args.out, reference, args.student)
        only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
        payload = grade(
            args.student,
            args.out,
            reference=reference,
            tests=args.tests,
            probes_file=args.probes,
            only=only,
            timeout=args.timeout,
            progress=not args.quiet,
        )
        print(format_table(payload))
        print(f"reports: {args.out / 'grade.csv'}, {args.out / 'grade.json'}")
        return 0
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
