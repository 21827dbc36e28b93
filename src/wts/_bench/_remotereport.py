"""The report of ``wts bench tsts`` as text: the rows' table and the issue's targets, met or not
(plain text, or Markdown ready to paste into docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

from ._report import _fmt_time

__all__ = ["LABELS", "format_remote", "targets"]

LABELS = {
    "wts-cold": "wts tsts, cold (connect + list)",
    "wts-warm": "wts tsts, warm (2nd listing, same Farm)",
    "impacket-cold": "impacket qwinsta pattern, cold (thread pool)",
    "impacket-warm": "impacket qwinsta pattern, warm (same connections)",
    "tstool": "tstool.py qwinsta, a process per server",
}
#: Against which wts row each peer's wall is compared.
_AGAINST = {"impacket-cold": "wts-cold", "impacket-warm": "wts-warm", "tstool": "wts-cold"}

COLUMNS = (
    ("label", "row"),
    ("c", "conc."),
    ("rounds", "rounds"),
    ("wall", "wall (median)"),
    ("sessions", "sessions"),
    ("rpcs", "RPCs"),
    ("smb", "SMB exchanges"),
    ("tcp", "TCP conns"),
    ("rt", "round trips / server"),
    ("bound", "bound"),
    ("vs", "vs bound"),
    ("ccpu", "client CPU"),
    ("unit", "client CPU / unit"),
    ("scpu", "server CPU"),
    ("faster", "wts faster by"),
    ("note", "note"),
)


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _row_by(report: dict[str, Any], key: str) -> dict[str, Any] | None:
    return next((r for r in report["rows"] if r["row"] == key and r["status"] == "ok" and r["wall_s"]), None)


def _cells(row: dict[str, Any], report: dict[str, Any]) -> dict[str, str]:
    ok = row["status"] == "ok" and row["wall_s"] is not None
    if not ok:
        blank = dict.fromkeys((k for k, _ in COLUMNS), "-")
        return dict(blank, label=LABELS[row["row"]], wall=row["status"], note=row["note"])
    if row["row"] == "wts-warm" or row["row"] == "impacket-warm":
        unit = f"{_fmt_time(row['client_cpu_per_rpc_s'])} / RPC" if row["client_cpu_per_rpc_s"] else "-"
    else:
        unit = f"{_fmt_time(row['client_cpu_per_server_s'])} / server"
    against = _row_by(report, _AGAINST.get(row["row"], ""))
    faster = f"{row['wall_s'] / against['wall_s']:.1f}x" if against else "-"
    return {
        "label": LABELS[row["row"]],
        "c": str(row["threads"]),
        "rounds": str(row["rounds"]),
        "wall": _fmt_time(row["wall_s"]),
        "sessions": _num(row["sessions"]),
        "rpcs": _num(row["rpcs"]),
        "smb": _num(row["smb_exchanges"]),
        "tcp": _num(row["tcp_connections"]),
        "rt": f"{row['round_trips_per_server']:.1f}",
        "bound": _fmt_time(row["bound_s"]),
        "vs": f"{row['ratio_to_bound']:.2f}x" if row["ratio_to_bound"] else "-",
        "ccpu": _fmt_time(row["client_cpu_s"]),
        "unit": unit,
        "scpu": _fmt_time(row["server_cpu_s"]),
        "faster": faster,
        "note": row["note"],
    }


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets: (what, measured, met) for each that the report's rows can answer."""
    out: list[dict[str, Any]] = []

    def add(what: str, measured: str, met: bool | None) -> None:
        out.append({"target": what, "measured": measured, "met": met})

    cold, warm = _row_by(report, "wts-cold"), _row_by(report, "wts-warm")
    if warm:
        per = warm["rpcs_per_server"]
        add("warm: one RPC per server", f"{per:.2f} RPCs / server", 0 < per <= 1.0)
    if cold:
        rt = cold["round_trips_per_server"]
        add("cold: at most 9 round trips a server (SMB exchanges + TCP)", f"{rt:.1f}", rt <= 9.0)
    for name, row in (("cold", cold), ("warm", warm)):
        if row and row["ratio_to_bound"]:
            ratio = row["ratio_to_bound"]
            add(f"{name}: wall within 1.5x of the bound", f"{ratio:.2f}x", ratio <= 1.5)
    for key, factor in (("impacket-cold", 5.0), ("impacket-warm", 5.0), ("tstool", 100.0)):
        peer, ours = _row_by(report, key), _row_by(report, _AGAINST[key])
        if peer and ours:
            ratio = peer["wall_s"] / ours["wall_s"]
            add(f"at least {factor:g}x faster than {LABELS[key]}", f"{ratio:.1f}x", ratio >= factor)
    if warm and warm["client_cpu_per_rpc_s"]:
        v = warm["client_cpu_per_rpc_s"]
        add("client CPU at most 300 us per warm call", _fmt_time(v), v <= 300e-6)
    if cold:
        v = cold["client_cpu_per_server_s"]
        add("client CPU at most 8 ms per cold server", _fmt_time(v), v <= 8e-3)
    return out


_ORDER = ("NEGOTIATE", "SESSION_SETUP", "TREE_CONNECT", "CREATE", "IOCTL", "WRITE", "READ")


def breakdown(row: dict[str, Any], servers: int) -> str:
    """What one server cost a row, as counted at the served side: its exchanges by SMB command, then
    its RPCs by interface and opnum."""
    counts = {k: v / servers for k, v in row["counts"].items()}
    smb = sorted(
        (k[4:] for k in counts if k.startswith("smb:")),
        key=lambda name: (_ORDER.index(name) if name in _ORDER else len(_ORDER), name),
    )
    rpc = sorted(k[4:] for k in counts if k.startswith("rpc:"))
    parts = [f"{name} {_num(counts['smb:' + name])}" for name in smb]
    parts += [f"TCP {_num(counts['tcp'])}"] if counts.get("tcp") else []
    calls = ", ".join(f"{name} {_num(counts['rpc:' + name])}" for name in rpc)
    return f"{LABELS[row['row']]}, per server: " + ", ".join(parts) + (f"; RPCs: {calls}" if calls else "")


def format_remote(report: dict[str, Any], markdown: bool = False) -> str:
    sc = report["scenario"]
    title = (
        f"tsts: {sc['servers']} servers x {sc['sessions']} sessions, {sc['latency_ms']:g} ms served round trip, "
        f"concurrency {sc['concurrency']}, port {report['port']}; load average before "
        f"{report['load_before'][0]:.2f}, after {report.get('load_after', report['load_before'])[0]:.2f}"
    )
    cells = [_cells(r, report) for r in report["rows"]]
    keys = [k for k, _ in COLUMNS]
    heads = dict(COLUMNS)
    marks = {True: "met", False: "NOT met", None: "-"}
    goals = [(t["target"], t["measured"], marks[t["met"]]) for t in report["targets"]]
    servers = int(sc["servers"])
    details = [breakdown(r, servers) for r in report["rows"] if r["status"] == "ok" and r["counts"]]
    if markdown:
        lines = [title, "", "| " + " | ".join(heads[k] for k in keys) + " |"]
        lines.append("|" + "|".join(" --- " for _ in keys) + "|")
        lines += ["| " + " | ".join(c[k].replace("|", "\\|") for k in keys) + " |" for c in cells]
        lines += [""] + [f"- {line}" for line in details]
        lines += ["", "| target | measured | |", "| --- | --- | --- |"]
        lines += [f"| {a} | {b} | {m} |" for a, b, m in goals]
        return "\n".join(lines)
    width = {k: max([len(heads[k])] + [len(c[k]) for c in cells]) for k in keys}
    text = [title, ""]
    for c in [heads, *cells]:
        text.append("  ".join(c[k].ljust(width[k]) if k in ("label", "note") else c[k].rjust(width[k]) for k in keys))
    text += ["", *details, ""]
    tw = max([len(a) for a, _, _ in goals] or [0])
    text += [f"{a.ljust(tw)}  {b:>14}  {m}" for a, b, m in goals]
    return "\n".join(line.rstrip() for line in text)
