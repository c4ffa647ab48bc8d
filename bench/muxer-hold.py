#!/usr/bin/env python3
"""How long each bus's pictures waited in its muxer, from the worker's stage trace (MIXERWORKER_STAGE_TRACE): per bus,
leave - tomux (p50/p95/max), how many waited over two frame intervals and left with the next sound block let into the
muxer, and how many of the chain's blocks never reached the muxer (dropped as late). Then what the wait would be were
every block's end told to the muxer as the chain let it go (sound.encoded), dropped or not. The wait is the pipeline's
running time (the trace's "now"), FROM_S..TO_S bounds it (default: all).
Usage: muxer-hold.py STAGES_FILE [FROM_S TO_S]
  MIXERWORKER_STAGE_TRACE=/tmp/st dotnet test tests/MixerWorker.Tests -c Release --no-build --filter "FullyQualifiedName~StarvationTests"
  bench/muxer-hold.py /tmp/st.<worker pid>   (one file per process; the worker's holds "leave" lines)"""
import sys, bisect, statistics
from collections import defaultdict
lo = float(sys.argv[2]) * 1e9 if len(sys.argv) > 2 else 0
hi = float(sys.argv[3]) * 1e9 if len(sys.argv) > 3 else 1e30
st = defaultdict(dict)
snd = defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if p[0] in ("tomux", "leave"): st[(p[1], p[0])][int(p[2])] = int(p[3])
    elif p[0] == "sound.tomux": snd[p[1]].append((int(p[2]), int(p[3]), int(p[4])))
for bus in ("program", "aux1", "aux2"):
    s = sorted(snd[bus]); ends = [a + d for a, n, d in s]
    # running max of arrival ("now") of blocks from index i on is not monotone; take the first block ending after
    holds, waited_sound, total = [], 0, 0
    gaps = []
    for rt, now_mux in sorted(st[(bus, "tomux")].items()):
        if not (lo <= now_mux <= hi): continue
        lv = st[(bus, "leave")].get(rt)
        if lv is None: continue
        total += 1
        h = (lv - now_mux) / 1e6; holds.append(h)
        i = bisect.bisect_right(ends, rt)
        if i < len(s):
            came = s[i][1]
            if h > 30 and abs(lv - came) < 5e6 and came > now_mux: waited_sound += 1
    # sound blocks missing (dropped before the muxer) within the window
    ss = [x for x in s if lo <= x[1] <= hi]
    missing = sum(max(0, round((ss[k+1][0] - ss[k][0] - ss[k][2]) / ss[k][2])) for k in range(len(ss) - 1) if ss[k][2] > 0)
    if not holds: continue
    hs = sorted(holds)
    print(f"{bus}: {total} pictures, muxer hold p50 {statistics.median(hs):.0f} p95 {hs[int(.95*(len(hs)-1))]:.0f} max {hs[-1]:.0f} ms; "
          f"{sum(1 for h in hs if h > 67)} held > 67 ms, of which left with the next sound block {waited_sound}; sound blocks missing at the muxer {missing} of {len(ss)+missing}")
# What a gap for every late-dropped block would leave: a picture could go once any block ending after it reached the
# bus's sound pad (passed or dropped), i.e. when the shared chain's encoder let that block go (sound.encoded).
enc = []
for line in open(sys.argv[1]):
    p = line.split()
    if p[0] == "sound.encoded": enc.append((int(p[2]), int(p[3]), int(p[4])))
enc.sort(); eends = [a + d for a, n, d in enc]
# the earliest arrival among blocks ending after t: suffix minimum of arrival times
suf = [0] * (len(enc) + 1); suf[-1] = 1 << 62
for k in range(len(enc) - 1, -1, -1): suf[k] = min(enc[k][1], suf[k + 1])
for bus in ("program", "aux1", "aux2"):
    now_h, gap_h = [], []
    for rt, now_mux in sorted(st[(bus, "tomux")].items()):
        if not (lo <= now_mux <= hi): continue
        lv = st[(bus, "leave")].get(rt)
        if lv is None: continue
        i = bisect.bisect_right(eends, rt)
        could = max(now_mux, suf[i]) if i < len(enc) else lv
        now_h.append((lv - now_mux) / 1e6); gap_h.append(max(0, min(lv, could) - now_mux) / 1e6)
    if not now_h: continue
    a, b = sorted(now_h), sorted(gap_h)
    q = lambda v, p: v[int(p * (len(v) - 1))]
    print(f"{bus}: hold now p50/p95/p99/max {q(a,.5):.0f}/{q(a,.95):.0f}/{q(a,.99):.0f}/{a[-1]:.0f} ms; with every block's end told {q(b,.5):.0f}/{q(b,.95):.0f}/{q(b,.99):.0f}/{b[-1]:.0f} ms")
