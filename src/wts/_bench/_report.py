"""The report as text: the figures' units, and the table (plain or Markdown) of every row."""

from __future__ import annotations

from typing import Any


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.0f} us"


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _fmt_rate(n: float) -> str:
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n:.0f} "


COLUMNS = (
    ("scenario", "scenario"),
    ("impl", "implementation"),
    ("c", "conc."),
    ("rounds", "rounds"),
    ("wall", "wall (median)"),
    ("rpcs", "RPCs"),
    ("bound", "bound"),
    ("vs_bound", "vs bound"),
    ("speedup", "wts faster by"),
    ("peak", "peak heap"),
    ("held", "held/session"),
    ("note", "note"),
)


def _cells(row: dict[str, Any]) -> dict[str, str]:
    ok = row["status"] == "ok"
    sc = f"{row['operation']} {row['servers']}x{row['sessions_per_server']} @{_fmt_num(row['rtt_ms'])} ms"
    if row["rtt_ms"] > 0:
        bound = _fmt_time(row["bound_s"]) if ok else "-"
        vs = f"{row['ratio_to_bound']:.2f}x" if row["ratio_to_bound"] else "-"
    else:
        bound = "none at 0 ms"
        vs = f"{_fmt_rate(row['sessions_per_s'])}sessions/s" if row["sessions_per_s"] else "-"
    note = row["note"] if ok or not row["note"] else f"{row['status']}: {row['note']}"
    return {
        "scenario": sc,
        "impl": row["label"],
        "c": str(row["threads"]),
        "rounds": str(row["rounds"]) if ok else "-",
        "wall": _fmt_time(row["wall_s"]) if ok else row["status"],
        "rpcs": f"{row['rpcs']:,}" if (ok and row["rpcs"] is not None) else "-",
        "bound": bound,
        "vs_bound": vs if ok else "-",
        "speedup": f"{row['wts_speedup']:.1f}x" if row["wts_speedup"] else "-",
        "peak": _fmt_bytes(row["peak_bytes"]),
        "held": _fmt_bytes(row["held_bytes_per_session"]),
        "note": note,
    }


def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    cells = [_cells(r) for r in report["rows"]]
    keys = [k for k, _ in COLUMNS]
    heads = dict(COLUMNS)
    if markdown:
        lines = ["| " + " | ".join(heads[k] for k in keys) + " |", "|" + "|".join(" --- " for _ in keys) + "|"]
        lines += ["| " + " | ".join(c[k].replace("|", "\\|") for k in keys) + " |" for c in cells]
        return "\n".join(lines)
    width = {k: max([len(heads[k])] + [len(c[k]) for c in cells]) for k in keys if k != "note"}
    right = {"c", "rounds", "wall", "rpcs", "bound", "vs_bound", "speedup", "peak", "held"}

    def line(c: dict[str, str]) -> str:
        parts = [c[k].rjust(width[k]) if k in right else c[k].ljust(width[k]) for k in keys if k != "note"]
        return ("  ".join(parts) + "  " + c["note"]).rstrip()

    out = [line(heads), "  ".join("-" * width[k] for k in keys if k != "note") + "  ----"]
    last = None
    for c in cells:
        if last is not None and c["scenario"] != last:
            out.append("")
        if c["scenario"] == last:
            c = dict(c, scenario="")
        else:
            last = c["scenario"]
        out.append(line(c))
    return "\n".join(out)
