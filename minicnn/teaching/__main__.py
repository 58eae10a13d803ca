"""Command line: ``python -m minicnn.teaching {check,release,grade}``.

- ``check [ROOT]``: validate every solution region (markers, ids, the student version compiles);
- ``release OUT [--source ROOT] [--force] [--allow-dirty]``: write the student edition to OUT (tracked files only);
- ``grade STUDENT_DIR [--out DIR] [--only G01,G03] [--seed N] [--test-timeout S] [--wall-limit S]``: grade a
  student's edition (reports outside both trees); ``grade CLASS_DIR [--out DIR] [--workers N]``: grade every
  edition (folder or ``.zip``) of a class into ``gradebook.csv`` and one feedback page per student.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minicnn.teaching.policy import PolicyError
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

    p_grade = sub.add_parser(
        "grade", help="grade a student's edition, or a folder of editions / zip files (a class)"
    )
    p_grade.add_argument("student", type=Path, help="a student's edition, or a folder of editions and .zip files")
    p_grade.add_argument(
        "--out", type=Path, default=None,
        help="folder for the reports (grade.json, gradebook.csv, feedback), outside the solution and student trees "
        "(default: grades/<student or class folder name> next to the solution edition)",
    )  # fmt: skip
    p_grade.add_argument("--reference", type=Path, default=None, help="solution edition (default: this repository)")
    p_grade.add_argument("--tests", type=Path, default=None, help="tests folder (default: REFERENCE/tests)")
    p_grade.add_argument("--policy", type=Path, default=None, help="grading policy (default: REFERENCE/grading.toml)")
    p_grade.add_argument("--probes", type=Path, default=None, help="hidden probes (default: REFERENCE/tests/hidden/probes.py)")
    p_grade.add_argument("--only", default=None, help="comma-separated exercise ids")
    p_grade.add_argument("--seed", type=int, default=None, help="seed of the hidden inputs (default: drawn now, recorded)")
    p_grade.add_argument("--test-timeout", type=float, default=None, help="seconds per test (default 60, grading.toml)")
    p_grade.add_argument("--wall-limit", "--timeout", dest="wall_limit", type=float, default=None,
                         help="seconds per exercise, all its processes (default 300, grading.toml)")
    p_grade.add_argument("--workers", type=int, default=1, help="students graded at the same time (class folder)")
    p_grade.add_argument("--keep-work", action="store_true", help="keep each exercise's work tree (debugging)")
    p_grade.add_argument("--quiet", action="store_true", help="no progress output")

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
        return _grade(args)
    except (ReleaseError, PolicyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _grade(args) -> int:
    from minicnn.teaching.grade import format_table, grade, make_settings, select_exercises
    from minicnn.teaching.gradebook import grade_class, is_edition

    reference = (args.reference or _root()).resolve()
    args.out = grade_out(args.out, reference, args.student)
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    if args.workers < 1:
        raise ReleaseError(f"--workers must be at least 1, got {args.workers}")
    if not args.student.is_dir():
        raise ReleaseError(f"{args.student} is not a folder (a student edition or a folder of editions/zip files)")
    settings = make_settings(reference, args.tests, args.policy, list(exercises(check(reference))), args.seed,
                             args.test_timeout, args.wall_limit, keep_work=args.keep_work, probes_file=args.probes)  # fmt: skip
    by_ex = select_exercises(reference, only)
    if is_edition(args.student):
        payload = grade(args.student, args.out, settings=settings, exercises=by_ex, progress=not args.quiet)
        print(format_table(payload))
        print(f"seed {payload['seed']}; reports: {args.out / 'grade.csv'}, {args.out / 'grade.json'}, "
              f"{args.out / 'feedback.html'}")  # fmt: skip
        return 0
    summary = grade_class(args.student, args.out, settings, by_ex, workers=args.workers, progress=not args.quiet)
    failed = [s for s in summary["students"] if s["error"]]
    print(f"graded {len(summary['students'])} students in {summary['seconds']:.0f} s (seed {summary['seed']}); "
          f"gradebook: {args.out / 'gradebook.csv'} (Canvas: gradebook-canvas.csv), feedback: {args.out / 'feedback'}/")  # fmt: skip
    print(f"{summary['exercise_gradings']} exercise gradings run (the blank baseline included), "
          f"{summary['reused_gradings']} reused for byte-identical exercise files")  # fmt: skip
    for s in failed:
        print(f"  {s['student_id']}: not graded: {s['error']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
