"""CPU per call of the MS-TSTS codec (wts._tsts), beside impacket 0.13.1's for the same stubs.

    python benchmarks/tsts_codec.py [--rounds 7] [--calls 2000]

Each case runs ``--calls`` times per round and the table gives, per call, the median and the minimum
over the rounds of CPU time (``time.process_time``: this process, all threads).  Cases:

* client, who is where: RpcGetAllSessions level 2 for a 25-session server: encode the request and
  frame it (one PDU), then parse the answer's PDU (5,840-byte fragments: two), reassemble and decode;
* server, who is where: the same call's server side: parse and decode the request, encode the
  25-session answer and cut it into fragments;
* client / server, session details: RpcGetSessionInformationEx, both sides likewise.

impacket's rows time the stubs only (``NDRCALL.getData()`` for the request, the response class
parsing the answer), without its PDU layer: a lower bound for impacket.  No signing or sealing here:
that is ``_auth``'s cost, on top.  Figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from wts._tsts import _calls as C
from wts._tsts import _frames, _pdu

SESSIONS = [
    C.ExecEnvEntry(i + 1, 0 if i % 4 else 4, f"RDP-Tcp#{i}", i + 1, "RDS01", f"user{i:03}", "CONTOSO", "")
    for i in range(25)
]
INFO = C.SessionInfoEx(
    0,
    1,
    "RDP-Tcp#3",
    "CONTOSO",
    "user003",
    133_000_000_000_000_000,
    0,
    132_999_999_000_000_000,
    133_000_000_050_000_000,
)
FRAG = 5840


def _client_call(request: bytes, opnum: int, answer: list[bytes], decode: Callable[[bytes], object]) -> None:
    _frames.request_fragments(7, 0, opnum, request, max_frag=FRAG)
    assembly = _pdu.Reassembly(_pdu.RESPONSE, 7)
    stub = None
    for frag in answer:
        stub = assembly.add(_pdu.parse(frag))  # type: ignore[arg-type]
    assert stub is not None
    decode(stub)


def cases() -> dict[str, Callable[[], object]]:
    all_sessions_answer = _frames.response_fragments(7, 0, C.encode_get_all_sessions_response(SESSIONS), max_frag=FRAG)
    info_answer = _frames.response_fragments(7, 0, C.encode_get_session_information_ex_response(INFO), max_frag=FRAG)
    all_sessions_request = _frames.request_fragments(7, 0, 10, C.encode_get_all_sessions_request(2))[0]
    info_request = _frames.request_fragments(7, 0, 17, C.encode_get_session_information_ex_request(3))[0]

    def server(request: bytes, answer: Callable[[bytes], bytes]) -> None:
        pdu = _pdu.parse(request)
        assert isinstance(pdu, _pdu.Request)
        stub = _pdu.Reassembly(_pdu.REQUEST).add(pdu)
        assert stub is not None
        _frames.response_fragments(7, 0, answer(stub), max_frag=FRAG)

    out: dict[str, Callable[[], object]] = {
        "client, who is where (25 sessions)": lambda: _client_call(
            C.encode_get_all_sessions_request(2), 10, all_sessions_answer, C.decode_get_all_sessions_response
        ),
        "server, who is where (25 sessions)": lambda: server(
            all_sessions_request,
            lambda s: C.encode_get_all_sessions_response(SESSIONS, C.decode_get_all_sessions_request(s)),
        ),
        "client, session details": lambda: _client_call(
            C.encode_get_session_information_ex_request(3),
            17,
            info_answer,
            C.decode_get_session_information_ex_response,
        ),
        "server, session details": lambda: server(
            info_request,
            lambda s: C.encode_get_session_information_ex_response(
                INFO if C.decode_get_session_information_ex_request(s) else None
            ),
        ),
    }
    try:
        from impacket.dcerpc.v5 import tsts
    except ImportError:  # pragma: no cover - impacket is in the test extra
        return out
    all_sessions_stub = C.encode_get_all_sessions_response(SESSIONS)
    info_stub = C.encode_get_session_information_ex_response(INFO)

    def impacket_all_sessions() -> None:
        call = tsts.RpcGetAllSessions()
        call["pLevel"] = 2
        call.getData()
        tsts.RpcGetAllSessionsResponse(all_sessions_stub)

    def impacket_info() -> None:
        call = tsts.RpcGetSessionInformationEx()
        call["SessionId"] = 3
        call["Level"] = 1
        call.getData()
        tsts.RpcGetSessionInformationExResponse(info_stub)

    out["impacket client, who is where (stubs only)"] = impacket_all_sessions
    out["impacket client, session details (stubs only)"] = impacket_info
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    table = cases()
    for fn in table.values():  # warm: imports, caches, the first allocations
        for _ in range(50):
            fn()
    per_call: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(args.rounds):
        for name, fn in table.items():
            calls = args.calls if not name.startswith("impacket") else max(args.calls // 10, 50)
            t0 = time.process_time()
            for _ in range(calls):
                fn()
            per_call[name].append((time.process_time() - t0) / calls * 1e6)
    width = max(map(len, table))
    print(f"{'case':<{width}}  median µs  min µs")
    for name, values in per_call.items():
        print(f"{name:<{width}}  {statistics.median(values):9.1f}  {min(values):6.1f}")


if __name__ == "__main__":
    main()
