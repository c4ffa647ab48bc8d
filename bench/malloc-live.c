// Which allocations hold a process's malloc'ed memory, for any allocator behind malloc (the codecs' aligned ones too,
// which heaptrack missed): an LD_PRELOAD library over malloc, calloc, realloc, free, memalign, posix_memalign and
// aligned_alloc. It keeps every live block of at least MT_MIN bytes (default 32768) with its call stack, and
// MT_DUMP_AFTER seconds (default 20) after the process's first allocation writes MT_OUT.PID (default /tmp/mtrack.PID):
// the live blocks summed by call stack, largest first, glibc's mallinfo2 (in use, free but held, mmapped) and every
// block's address and size (to match them with /proc/PID/smaps). Until then it writes MT_OUT.PID.timeline every 250 ms
// (VmRSS, malloc's arena, in use, free, mmapped, free chunks); MT_TRIM_AT=S calls malloc_trim(0) at S seconds and
// MT_TRIM_EVERY=S every S seconds, with VmRSS before and after. Its table costs ~35 MB of RSS, the same in every
// process measured: compare processes tracked alike, not with untracked figures. See bench/README.md.
//   gcc -O2 -shared -fPIC -o /tmp/malloc-live.so bench/malloc-live.c -lpthread -ldl
//   LD_PRELOAD=/tmp/malloc-live.so MT_OUT=/tmp/ml CMD ...
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include <errno.h>
#include <malloc.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

#define DEPTH 14
#define CAP (1 << 18)
typedef struct { void *p; size_t sz; int n; void *bt[DEPTH]; } entry;
static entry *tab;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static size_t min_size = 32768;
static int ready, started;
static __thread int inhook;
static long live_bytes, live_n;

static size_t h(void *p) { uintptr_t x = (uintptr_t)p; x ^= x >> 17; x *= 0x9E3779B97F4A7C15ull; return (x >> 20) & (CAP - 1); }

static void dump(void);
static long vmrss(void) {
  FILE *f = fopen("/proc/self/status", "r"); char line[256]; long v = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
  fclose(f); return v;
}
static void *dumper(void *arg) {
  (void)arg;
  inhook = 1;
  const char *s = getenv("MT_DUMP_AFTER");
  int secs = s ? atoi(s) : 20;
  const char *t = getenv("MT_TRIM_AT"); int trim_at = t ? atoi(t) : -1;
  const char *te = getenv("MT_TRIM_EVERY"); int trim_every = te ? atoi(te) : 0;
  char fn[256]; const char *o = getenv("MT_OUT"); snprintf(fn, sizeof fn, "%s.%d.timeline", o ? o : "/tmp/mtrack", getpid());
  FILE *f = fopen(fn, "w");
  for (int i = 0; i < secs * 4; i++) {
    struct mallinfo2 mi = mallinfo2();
    if (f) { fprintf(f, "%.2f rss %ld arena %zu inuse %zu free %zu mmapped %zu nfree %zu\n", i / 4.0, vmrss(), mi.arena, mi.uordblks, mi.fordblks, mi.hblkhd, mi.ordblks); fflush(f); }
    if ((trim_at >= 0 && i == trim_at * 4) || (trim_every > 0 && i > 0 && i % (trim_every * 4) == 0)) {
      long before = vmrss(); malloc_trim(0); long after = vmrss();
      if (f) { fprintf(f, "TRIM at %.2f: rss %ld -> %ld kB\n", i / 4.0, before, after); fflush(f); }
    }
    usleep(250000);
  }
  if (f) fclose(f);
  inhook = 0;
  dump();
  return NULL;
}

__attribute__((constructor)) static void init(void) {
  inhook = 1;
  void *b[4]; backtrace(b, 4);
  tab = __libc_calloc(CAP, sizeof(entry));
  const char *m = getenv("MT_MIN"); if (m) min_size = strtoul(m, 0, 10);
  ready = 1;
  inhook = 0;
}

static void add(void *p, size_t sz) {
  if (!ready || !p || sz < min_size || inhook) return;
  inhook = 1;
  entry e; e.p = p; e.sz = sz; e.n = backtrace(e.bt, DEPTH);
  pthread_mutex_lock(&mu);
  size_t i = h(p);
  while (tab[i].p) i = (i + 1) & (CAP - 1);
  tab[i] = e; live_bytes += sz; live_n++;
  pthread_mutex_unlock(&mu);
  inhook = 0;
}
static void start_dumper(void) {
  pthread_mutex_lock(&mu);
  int st = started; started = 1;
  pthread_mutex_unlock(&mu);
  if (!st) { pthread_t t; pthread_attr_t a; pthread_attr_init(&a); pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED); pthread_create(&t, &a, dumper, NULL); }
  inhook = 0;
}

static void del(void *p) {
  if (!ready || !p) return;
  pthread_mutex_lock(&mu);
  size_t i = h(p);
  while (tab[i].p) {
    if (tab[i].p == p) {
      live_bytes -= tab[i].sz; live_n--;
      // backward-shift deletion for linear probing
      size_t j = i;
      for (;;) {
        tab[i].p = 0;
        for (;;) {
          j = (j + 1) & (CAP - 1);
          if (!tab[j].p) { pthread_mutex_unlock(&mu); return; }
          size_t k = h(tab[j].p);
          if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) continue;
          break;
        }
        tab[i] = tab[j]; i = j;
      }
    }
    i = (i + 1) & (CAP - 1);
  }
  pthread_mutex_unlock(&mu);
}

void *malloc(size_t n) { void *p = __libc_malloc(n); if (!started && ready && !inhook) { inhook = 1; start_dumper(); inhook = 0; } add(p, n); return p; }
void *calloc(size_t a, size_t b) { void *p = __libc_calloc(a, b); add(p, a * b); return p; }
void *realloc(void *o, size_t n) { if (o) del(o); void *p = __libc_realloc(o, n); add(p, n); return p; }
void free(void *p) { del(p); __libc_free(p); }
void *memalign(size_t al, size_t n) { void *p = __libc_memalign(al, n); add(p, n); return p; }
void *aligned_alloc(size_t al, size_t n) { void *p = __libc_memalign(al, n); add(p, n); return p; }
int posix_memalign(void **r, size_t al, size_t n) { void *p = __libc_memalign(al, n); if (!p) return ENOMEM; *r = p; add(p, n); return 0; }

typedef struct { int n; void *bt[DEPTH]; size_t bytes; long count; } agg;
static int cmpagg(const void *a, const void *b) { const agg *x = a, *y = b; return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0; }

static void dump(void) {
  inhook = 1;
  char fn[256]; const char *o = getenv("MT_OUT"); snprintf(fn, sizeof fn, "%s.%d", o ? o : "/tmp/mtrack", getpid());
  FILE *f = fopen(fn, "w"); if (!f) return;
  pthread_mutex_lock(&mu);
  agg *as = __libc_calloc(CAP, sizeof(agg)); int na = 0;
  for (size_t i = 0; i < CAP; i++) {
    if (!tab[i].p) continue;
    int k; int n = tab[i].n;
    for (k = 0; k < na; k++) if (as[k].n == n && !memcmp(as[k].bt, tab[i].bt, n * sizeof(void *))) break;
    if (k == na) { as[na].n = n; memcpy(as[na].bt, tab[i].bt, n * sizeof(void *)); na++; }
    as[k].bytes += tab[i].sz; as[k].count++;
  }
  long lb = live_bytes, ln = live_n;
  pthread_mutex_unlock(&mu);
  qsort(as, na, sizeof(agg), cmpagg);
  fprintf(f, "live tracked: %ld bytes in %ld blocks (>= %zu bytes), %d stacks\n", lb, ln, min_size, na);
  for (int k = 0; k < na; k++) {
    fprintf(f, "\n%.2f MB in %ld blocks\n", as[k].bytes / 1048576.0, as[k].count);
    // Frames 0 and 1 are this library's own (add and the malloc it wraps).
    for (int j = 2; j < as[k].n; j++) {
      Dl_info d; void *a = as[k].bt[j];
      if (dladdr(a, &d) && d.dli_fname) {
        const char *base = strrchr(d.dli_fname, '/'); base = base ? base + 1 : d.dli_fname;
        fprintf(f, "  %s %s+0x%lx\n", base, d.dli_sname ? d.dli_sname : "?", (unsigned long)((char *)a - (char *)(d.dli_saddr ? d.dli_saddr : d.dli_fbase)));
      } else fprintf(f, "  %p\n", a);
    }
  }
  struct mallinfo2 mi = mallinfo2();
  fprintf(f, "\nMALLINFO arena %zu ordblks %zu hblks %zu hblkhd %zu uordblks %zu fordblks %zu keepcost %zu\n", mi.arena, mi.ordblks, mi.hblks, mi.hblkhd, mi.uordblks, mi.fordblks, mi.keepcost);
  size_t nb = 0; void **bp = __libc_calloc(CAP, sizeof(void *)); size_t *bs = __libc_calloc(CAP, sizeof(size_t));
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < CAP; i++) if (tab[i].p) { bp[nb] = tab[i].p; bs[nb++] = tab[i].sz; }
  pthread_mutex_unlock(&mu);
  for (size_t i = 0; i < nb; i++) fprintf(f, "BLK %lx %zu\n", (unsigned long)bp[i], bs[i]);
  malloc_info(0, f);
  fclose(f);
  inhook = 0;
}
