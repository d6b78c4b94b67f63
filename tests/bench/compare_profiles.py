#!/usr/bin/env python3
"""Op-by-op comparison of two Chrome traces of training steps (benchmark tool, not a test):
nxt's run.profile_steps trace against torch.profiler's trace of the PyTorch peer
(ddp_today.py with NXT_PEER_TRACE set), both in the format of torch.profiler's
export_chrome_trace.

    compare_profiles.py NXT_TRACE PEER_TRACE [TOP]

For each trace: the ProfilerStep#N ranges give the steps; every cpu_op inside them gets its self
time (its duration less its children's, per thread). Prints, per step: wall time, the summed self
time of ops, and a table of the TOP ops by the larger side's self time, with calls per step and
milliseconds per step on each side, their difference, and the ops found on one side only.
"""
import collections
import json
import sys


def load(path):
    trace = json.load(open(path))
    events = [e for e in trace["traceEvents"] if e.get("ph") == "X" and "dur" in e]
    steps = [e for e in events if e["name"].startswith("ProfilerStep#")]
    if not steps:
        sys.exit(f"{path}: no ProfilerStep#N ranges (was it written by run.profile_steps or "
                 f"torch.profiler with prof.step()?)")
    return events, steps


def self_times(events, steps):
    """{op name: [calls, self microseconds]} over the ops inside the steps, and step walls."""
    windows = [(s["ts"], s["ts"] + s["dur"]) for s in steps]

    def in_steps(e):
        return any(a <= e["ts"] <= b for a, b in windows)

    ops = [e for e in events if e.get("cat") == "cpu_op" and in_steps(e)]
    by_thread = collections.defaultdict(list)
    for e in ops:
        by_thread[e["tid"]].append(e)
    totals = collections.defaultdict(lambda: [0, 0.0])
    for thread_ops in by_thread.values():
        thread_ops.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, children's time]
        def close(entry):
            event, children = entry
            totals[event["name"]][0] += 1
            totals[event["name"]][1] += max(0.0, event["dur"] - children)
            if stack:
                stack[-1][1] += event["dur"]
        for e in thread_ops:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
                close(stack.pop())
            stack.append([e, 0.0])
        while stack:
            close(stack.pop())
    return totals, [s["dur"] for s in steps]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    sides = []
    for path in sys.argv[1:3]:
        totals, walls = self_times(*load(path))
        sides.append((totals, walls))
        n = len(walls)
        print(f"{path}: {n} steps, wall {sum(walls) / n / 1000:.1f} ms/step, "
              f"op self time {sum(t for _, t in totals.values()) / n / 1000:.1f} ms/step")
    (a, wa), (b, wb) = sides
    na, nb = len(wa), len(wb)
    names = sorted(set(a) | set(b),
                   key=lambda k: -max(a.get(k, [0, 0])[1] / na, b.get(k, [0, 0])[1] / nb))
    print(f"\n| op | calls/step nxt | peer | ms/step nxt | peer | nxt - peer |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names[:top]:
        ca, ta = a.get(name, [0, 0.0])
        cb, tb = b.get(name, [0, 0.0])
        print(f"| `{name}` | {ca / na:.0f} | {cb / nb:.0f} | {ta / na / 1000:.1f} | "
              f"{tb / nb / 1000:.1f} | {(ta / na - tb / nb) / 1000:+.1f} |")
    only_a = [k for k in names if k not in b and a[k][1] / na > 100]
    only_b = [k for k in names if k not in a and b[k][1] / nb > 100]
    print("\nonly in nxt (> 0.1 ms/step):", ", ".join(f"{k} {a[k][1] / na / 1000:.1f} ms" for k in only_a) or "none")
    print("only in the peer (> 0.1 ms/step):", ", ".join(f"{k} {b[k][1] / nb / 1000:.1f} ms" for k in only_b) or "none")


if __name__ == "__main__":
    main()
