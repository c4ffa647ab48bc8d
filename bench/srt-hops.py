#!/usr/bin/env python3
"""Splits each stream's delay into its SRT hops, from a bench run's stand-in trace (standin --trace) and the
reader's picture arrivals (stamps --trace DIR, or its recordings: stamps --record DIR). Prints a markdown table, one row per stream read.

Usage: srt-hops.py STANDIN_TRACE READER_DIR LABEL [HOPS_OUT [HUB_HOPS_OUT]]
(HOPS_OUT: each stream's median hub → reader hop, "stream ms" a line, for stamps --equal-hops; HUB_HOPS_OUT, written
when senders were traced: the same and, for a bus, how much longer its worker → hub hop was than the shortest
publisher → hub hop, "stream ms ms")
Senders' traces (bench/srt-send-trace.c: when each picture was handed to libsrt), if any, are the files sends.* next
to STANDIN_TRACE.

Columns, per stream (a bus, or a feed read straight from the hub):
- hub → reader: reader's arrival of a picture's first packet minus the stand-in's relaying it (matched by PTS);
- behind the earliest bus: for buses, a picture's arrival less its PTS (the buses share one clock), median, less the
  smallest bus's, at the hub and at the reader: what a bus's path adds before the hub (worker, srtsink, the hop into
  the hub) and in all;
- receive buffer ms at the hub: libsrt's instantaneous timespan of the publisher's undelivered packets (latency plus
  how late the hub's time base for the connection was set);
- the hub's send buffer to the reader and the RTT; handshake: streamid check to hand-over, publisher / reader;
- with senders' traces, publisher → hub: the hub letting a picture go (its receiver's time base plus the latency) less
  the sender handing it to libsrt, per picture by PTS: for a bus the worker → hub hop, for a feed read directly its
  publisher's hop. Every such hop has the same latency on the same hub; what one has beyond the shortest is how much
  later the hub handled that connection's handshake.
"""
import glob
import os
import statistics
import sys
from collections import defaultdict

trace, reader_dir, label = sys.argv[1:4]
hops_out = sys.argv[4] if len(sys.argv) > 4 else None
hub_hops_out = sys.argv[5] if len(sys.argv) > 5 else None
medians = {}
WRAP = 1 << 33
pics = defaultdict(dict)      # path -> pts90k -> first arrival at the hub (Unix us)
stats = defaultdict(list)     # (path, role) -> [(at, rcvbuf_ms, sndbuf_ms, rtt)]
conns = defaultdict(list)     # (path, role) -> [handshake ms]
with open(trace) as f:
    for line in f:
        w = line.split()
        if not w:
            continue
        if w[0] == 'pic' and len(w) == 4:
            pics[w[1]].setdefault(int(w[2]) % WRAP, int(w[3]))
        elif w[0] == 'srt' and len(w) == 11:
            stats[(w[2], w[3])].append((int(w[1]), int(w[4]), int(w[6]), float(w[8])))
        elif w[0] == 'conn' and len(w) == 5:
            conns[(w[1], w[2])].append((int(w[4]) - int(w[3])) / 1000)


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]


def ms(x):
    return '-' if x is None else f'{x:.0f}'


def recorded_pictures(ts_path):
    """A recording's (stamps --record) video PES starts: PTS (90 kHz) -> when the piece holding its first packet arrived."""
    with open(ts_path + '.arrivals') as f:
        chunks = [tuple(map(int, line.split())) for line in f if line.strip()]
    data = open(ts_path, 'rb').read()
    found, c = {}, 0
    for o in range(0, len(data) - 187, 188):
        p = data[o:o + 188]
        if p[0] != 0x47 or not p[1] & 0x40 or not p[3] & 0x10:
            continue
        s = 4 + (1 + p[4] if p[3] & 0x20 else 0)
        if s + 14 > 188 or p[s:s + 3] != b'\x00\x00\x01' or not 0xE0 <= p[s + 3] <= 0xEF or not p[s + 7] & 0x80:
            continue
        t = p[s + 9:s + 14]
        pts = ((t[0] >> 1) & 7) << 30 | t[1] << 22 | (t[2] >> 1) << 15 | t[3] << 7 | t[4] >> 1
        while c < len(chunks) and chunks[c][0] <= o:
            c += 1
        if c < len(chunks):
            found.setdefault(pts % WRAP, chunks[c][1])
    return found


sends = defaultdict(dict)     # hub path -> pts90k -> when the sender handed the picture to libsrt (Unix us)
for name in glob.glob(os.path.join(os.path.dirname(os.path.abspath(trace)), 'sends.*')):
    with open(name) as f:
        for line in f:
            w = line.split()
            if len(w) == 4 and w[0] == 'send':
                # streamid publish:PATH[:user:pass][:query], as MediaMTX reads it
                parts = w[1].split(':')
                if len(parts) > 1:
                    sends[parts[1]].setdefault(int(w[2]) % WRAP, int(w[3]))

streams = {}
window = None
for name in sorted(os.listdir(reader_dir)):
    if name == 'window':
        window = [int(x) for x in open(os.path.join(reader_dir, name)).read().split()]
    elif name.endswith('.pictures'):
        arrivals = {}
        with open(os.path.join(reader_dir, name)) as f:
            for line in f:
                ns, us = line.split()
                arrivals.setdefault(round(int(ns) * 9 / 100000) % WRAP, int(us))
        streams[name[:-len('.pictures')]] = arrivals
    elif name.endswith('.ts') and os.path.exists(os.path.join(reader_dir, name + '.arrivals')):
        streams[name[:-len('.ts')]] = recorded_pictures(os.path.join(reader_dir, name))
if window:
    streams = {k: {p: t for p, t in v.items() if window[0] <= t <= window[1]} for k, v in streams.items()}

# Which hub path each stream is: direct-<input> reads ingest/<project>/<input>, a bus reads out/<project>/<bus>.
paths = {}
for stream in streams:
    kind, _, tail = ('ingest', None, stream[len('direct-'):]) if stream.startswith('direct-') else ('out', None, stream)
    match = [p for p in pics if p.startswith(kind + '/') and p.endswith('/' + tail)]
    paths[stream] = match[0] if match else None

firsts = [min(a.values()) for a in streams.values() if a]
start = window[0] if window else min(firsts, default=0)
buses = [s for s in streams if not s.startswith('direct-') and paths[s]]


def behind(where):
    """Per bus: median of (arrival - PTS) at `where`, less the smallest of the buses'. The buses' muxers share the
    pipeline's clock, so a picture's PTS stands for the same instant on every bus."""
    meds = {}
    for b in buses:
        table = pics[paths[b]] if where == 'hub' else streams[b]
        offs = [t / 1000 - p / 90 for p, t in table.items() if start <= t]
        meds[b] = statistics.median(offs) if offs else None
    base = min((m for m in meds.values() if m is not None), default=0)
    return {b: (None if m is None else m - base) for b, m in meds.items()}


hub_rel, reader_rel = (behind('hub'), behind('reader')) if buses else ({}, {})


def publisher_hop(path):
    """Per picture of a hub path: the hub letting it go less its sender handing it to libsrt (ms)."""
    hub, sent = pics.get(path, {}), sends.get(path, {})
    return [(hub[p] - t) / 1000 for p, t in sent.items() if p in hub and start <= hub[p]]


pub_hops = {stream: publisher_hop(paths[stream]) for stream in streams if paths[stream]}
pub_p50 = {stream: statistics.median(h) for stream, h in pub_hops.items() if h}
shortest_pub = min(pub_p50.values(), default=None)
print(f'SRT hops, {label} (ms; buffer figures are medians over the run from 5 s after the first picture read):')
print()
print('| Stream | Pictures matched | Hub → reader p50 / p95 | Behind the earliest bus at the hub / at the reader | '
      'Receive buffer at the hub (publisher) p50 / max | Hub send buffer to reader p50 / max | RTT hub ↔ reader p50 | '
      'Handshake publisher / reader | Publisher → hub p50 / p95 (beyond the shortest) |')
print('|---|---|---|---|---|---|---|---|---|')
def pub_cell(stream):
    h = pub_hops.get(stream)
    if not h:
        return '-'
    return f'{ms(pct(h, 0.5))} / {ms(pct(h, 0.95))} (+{pub_p50[stream] - shortest_pub:.0f})'


for stream, arrivals in streams.items():
    path = paths[stream]
    if path is None:
        print(f'| {stream} | no hub trace ||||||||')
        continue
    hub = pics[path]
    hop = [(arrivals[p] - hub[p]) / 1000 for p in arrivals if p in hub]
    if hop:
        medians[stream] = statistics.median(hop)
    pub = [s for s in stats[(path, 'publish')] if s[0] >= start + 5_000_000] or stats[(path, 'publish')]
    rd = [s for s in stats[(path, 'read')] if s[0] >= start + 5_000_000] or stats[(path, 'read')]
    rel = f'{ms(hub_rel.get(stream))} / {ms(reader_rel.get(stream))}' if stream in hub_rel else '-'
    hs = ' · '.join(ms(x) for x in conns[(path, 'publish')]) + ' / ' + ' · '.join(ms(x) for x in conns[(path, 'read')])
    print(f'| {stream} | {len(hop)} | {ms(pct(hop, 0.5))} / {ms(pct(hop, 0.95))} | {rel} '
          f'| {ms(pct([s[1] for s in pub], 0.5))} / {ms(max((s[1] for s in pub), default=None))} '
          f'| {ms(pct([s[2] for s in rd], 0.5))} / {ms(max((s[2] for s in rd), default=None))} '
          f'| {ms(pct([s[3] for s in rd], 0.5))} | {hs} '
          f'| {pub_cell(stream)} |')
print()
if shortest_pub is not None:
    print(f'Shortest publisher → hub hop p50: {shortest_pub:.0f} ms (SRT latency {os.environ.get("SRT__LATENCYMS", "?")} ms).')
    print()
if hops_out:
    with open(hops_out, 'w') as f:
        for stream, m in medians.items():
            f.write(f'{stream} {m:.1f}\n')
if hub_hops_out and pub_p50:
    with open(hub_hops_out, 'w') as f:
        for stream, m in medians.items():
            f.write(f'{stream} {m:.1f} {pub_p50[stream] - shortest_pub if stream in buses and stream in pub_p50 else 0:.1f}\n')
