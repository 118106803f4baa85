"""Correctness checks of a benchmark run, apart from its speed goals.

A benchmark reports figures and goals; what it finds wrong on the way (drift,
duplicate or orphan VMs, leaks) makes its exit status 1, so that bench_smoke
proves the behaviour while goals stay figures.
"""

PROBLEMS = []


def check(ok, what):
    """Records `what` as a problem unless `ok`; returns `ok`."""
    if not ok:
        PROBLEMS.append(what)
        print(f"CORRECTNESS: {what}")
    return ok


def finish(results, what_was_checked):
    """Adds the problems to `results`, prints the summary line, returns the exit status."""
    results["problems"] = PROBLEMS
    print(f"correctness: {'ok' if not PROBLEMS else f'{len(PROBLEMS)} problem(s)'}"
          f" ({what_was_checked})")
    return 1 if PROBLEMS else 0
