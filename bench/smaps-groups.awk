# Where a process's resident memory is, by mapping: awk -f bench/smaps-groups.awk /proc/PID/smaps (or a copy taken at
# its peak). Prints Rss and Pss in MB per group, largest first: the same groups for the worker, a gst-launch graph and
# ffmpeg, so they can be put side by side. A glibc malloc arena is a 64 MB-aligned anonymous mapping, read-write up to
# what it has used and inaccessible for the rest of its 64 MB; the .NET GC's heap is the run of adjacent anonymous
# mappings, arenas excepted, that holds its reservation (tens of GB, inaccessible but for the committed regions and
# its tables); a thread's stack is an anonymous rw mapping right after a 4 kB inaccessible guard page.
function group(i,   f) {
  f = path[i]
  if (f ~ /^\/?memfd:doublemapper/) return ".NET JIT code (double-mapped)"
  if (f ~ /\/dotnet\/shared\/.*\.so$/ || f ~ /\/dotnet\/host\//) return ".NET runtime native (coreclr, clrjit, System.*.so)"
  if (f ~ /\/dotnet\/shared\/.*\.dll$/) return ".NET framework assemblies"
  if (f ~ /\.dll$/) return "app assemblies (worker, packages)"
  if (f ~ /\/MixerWorker$/) return "the worker's NativeAOT executable (its code, the runtime's, the framework's)"
  if (f ~ /\/gstreamer-1\.0\//) return "GStreamer plugins"
  if (f ~ /libgst/) return "GStreamer libraries"
  if (f ~ /libav|libsw|libpostproc/) return "libav* (ffmpeg's libraries)"
  if (f ~ /libx264|libx265|libopus|libsrt/) return "codecs, libsrt"
  if (f ~ /^\//) return "other files (libc, glib, fonts, ...)"
  if (f == "[heap]") return "malloc main heap ([heap])"
  if (f == "[stack]") return "thread stacks"
  if (f ~ /^\[/) return "other kernel mappings"
  if (arena[i]) return "malloc arenas (other threads')"
  if (big[run[i]]) return ".NET GC heap (regions, tables)"
  if (stack[i]) return "thread stacks"
  return "other anonymous (malloc's large blocks, .NET loader heaps, ...)"
}
$1 ~ /^[0-9a-f]+-[0-9a-f]+$/ {
  m++; split($1, a, "-"); lo[m] = a[1]; hi[m] = a[2]; perm[m] = $2; path[m] = (NF >= 6) ? $6 : ""; next
}
$1 == "Size:" { kb[m] = $2 }
$1 == "Rss:" { rss[m] = $2 }
$1 == "Pss:" { pss[m] = $2 }
END {
  for (i = 1; i <= m; i++) {
    anon = (path[i] == "")
    if (anon && perm[i] ~ /^rw/ && lo[i] ~ /[048c]000000$/ && (kb[i] == 65536 || (i < m && path[i + 1] == "" && perm[i + 1] ~ /^---/ && lo[i + 1] == hi[i] && kb[i] + kb[i + 1] == 65536))) {
      arena[i] = 1; if (kb[i] < 65536) arena[i + 1] = 1
    }
  }
  for (i = 1; i <= m; i++) {
    anon = (path[i] == "") && !arena[i]
    run[i] = (anon && i > 1 && path[i - 1] == "" && !arena[i - 1] && lo[i] == hi[i - 1]) ? run[i - 1] : i
    if (anon && kb[i] > 16 * 1024 * 1024) big[run[i]] = 1
    if (anon && perm[i] ~ /^rw/ && i > 1 && path[i - 1] == "" && perm[i - 1] ~ /^---/ && kb[i - 1] == 4 && lo[i] == hi[i - 1]) stack[i] = 1
  }
  for (i = 1; i <= m; i++) { g = group(i); r[g] += rss[i]; p[g] += pss[i]; n[g]++; all_r += rss[i]; all_p += pss[i] }
  for (g in r) printf "%8.1f %8.1f %5d  %s\n", r[g] / 1024, p[g] / 1024, n[g], g | "sort -rn"
  close("sort -rn")
  printf "%8.1f %8.1f        all (Rss MB, Pss MB, mappings)\n", all_r / 1024, all_p / 1024
}
