"""Peak resident memory of the current process, shared by the benchmark's measurement scripts.

Standard library only: it also runs inside the reference's own venv.
"""


def peak_rss_mb() -> float:
    """VmHWM: this process image's own peak RSS (exec resets it, unlike ru_maxrss)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
