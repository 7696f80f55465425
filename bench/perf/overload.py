"""Overload: offer far more than the throughput target, check that the server sheds the excess
with 503 + Retry-After (never another 5xx), keeps the accepted answers fast, and recovers within
10 s once the load stops.

    .venv/bin/python -m bench.perf.overload [--connections 192] [--duration 10] [--skip-attacks]

Then, on a new server with the default limits, the hostile clients of ``bench.perf.attacks``
beside normal traffic: slow bodies and big headers, with the normal clients' share answered and
p99 (targets >= 99%, <= 250 ms) against the same clients alone.

Baseline, measured in the same run: the same server's idle median for new questions. The
offered load is a closed loop of ``--connections`` wrk connections (192 by default, 12x the
16 clients that already reach the >= 100 req/s target, so well over 3x its demand).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import (
    OUT,
    AskClient,
    article_index,
    machine,
    save,
    server,
    varied_questions,
    write_bodies,
)
from bench.perf.attacks import Target, run_phases, show
from bench.perf.load import run_wrk

LUA = r"""
local bodies, counter, threads = {}, 0, {}
function setup(thread) thread:set("tid", #threads); table.insert(threads, thread) end
function init(args)
  for line in io.lines(args[1]) do table.insert(bodies, line) end
  counter = (tid or 0) * math.floor(#bodies / 8)
  c200, c503, c429, cother = 0, 0, 0, 0
  wrk.method = "POST"; wrk.headers["Content-Type"] = "application/json"
end
function request()
  counter = counter + 1
  return wrk.format(nil, "/ask", nil, bodies[(counter % #bodies) + 1])
end
function response(status, headers, body)
  if status == 200 then c200 = c200 + 1 elseif status == 503 then c503 = c503 + 1
  elseif status == 429 then c429 = c429 + 1 else cother = cother + 1 end
end
function done(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, th in ipairs(threads) do
    t[1] = t[1] + th:get("c200"); t[2] = t[2] + th:get("c503")
    t[3] = t[3] + th:get("c429"); t[4] = t[4] + th:get("cother")
  end
  io.write(string.format("STATUS 200=%d 503=%d 429=%d other=%d\n", t[1], t[2], t[3], t[4]))
end
"""


def overload(url: str, bodies: Path, connections: int, duration: int) -> dict[str, Any]:
    """load.run_wrk with a script that also counts responses by status."""
    result = run_wrk(url, bodies, connections, duration, lua=LUA)
    out = result["raw"]
    counts = dict(re.findall(r"(\w+)=(\d+)", out.split("STATUS", 1)[1])) if "STATUS" in out else {}
    result["status"] = {k: int(v) for k, v in counts.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=192)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--index-dir", type=Path, default=None, help="reuse an article index")
    parser.add_argument("--skip-attacks", action="store_true", help="only the overload phase")
    parser.add_argument("--attack-duration", type=float, default=15.0, help="s per attack")
    args = parser.parse_args()
    index_dir = article_index(args.index_dir)
    OUT.mkdir(parents=True, exist_ok=True)
    questions = varied_questions(100_000)
    bodies = write_bodies(OUT / "overload-bodies.jsonl", questions[200:])
    fresh = iter(questions[:200])  # never sent by wrk, so never cached
    result: dict[str, Any] = {"machine": machine(), "connections": args.connections}
    with server(index_dir) as (url, _, _):
        client = AskClient(url, timeout=10)
        idle = [client.ask_ms(next(fresh)) for _ in range(30)]
        idle_median = statistics.median(idle)
        load = overload(url, bodies, args.connections, args.duration)
        stopped = time.perf_counter()
        # Recovery: the first moment after which 5 new questions in a row get 200 within
        # twice the idle median.
        streak, recovered_at, probes = 0, None, []
        while time.perf_counter() - stopped < 30:
            status, ms, _ = client.ask(next(fresh))
            probes.append((round(time.perf_counter() - stopped, 3), status, round(ms, 2)))
            streak = streak + 1 if status == 200 and ms <= 2 * idle_median else 0
            if streak == 5:
                recovered_at = time.perf_counter() - stopped
                break
            time.sleep(0.05)
        client.close()
    status = load["status"]
    total = sum(status.values())
    result.update(
        idle_median_ms=round(idle_median, 2),
        offered_rps=load["rps"],
        status=status,
        socket_errors=load["socket_errors"],
        shed_share=round(status.get("503", 0) / total, 3) if total else None,
        recovered_s=None if recovered_at is None else round(recovered_at, 2),
        probes=probes,
        wrk=load["raw"],
    )
    other_5xx = status.get("other", 0)
    print(f"\nOverload: {args.connections} connections for {args.duration} s (loopback)")
    print(f"  idle /ask median (baseline, same server, same run): {idle_median:.1f} ms")
    print(f"  responses/s: {load['rps']:.0f}  (target throughput: 100/s, so >= 3x offered)")
    print(
        f"  200: {status.get('200', 0)}  503 shed: {status.get('503', 0)}  "
        f"429: {status.get('429', 0)}  other: {other_5xx}  socket errors: {load['socket_errors']}"
    )
    print(f"  accepted answers/s: {status.get('200', 0) / args.duration:.0f}")
    rec = "not within 30 s" if recovered_at is None else f"{recovered_at:.2f} s"
    print(f"  recovered (5 answers in a row <= 2x idle median) after: {rec}  (target <= 10 s)")
    ok = (
        other_5xx == 0
        and status.get("503", 0) > 0
        and recovered_at is not None
        and recovered_at <= 10
    )
    print(f"  sheds with 503, no other errors, recovers within 10 s: {'yes' if ok else 'NO'}")
    if not args.skip_attacks:
        clients = 8
        tree = Target("this tree", index_dir)
        result["attacks"] = run_phases([tree], args.attack_duration, clients)["this tree"]
        print(
            f"\nHostile clients beside {clients} normal ones (a new question each, 0.1 s apart), "
            f"{args.attack_duration:.0f} s each (targets: >= 99% answered, p99 <= 250 ms)"
        )
        met = show("this tree", result["attacks"])
        print(f"  targets met during every attack: {'yes' if met else 'NO'}")
    print(f"  load average: {machine()['loadavg']}")
    print(f"\nwrote {save('overload', result)}")


if __name__ == "__main__":
    main()
