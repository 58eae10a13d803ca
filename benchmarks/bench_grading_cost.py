"""CPU seconds the grader spends per exercise, for a blank and a complete student edition.

    python benchmarks/bench_grading_cost.py --json benchmarks/results/grading_cost.json [--label after]
        [--only G01,G02] [--seed 2026]

Releases this repository's student edition, makes a complete copy (``tests/grading_editions.py``), then
grades the blank copy and the complete copy one after the other, in this process, one exercise at a time.
Each exercise's CPU time is that of its sandboxed processes (``os.wait4``: user + system, children
included), split by step (import check, tests, probes). The reference probes are computed before the
students and not counted; the blank baseline (what passes on a blank edition: it earns nothing) is
computed next and counted apart (``blank_baseline_cpu_seconds``), so the blank student is then a reuse. Results are appended under ``--label`` in ``--json`` so a "before" and an
"after" run of the same machine sit side by side. Nothing here is a timed assertion. Instructor only.
"""

# teaching: hidden

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from grading_editions import make_copy  # noqa: E402

from minicnn.io import write_text  # noqa: E402
from minicnn.teaching.grade import ReferenceProbes, grade, make_settings, select_exercises  # noqa: E402
from minicnn.teaching.worktree import exercise_files  # noqa: E402

try:  # the grader of this commit reuses results and computes a blank baseline; an older one does not
    from minicnn.teaching.grade import GradeCache
except ImportError:
    GradeCache = None
from minicnn.teaching.regions import exercises as group_regions  # noqa: E402
from minicnn.teaching.release import check, release  # noqa: E402


def _grade_one(edition: Path, out: Path, settings, references, by_ex: dict, cache) -> dict:
    """Grade one edition; its wall time, total and CPU seconds per exercise."""
    start = time.monotonic()
    kw = {"cache": cache} if cache is not None else {}
    payload = grade(edition, out, settings=settings, references=references, exercises=by_ex, **kw)
    result = {
        "wall_seconds": round(time.monotonic() - start, 1),
        "total_points": payload["total_points"],
        "exercises": {
            ex: {"cpu_seconds": g["cpu_seconds"], "cpu": g["cpu"], "seconds": g["seconds"], "points": g["points"],
                 "reused": g.get("reused", False)}
            for ex, g in payload["exercises"].items()
        },  # fmt: skip
    }
    cpu = [g["cpu_seconds"] for g in result["exercises"].values()]
    result["cpu_seconds_total"] = round(sum(cpu), 1)
    result["cpu_seconds_per_exercise_median"] = round(sorted(cpu)[len(cpu) // 2], 2)
    result["cpu_seconds_per_exercise_max"] = round(max(cpu), 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True, help="results file (a label's entry is replaced)")
    parser.add_argument("--label", default="run")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "minicnn_bench_grading_cost")
    parser.add_argument("--only", default="")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--commit", default="", help="recorded as the commit graded with (default: git HEAD)")
    args = parser.parse_args()
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    blank = out / "blank"
    release(REPO, blank, allow_dirty=True)
    only = args.only.split(",") if args.only else None
    by_ex = select_exercises(REPO, only)
    complete = make_copy(blank, out / "complete", complete=list(by_ex))
    settings = make_settings(REPO, known=list(group_regions(check(REPO))), seed=args.seed)
    references = ReferenceProbes(settings, out / "reference-probes")
    start = time.monotonic()
    for ex in by_ex:
        references.get(ex)
    reference_seconds = time.monotonic() - start
    load_before = os.getloadavg()
    cache = None
    baseline = {}
    if GradeCache is not None:  # the blank baseline (what passes on a blank edition), not on disk: measured
        cache = GradeCache(None)
        for ex, regs in by_ex.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            cache.blank_passes(ex, exercise_files(regs)[ex], settings, out / "baseline", references)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            baseline[ex] = round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2)
    students = {name: _grade_one(edition, out / f"grades-{name}", settings, references, by_ex, cache)
                for name, edition in (("blank", blank), ("complete", complete))}  # fmt: skip
    entry = {
        "commit": args.commit or os.popen(f"git -C {REPO} rev-parse --short HEAD").read().strip(),
        "seed": args.seed,
        "reference_probes_seconds": round(reference_seconds, 1),
        "load_average_before": [round(v, 1) for v in load_before],
        "load_average_after": [round(v, 1) for v in os.getloadavg()],
        "students": students,
        "blank_baseline_cpu_seconds": baseline,
        "blank_baseline_cpu_seconds_total": round(sum(baseline.values()), 1),
    }
    results = json.loads(args.json.read_text()) if args.json.exists() else {}
    results[args.label] = entry
    write_text(args.json, json.dumps(results, indent=1))
    for name, s in students.items():
        print(f"{name}: {s['cpu_seconds_total']} CPU-s over {len(s['exercises'])} exercises, median "
              f"{s['cpu_seconds_per_exercise_median']}, max {s['cpu_seconds_per_exercise_max']}, wall {s['wall_seconds']} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
