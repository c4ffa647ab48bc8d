#!/usr/bin/env python3
"""The worker's stage trace (MIXERWORKER_STAGE_TRACE, src/MixerWorker.Pipeline/Builders/StageTrace.cs) as a table:
how late each stage handles its pictures and blocks of sound, in ms after their running time (sound: after the
block's end, when all of it could exist), p50 / p95 pooled over every bus, input or mix chain, with the range of
their own p50 and p95; then, per picture of each bus, the time between its stages, and how long it waited at the
muxer for the sound of its time. Usage: stage-trace.py TRACE LABEL [FROM_S] [TO_S]; buffers whose running time
lies outside FROM_S..TO_S (default 12..1e9) are left out (start-up)."""
import bisect
import sys
from collections import defaultdict

trace, label = sys.argv[1], sys.argv[2]
lo = float(sys.argv[3]) if len(sys.argv) > 3 else 12.0
hi = float(sys.argv[4]) if len(sys.argv) > 4 else 1e9
SOUND = {"in.sound", "mix", "sound.encoded", "sound.tomux"}
ORDER = ["in.video", "in.sound", "mix", "sound.encoded", "sound.tomux", "composited", "encode", "tomux", "leave"]
NAMES = {
    "in.video": "decoded picture leaves its input (per input)",
    "in.sound": "decoded sound leaves its input, by its end (per input)",
    "mix": "mix makes a block, by its end (per chain)",
    "sound.encoded": "encoded block at the chain's tee, by its end (per chain)",
    "sound.tomux": "block into the bus's muxer, by its end (per bus)",
    "composited": "compositor out (per bus)",
    "encode": "into the encoder (per bus)",
    "tomux": "encoder out, into the muxer (per bus)",
    "leave": "muxer out, into srtsink (per bus)",
}

times = defaultdict(lambda: defaultdict(dict))  # stage -> where -> running time -> (now, duration)
with open(trace) as f:
    for line in f:
        p = line.split()
        if len(p) != 5:
            continue
        stage, where, rt, now, dur = p[0], p[1], int(p[2]), int(p[3]), int(p[4])
        if not lo <= rt / 1e9 <= hi:
            continue
        # The first time a buffer of that running time passed (a tee's branches pass one buffer once each).
        times[stage][where].setdefault(rt, (now, dur))


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))] if v else float("nan")


def row(name, per_where):
    pooled = [x for xs in per_where.values() for x in xs]
    if not pooled:
        return
    p50s = [pct(xs, .5) for xs in per_where.values() if xs]
    p95s = [pct(xs, .95) for xs in per_where.values() if xs]
    spread = lambda xs: f"{min(xs):.1f}" if len(xs) == 1 else f"{min(xs):.1f}–{max(xs):.1f}"
    print(f"| {name} | {len(per_where)} | {len(pooled)} | {pct(pooled, .5):.1f} / {pct(pooled, .95):.1f} | {spread(p50s)} | {spread(p95s)} |")


print(f"Stages inside the worker, {label} (ms after the running time; running time {lo:g}–{hi:g} s):")
print()
print("| Stage | Of | Buffers | p50 / p95 pooled | p50 per bus/input/chain | p95 per bus/input/chain |")
print("|---|---|---|---|---|---|")
for stage in ORDER:
    per_where = {w: [(now - rt - (dur if stage in SOUND else 0)) / 1e6 for rt, (now, dur) in bt.items()]
                 for w, bt in times[stage].items()}
    row(NAMES[stage], per_where)

# Per picture of each bus: the steps between its stages, and the muxer's wait for the block that holds its time.
steps = [("composited", "encode"), ("encode", "tomux"), ("tomux", "leave")]
per_step = defaultdict(dict)
for a, b in steps:
    for w, at in times[a].items():
        bt = times[b].get(w, {})
        per_step[f"{a} → {b}"][w] = [(bt[rt][0] - now) / 1e6 for rt, (now, _) in at.items() if rt in bt]
waits, after = {}, {}
for w, pictures in times["tomux"].items():
    blocks = sorted(times["sound.tomux"].get(w, {}).items())
    starts = [s for s, _ in blocks]
    waits[w], after[w] = [], []
    for rt, (now, _) in pictures.items():
        i = bisect.bisect_right(starts, rt) - 1
        if i < 0:
            continue
        start, (bnow, dur) = blocks[i]
        if not start <= rt < start + dur:
            continue
        waits[w].append(max(0.0, (bnow - now) / 1e6))
        if rt in times["leave"].get(w, {}):
            after[w].append((times["leave"][w][rt][0] - max(now, bnow)) / 1e6)
print()
print("| Per picture | Of | Pictures | p50 / p95 pooled | p50 per bus | p95 per bus |")
print("|---|---|---|---|---|---|")
for name, per_where in per_step.items():
    row(name, per_where)
row("muxer waits for the block holding its time (0 when it came first)", waits)
row("muxer out after both picture and block were in", after)

# Buses whose encodes start together (within 12 ms of the first: the same input pictures arrived) queue for the cores:
# each group ranked by when its encodes finished.
starts = sorted((at[rt][0], times["tomux"][w][rt][0]) for w, at in times["encode"].items() for rt in at if rt in times["tomux"].get(w, {}))
groups, current = [], []
for s, o in starts:
    if current and s - current[0][0] > 12e6:
        groups.append(current)
        current = []
    current.append((s, o))
if current:
    groups.append(current)
by_rank = defaultdict(list)
for g in groups:
    for i, (s, o) in enumerate(sorted(g, key=lambda e: e[1])):
        by_rank[i].append((o - s) / 1e6)
if len(times["encode"]) > 1:
    print()
    print("Encodes that started together (within 12 ms), by the order they finished: " +
          " · ".join(f"{pct(v, .5):.1f}/{pct(v, .95):.1f}" for _, v in sorted(by_rank.items()) if len(v) >= 20) + " ms (p50/p95)")

# Per output frame: a frame goes out once the last of its pictures is in (each input's first picture within half a frame
# of the frame's running time, as FramePicker takes them), so how far apart its pictures left their decoders is a wait
# the timing model sets, and what the compositor took after the last one is the wait for a CPU. Counts frames for which
# every input traced had a picture: latency.sh's grids show every input on every bus.
inputs = {w: sorted(bt.items()) for w, bt in times["in.video"].items()}
keys = {w: [rt for rt, _ in v] for w, v in inputs.items()}
spread, after_last = {}, {}
for w, frames in times["composited"].items():
    rts = sorted(frames)
    if len(rts) < 2 or not inputs:
        continue
    half = pct([b - a for a, b in zip(rts, rts[1:])], .5) / 2
    spread[w], after_last[w] = [], []
    for rt in rts:
        left = []
        for k, v in inputs.items():
            i = bisect.bisect_left(keys[k], rt - half)
            if i < len(v) and v[i][0] < rt + half:
                left.append(v[i][1][0])
        if len(left) == len(inputs):
            spread[w].append((max(left) - min(left)) / 1e6)
            after_last[w].append((frames[rt][0] - max(left)) / 1e6)
if any(spread.values()):
    print()
    print("| Per output frame | Of | Frames | p50 / p95 pooled | p50 per bus | p95 per bus |")
    print("|---|---|---|---|---|---|")
    row("its pictures: the last left its decoder after the first", spread)
    row("compositor out after the last of its pictures left its decoder", after_last)
