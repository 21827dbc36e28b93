"""The benchmark harness (``wts bench``, src/wts/_bench/): its logic, never its timings.

Each scenario's RPC counts must be exactly what the operation implies, for wts and for the pywin32
pattern, computed here from the farm itself; the JSON report must carry every column; bad arguments
give one line and exit 2; without the simulator's library the baseline rows say n/a and the run works.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import wts
from wts import _bench


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = _bench.main(list(argv), prog="wts bench")
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--ops", "whois"], "unknown operation 'whois'"),
        (["--sizes", "200by25"], "is not SERVERSxSESSIONS"),
        (["--rtt", "fast"], "is not a number"),
        (["--concurrency", "0"], "concurrency must be an integer from 1 to 4096"),
        (["--concurrency", "1,,x"], "'x'"),
        (["--rounds", "0"], "--rounds must be 1 to 1000"),
        (["--baselines", "c"], "unknown baseline 'c'"),
        (["--baseline-cap", "-1"], "--baseline-cap"),
        (["--no-such-option"], "unrecognized arguments"),
        (["--rounds"], "expected one argument"),
    ],
)
def test_bad_arguments_one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    rc, out, err = _run(capsys, *argv)
    assert rc == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("wts bench: error: "), err
    assert says in err
    assert "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--help")
    assert rc == 0
    assert "--baseline-cap" in out and "--concurrency" in out


def test_scenarios_are_the_cross_product_or_the_default_suite() -> None:
    scenarios, _, _ = _bench.parse_args(["--ops", "who,logoff", "--rtt", "0,2", "--concurrency", "1,64"], "b")
    assert len(scenarios) == 8
    assert {(s.op, s.rtt_ms, s.concurrency) for s in scenarios} == {
        (op, r, c) for op in ("who", "logoff") for r in (0.0, 2.0) for c in (1, 64)
    }
    assert {(s.servers, s.sessions) for s in scenarios} == {(200, 25)}
    default, _, _ = _bench.parse_args([], "b")
    targets = {("who", 200, 25, 2.0, 64), ("details", 200, 25, 2.0, 64), ("disconnect", 200, 25, 2.0, 64)}
    assert targets | {("who", 1000, 40, 0.0, 64)} <= {tuple(s) for s in default}


def test_json_report_has_every_column(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "bench.json"
    rc, out, _ = _run(
        capsys, "--ops", "who,disconnect", "--sizes", "10x10", "--rtt", "0", "--rounds", "2", "--no-baselines",
        "--json", str(out_file), "-q",
    )  # fmt: skip
    assert rc == 0
    report = json.loads(out_file.read_text(encoding="utf-8"))
    for key in ("wts_version", "python", "platform", "cpus", "settings", "rows", "command", "sim_backend"):
        assert key in report
    columns = {
        "op", "operation", "servers", "sessions_per_server", "sessions", "rtt_ms", "concurrency", "impl", "label",
        "threads", "status", "rounds", "walls_s", "wall_s", "rpcs", "bound_s", "ratio_to_bound", "sessions_per_s",
        "rpcs_per_s", "wts_speedup", "items", "peak_bytes", "held_bytes", "held_bytes_per_session", "note",
    }  # fmt: skip
    rows = report["rows"]
    assert [(r["op"], r["impl"]) for r in rows] == [("who", "wts"), ("disconnect", "wts")]
    for row in rows:
        assert set(row) == columns
        assert row["status"] == "ok" and row["rounds"] == 2 and len(row["walls_s"]) == 2
        assert row["wall_s"] > 0 and row["peak_bytes"] > 0 and row["held_bytes"] > 0
        assert row["bound_s"] is None  # 0 ms: no bound, throughput instead
        assert row["sessions_per_s"] > 0
    assert rows[0]["sessions"] == 130 and rows[0]["items"] == 130
    # Every row is printed in the table, with its wall time.
    assert out.count("wts.Farm") == 2


def test_bound_and_ratio_at_a_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "bench.json"
    rc, _, _ = _run(
        capsys, "--ops", "who", "--sizes", "4x2", "--rtt", "1", "--concurrency", "2", "--rounds", "1",
        "--no-baselines", "--json", str(out_file), "-q",
    )  # fmt: skip
    assert rc == 0
    (row,) = json.loads(out_file.read_text(encoding="utf-8"))["rows"]
    assert row["rpcs"] == 4
    assert row["bound_s"] == pytest.approx(4 * 0.001 / 2)
    assert row["ratio_to_bound"] == pytest.approx(row["wall_s"] / row["bound_s"])


def test_baselines_na_without_a_library(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "no-such-lib.so"
    out_file = tmp_path / "bench.json"
    rc, out, _ = _run(
        capsys, "--ops", "who", "--sizes", "3x2", "--rtt", "0", "--rounds", "1", "--baselines", "a,b",
        "--sim-lib", str(missing), "--json", str(out_file), "-q",
    )  # fmt: skip
    assert rc == 0
    rows = json.loads(out_file.read_text(encoding="utf-8"))["rows"]
    assert [r["impl"] for r in rows] == ["wts", "a", "b"]
    assert rows[0]["status"] == "ok"
    for row in rows[1:]:
        assert row["status"] == "n/a" and str(missing) in row["note"]
        assert row["wall_s"] is None and row["wts_speedup"] is None
    assert "n/a" in out


# --- RPC counts: what each pattern implies, from the farm ---------------------------------------


@pytest.fixture(scope="module")
def sim_lib() -> list[str]:
    """The options that give the ctypes baselines the simulator as a library: none when the harness finds
    it itself (a source checkout, or under Wine the simulator as wtsapi32.dll), else ``--sim-lib`` with
    one built from the sources beside this suite.  Skip, with the reason, where neither works."""
    api, reason = _bench.find_sim_lib(None)
    if api is not None:
        return []
    root = Path(__file__).resolve().parents[1]
    if sys.platform != "win32" and (root / "src" / "wtsapi" / "wts_sim.c").is_file():
        try:
            return ["--sim-lib", str(_bench._build_sim_lib(root))]
        except (_bench.BenchError, OSError) as e:
            reason = str(e)
    pytest.skip(f"no simulator library for the ctypes baselines: {reason}")


def _farm_facts(threshold_s: float) -> dict[str, int]:
    """Counted from the loaded farm itself (wts.sim.dump), independently of the harness."""
    from datetime import datetime, timedelta

    d = wts.sim.dump()
    now = datetime.fromisoformat(d["now"].replace("Z", "+00:00"))
    facts = {"servers": len(d["servers"]), "sessions": 0, "active": 0, "disc_users": 0, "over": 0}
    for server in d["servers"]:
        for s in server["sessions"]:
            facts["sessions"] += 1
            user_session = 0 < s["id"] < 65536 and s["station"] != "Console"
            if user_session and s["state"] == "Active":
                facts["active"] += 1
            if user_session and s["state"] == "Disconnected":
                facts["disc_users"] += 1
                disc = datetime.fromisoformat(s["disconnect"].replace("Z", "+00:00"))
                facts["over"] += now - disc > timedelta(seconds=threshold_s)
    return facts


@pytest.mark.parametrize("op", ["who", "details", "disconnect", "logoff"])
def test_rpc_counts_are_what_each_pattern_implies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sim_lib: list[str], op: str
) -> None:
    threshold = 3600
    out_file = tmp_path / "bench.json"
    rc, _, _ = _run(
        capsys, "--ops", op, "--sizes", "10x10", "--rtt", "0", "--rounds", "2", "--baselines", "a,b",
        "--logoff-over", str(threshold), "--concurrency", "8", "--json", str(out_file), "-q", *sim_lib,
    )  # fmt: skip
    assert rc == 0
    rows = {r["impl"]: r for r in json.loads(out_file.read_text(encoding="utf-8"))["rows"]}
    assert set(rows) == {"wts", "a", "b"}
    for row in rows.values():
        assert row["status"] == "ok", row
        assert "RPC count varied" not in row["note"] and "different work" not in row["note"], row
    # Count what the operation implies from the same farm, loaded untouched (the actions changed it).
    farm = wts.sim.generate(10, 10, seed=1, now=_bench.NOW)
    assert farm.text == _bench._scenario_farm(_bench.Scenario(op, 10, 10, 0.0, 8), seed=1).text
    f = _farm_facts(threshold)
    assert f["servers"] == 10 and f["sessions"] == 10 * 13  # 10 user sessions + session 0, console, listener
    fields = {"who": 2, "details": 3}  # WTSUserName + WTSDomainName (+ WTSSessionInfo for the times)
    if op in fields:
        expected_ours = 10 if op == "who" else 10 + f["sessions"]  # + one WTSSessionInfoEx per session
        expected_pattern = 10 + f["sessions"] * fields[op]
        assert rows["wts"]["items"] == rows["a"]["items"] == rows["b"]["items"] == f["sessions"]
    elif op == "disconnect":
        expected_ours = 10 + f["active"] + 1  # + the query for the caller's own session (docs/bulk.md)
        expected_pattern = 10 + f["active"]
        assert rows["wts"]["items"] == rows["a"]["items"] == rows["b"]["items"] == f["active"]
    else:
        expected_ours = None  # wts' plan for a time filter is docs/bulk.md's business; the work must match
        expected_pattern = 10 + f["disc_users"] + f["over"]  # SessionInfo per disconnected session, then logoffs
        assert f["over"] > 0
        assert rows["wts"]["items"] == rows["a"]["items"] == rows["b"]["items"] == f["over"]
    if op == "who":
        assert expected_pattern == 270  # 10 + 10 x 13 x 2, as the issue states it
    if expected_ours is not None:
        assert rows["wts"]["rpcs"] == expected_ours
    assert rows["a"]["rpcs"] == rows["b"]["rpcs"] == expected_pattern
    assert rows["a"]["threads"] == 1 and rows["b"]["threads"] == 8
    assert rows["a"]["wts_speedup"] == pytest.approx(rows["a"]["wall_s"] / rows["wts"]["wall_s"])
    assert _bench.pattern_rpcs(op, farm.text, threshold) == expected_pattern


def test_baseline_over_the_cap_is_skipped_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sim_lib: list[str]
) -> None:
    out_file = tmp_path / "bench.json"
    rc, out, _ = _run(
        capsys, "--ops", "who", "--sizes", "2x2", "--rtt", "50", "--rounds", "1", "--baselines", "a",
        "--baseline-cap", "0.5", "--json", str(out_file), "-q", *sim_lib,
    )  # fmt: skip
    assert rc == 0
    rows = json.loads(out_file.read_text(encoding="utf-8"))["rows"]
    a = rows[1]
    assert a["impl"] == "a" and a["status"] == "skipped" and a["wall_s"] is None
    # 2 listings + 2 servers x 5 sessions x 2 fields = 22 RPCs x 50 ms = 1.1 s > 0.5 s
    assert "22 RPCs" in a["note"] and "--baseline-cap" in a["note"]
    assert "skipped" in out
