"""Grade a whole class: a folder of student editions (folders or ``.zip`` files), in parallel, into one gradebook.

``python -m minicnn.teaching grade submissions/ --out grades/ --workers 2`` writes:

- ``grades/gradebook.csv``: one row per student (``student_id``, one column per exercise with its points,
  ``total``); Moodle's "Import grades > CSV file" maps ``student_id`` to the user's ID number or username
  and each exercise column to a grade item;
- ``grades/gradebook-canvas.csv``: the same in Canvas's gradebook import layout (``Student``, ``ID``,
  ``SIS User ID``, ``SIS Login ID``, ``Section``, a ``Points Possible`` row, then one column per exercise);
- ``grades/feedback/<student_id>.md`` and ``.html``: the feedback page of each student;
- ``grades/students/<student_id>/``: that student's ``grade.json``, ``grade.csv`` and logs;
- ``grades/class.json``: the seed, limits, and every student's totals and errors.

A student whose submission cannot be read (a bad zip, no exercise file) gets a row with empty exercise
columns and the reason in ``class.json`` and on the terminal; the other students are graded as usual.
Every student is graded with the same seed (the same hidden inputs) and the same reference outputs.
"""

# teaching: no-regions

from __future__ import annotations

import csv
import json
import re
import shutil
import stat
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from minicnn.io import atomic_write, write_text
from minicnn.teaching.grade import GradeCache, ReferenceProbes, Settings, default_cache_folder, grade
from minicnn.teaching.release import ReleaseError
from minicnn.teaching.worktree import exercise_files

MAX_ZIP_BYTES = 512 * 1024 * 1024
MAX_ZIP_FILES = 20000
_ID_CLEAN = re.compile(r"[^A-Za-z0-9_.@-]+")


def is_edition(path: Path) -> bool:
    """True when ``path`` looks like one student edition (it holds ``minicnn/`` or ``EXERCISES.md``)."""
    return path.is_dir() and ((path / "minicnn").is_dir() or (path / "EXERCISES.md").is_file())


def student_id_of(path: Path) -> str:
    """Student id from a folder or zip name (``alice.zip`` -> ``alice``), safe as a file name."""
    name = path.name[:-4] if path.name.lower().endswith(".zip") else path.name
    return _ID_CLEAN.sub("_", name).strip("._") or "student"


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student id, path) of every student edition (sub-folder or ``.zip``) in ``folder``, sorted by id."""
    found: dict[str, Path] = {}
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or (entry.is_file() and entry.name.lower().endswith(".zip")):
            sid = student_id_of(entry)
            if sid in found:
                raise ReleaseError(f"two submissions give the student id {sid!r}: {found[sid].name} and {entry.name}")
            found[sid] = entry
    return sorted(found.items())


def extract_zip(path: Path, target: Path) -> Path:
    """Extract a student's zip safely into ``target``; returns the edition root inside it.

    Refuses absolute paths, ``..``, symbolic links, more than 20 000 files or 512 MB. When the zip holds a
    single top-level folder, that folder is the edition.
    """
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_FILES:
                raise ReleaseError(f"{path.name}: {len(infos)} files, more than {MAX_ZIP_FILES}")
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise ReleaseError(f"{path.name}: more than {MAX_ZIP_BYTES // 2**20} MB once extracted")
            for info in infos:
                name = info.filename
                parts = Path(name).parts
                if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
                    raise ReleaseError(f"{path.name}: unsafe path {name!r} in the zip")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ReleaseError(f"{path.name}: symbolic link {name!r} in the zip")
            zf.extractall(target)
    except zipfile.BadZipFile as exc:
        raise ReleaseError(f"{path.name}: not a valid zip file ({exc})") from exc
    entries = [e for e in target.iterdir() if not e.name.startswith(("__MACOSX", "."))]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


def _grade_one(sid: str, path: Path, out: Path, settings: Settings, references: ReferenceProbes, by_ex: dict,
               cache: GradeCache) -> dict:  # fmt: skip
    start = time.monotonic()
    folder = out / "students" / sid
    try:
        edition = extract_zip(path, out / "editions" / sid) if path.is_file() else path
        if not is_edition(edition):
            raise ReleaseError(f"{path.name}: no minicnn/ folder or EXERCISES.md: not a student edition")
        payload = grade(edition, folder, settings=settings, references=references, exercises=by_ex, progress=False,
                        cache=cache)  # fmt: skip
        payload["student_id"] = sid
        from minicnn.teaching.feedback import write_feedback

        write_feedback(payload, out / "feedback" / sid)
        write_feedback(payload, folder / "feedback")
        return {"student_id": sid, "payload": payload, "error": "", "seconds": round(time.monotonic() - start, 1)}
    except (ReleaseError, OSError) as exc:
        return {"student_id": sid, "payload": None, "error": str(exc), "seconds": round(time.monotonic() - start, 1)}


def _write_csv(path: Path, rows: list[list]) -> None:
    atomic_write(path, lambda fh: csv.writer(fh).writerows(rows), mode="w", newline="")


def write_gradebook(results: list[dict], exercises: list[str], points: dict[str, float], out: Path) -> None:
    """``gradebook.csv`` (generic, Moodle) and ``gradebook-canvas.csv`` from the per-student results."""
    rows = [["student_id", *exercises, "total"]]
    canvas = [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *exercises, "Total"],
              ["Points Possible", "", "", "", "", *[f"{points[e]:g}" for e in exercises], f"{sum(points.values()):g}"]]  # fmt: skip
    for res in sorted(results, key=lambda r: r["student_id"]):
        payload = res["payload"]
        cells = []
        for ex in exercises:
            g = payload["exercises"].get(ex) if payload else None
            cells.append("" if g is None or g["score"] is None else f"{g['points']:g}")
        total = f"{payload['total_points']:g}" if payload else ""
        rows.append([res["student_id"], *cells, total])
        canvas.append([res["student_id"], "", res["student_id"], res["student_id"], "", *cells, total])
    _write_csv(out / "gradebook.csv", rows)
    _write_csv(out / "gradebook-canvas.csv", canvas)


def grade_class(folder: Path, out: Path, settings: Settings, by_ex: dict, workers: int = 1, progress: bool = True) -> dict:
    """Grade every submission of ``folder`` with ``workers`` students at a time; returns ``class.json``'s content."""
    folder, out = Path(folder).resolve(), Path(out).resolve()
    submissions = find_submissions(folder)
    if not submissions:
        raise ReleaseError(f"{folder}: no student edition (sub-folder or .zip) found")
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    references = ReferenceProbes(settings, out / "reference-probes")
    cache = GradeCache(default_cache_folder())
    with ThreadPoolExecutor(max(1, workers)) as pool:  # the reference outputs once, before the students
        list(pool.map(references.get, list(by_ex)))
    blank_root = out / "blank-baseline"
    with ThreadPoolExecutor(max(1, workers)) as pool:  # then what passes on the blank edition (earns nothing)
        files = {ex: exercise_files(regs)[ex] for ex, regs in by_ex.items()}
        list(pool.map(lambda ex: cache.blank_passes(ex, files[ex], settings, blank_root, references), list(by_ex)))
    results = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(submissions), desc="grading", unit="student")
    with ThreadPoolExecutor(max(1, workers)) as pool:
        futures = [pool.submit(_grade_one, sid, path, out, settings, references, by_ex, cache) for sid, path in submissions]
        for future in as_completed(futures):
            res = future.result()
            results.append(res)
            if bar is not None:
                shown = res["error"] or f"{res['payload']['total_points']:g}/{res['payload']['max_points']:g}"
                bar.set_postfix_str(f"{res['student_id']}: {shown}"[:60])
                bar.update(1)
    if bar is not None:
        bar.close()
    points = {ex: settings.policy.exercise(ex).points for ex in by_ex}
    write_gradebook(results, list(by_ex), points, out)
    summary = {
        "folder": str(folder),
        "reference": str(settings.reference),
        "seed": settings.seed,
        "workers": workers,
        "seconds": round(time.monotonic() - start, 1),
        "exercise_gradings": cache.misses,
        "reused_gradings": cache.hits,
        "cpu_seconds": round(sum(r["payload"]["cpu_seconds"] for r in results if r["payload"]), 1),
        "exercises": list(by_ex),
        "points": points,
        "students": [
            {"student_id": r["student_id"], "total_points": r["payload"]["total_points"] if r["payload"] else None,
             "error": r["error"], "seconds": r["seconds"]}
            for r in sorted(results, key=lambda r: r["student_id"])
        ],  # fmt: skip
    }
    write_text(out / "class.json", json.dumps(summary, indent=1))
    return summary
