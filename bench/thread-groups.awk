# Groups the per-thread CPU of `bench/compare.sh --profile` (its t0/t1 snapshots) the same way for the worker and the
# hand gst-launch graph, so the two can be put side by side: awk -v w=SECONDS -f bench/thread-groups.awk DIR/t0 DIR/t1
# (w = PROFILE_S). Prints per group: % of one core, runs a second (schedstat's count of times a thread was put on a
# CPU: wake-ups and preemptions) and CPU microseconds per run. Table built with it: bench/results/2026-12-01-0453-vm-cost-threads-8bus.md.
NR == FNR { start[$1] = $2; runs0[$1] = $5; next }
{ d = $2 - ($1 in start ? start[$1] : 0); nr = $5 - ($1 in runs0 ? runs0[$1] : 0); n = $3; g = "other";
  # worker
  if (n ~ /encque|^bus\.program\.enc$/) g = "x264 (+ encoder queue)";
  else if (n ~ /compos|^bus\.program\.com/) g = "compositor";
  else if (n ~ /^src\./) g = "receive+demux+decode (appsrc threads)";
  else if (n ~ /^srt:/) g = "input SRT readers (own libsrt)";
  else if (n ~ /^scale\./) g = "scalers";
  else if (n ~ /audiom|^bus\.program\.(aud|sou)/) g = "audio mix+limiter+meter+Opus";
  else if (n ~ /silenc|^bus\.program\.sil/) g = "audio live silence";
  else if (n ~ /^abox\./) g = "audio input queues";
  else if (n ~ /mux/) g = "muxers";
  else if (n ~ /^out\./) g = "output queues";
  else if (n ~ /^SRT:/) g = "libsrt threads";
  else if (n ~ /^box\./) g = "box queues";
  else if (n ~ /bgsrc|^bus\.program\.bgs/) g = "background sources";
  else if (n ~ /^veil\./) g = "fade veils";
  else if (n ~ /thumb|^bus\.program\.thu/) g = "thumbnails";
  else if (n ~ /^pool-/) g = "GLib thread pool";
  else if (n ~ /^\.NET|^control:|^bus:|^dotnet$/) g = ".NET (runtime, control, bus reader)";
  # gst-launch: mN = compositor + x264 (x264's own threads inherit the name), xN = mpegtsmux
  else if (n ~ /^m[0-9]+:src/) g = "compositor + x264 (gst: one thread name)";
  else if (n ~ /^x[0-9]+:src/) g = "muxers";
  else if (n ~ /^srtsrc/) g = "receive+demux (srtsrc threads)";
  else if (n ~ /^amix/) g = "audio mix (one)";
  else if (n ~ /^queue/) { q = substr(n, 6) + 0;
    if (q < 12) { r = q % 3; g = (r == 0) ? "decode video (queue after parse)" : (r == 1) ? "scalers" : "decode audio"; }
    else if (q % 5 == 1) g = "audio Opus per bus (queue+convert+opusenc)"; else g = "box queues"; }
  s[g] += d; runs[g] += nr; all += d; allruns += nr }
END { printf "%% core  runs/s  us/run  group\n"
      for (k in s) printf "%7.2f %7.0f %7.1f  %s\n", 100 * s[k] / 1e9 / w, runs[k] / w, runs[k] ? s[k] / runs[k] / 1e3 : 0, k | "sort -rn"; close("sort -rn")
      printf "%7.2f %7.0f %7.1f  all threads\n", 100 * all / 1e9 / w, allruns / w, allruns ? all / allruns / 1e3 : 0 }
