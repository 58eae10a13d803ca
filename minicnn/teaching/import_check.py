"""Import the modules of one exercise, one at a time, and say which one fails (run as a script by the grader).

Usage: ``python import_check.py TIMEOUT MODULE...`` with the graded tree on ``PYTHONPATH``.

Prints one JSON line per step: ``{"start": module}`` before importing it, then ``{"ok": module}`` or
``{"error": module, "text": traceback}``. A module whose import does not return within ``TIMEOUT`` seconds
makes ``faulthandler`` print the stack of every thread and end the process, so the grader sees a
``start`` without its end, and the stack names the file and line that hung. A crash of the interpreter
(segmentation fault, ``os._exit``) is seen the same way.
"""

# teaching: no-regions

import faulthandler
import importlib
import json
import sys
import traceback


def main(argv):
    timeout = float(argv[0])
    faulthandler.enable(all_threads=True)
    for name in argv[1:]:
        print(json.dumps({"start": name}), flush=True)
        faulthandler.dump_traceback_later(timeout, exit=True)
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - SystemExit at import is a failure too
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            print(json.dumps({"error": name, "text": text[-6000:]}), flush=True)
        else:
            print(json.dumps({"ok": name}), flush=True)
        finally:
            faulthandler.cancel_dump_traceback_later()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
