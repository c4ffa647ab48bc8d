// Reproduces the bus stall: N threads post on one GstBus (GStreamer 1.22), per post the CPU time spent inside
// gst_bus_post. Mode q: messages enter the bus's queue (a reader thread pops them); mode d: a sync handler drops them.
// Build: cc -O2 -o /tmp/bus-post-spin bench/bus-post-spin.c -l:libgstreamer-1.0.so.0 -lpthread (no headers needed)
// Run:   /tmp/bus-post-spin q|d THREADS POSTS_PER_THREAD [GIVE_UP_S]; under a quota, see bench/results/2026-12-04-0545-vm-bus-messages.md
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
typedef void *ptr;
extern void gst_init(int *, char ***);
extern ptr gst_bus_new(void);
extern int gst_bus_post(ptr bus, ptr msg);
extern ptr gst_message_new_application(ptr src, ptr structure);
extern ptr gst_structure_new_empty(const char *name);
extern ptr gst_bus_timed_pop(ptr bus, unsigned long long timeout);
extern void gst_mini_object_unref(ptr);
extern void gst_bus_set_sync_handler(ptr bus, int (*f)(ptr, ptr, ptr), ptr data, void (*notify)(ptr));
static ptr bus; static int posts, stop; static char mode; static long done_posts;
static int drop(ptr b, ptr m, ptr d) { gst_mini_object_unref(m); return 0; }
static long long ns(clockid_t c) { struct timespec t; clock_gettime(c, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static void *reader(void *a) { while (!stop) { ptr m = gst_bus_timed_pop(bus, 100000000ULL); if (m) gst_mini_object_unref(m); } return 0; }
typedef struct { long long max_cpu, sum_cpu, over_100us, max_wall; } stats;
static void *poster(void *a) {
  stats *s = a;
  for (int i = 0; i < posts; i++) {
    ptr m = gst_message_new_application(0, gst_structure_new_empty("x"));
    long long c0 = ns(CLOCK_THREAD_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC);
    gst_bus_post(bus, m);
    __atomic_add_fetch(&done_posts, 1, __ATOMIC_RELAXED);
    long long c = ns(CLOCK_THREAD_CPUTIME_ID) - c0, w = ns(CLOCK_MONOTONIC) - w0;
    s->sum_cpu += c; if (c > s->max_cpu) s->max_cpu = c; if (c > 100000) s->over_100us++; if (w > s->max_wall) s->max_wall = w;
  }
  return 0;
}
int main(int argc, char **argv) {
  mode = argv[1][0]; int n = atoi(argv[2]); posts = atoi(argv[3]);
  gst_init(0, 0); bus = gst_bus_new();
  if (mode == 'd') gst_bus_set_sync_handler(bus, drop, 0, 0);
  pthread_t r, t[64]; stats s[64]; memset(s, 0, sizeof s);
  pthread_create(&r, 0, reader, 0);
  long long w0 = ns(CLOCK_MONOTONIC);
  for (int i = 0; i < n; i++) pthread_create(&t[i], 0, poster, &s[i]);
  int limit = argc > 4 ? atoi(argv[4]) : 60;
  for (int sec = 1; ; sec++) {
    sleep(1);
    long d = __atomic_load_n(&done_posts, __ATOMIC_RELAXED);
    if (d >= (long)n * posts) break;
    if (sec % 5 == 0) printf("  %d s: %ld of %ld posts done\n", sec, d, (long)n * posts), fflush(stdout);
    if (sec >= limit) { printf("mode %c threads %d: %ld of %ld posts done after %d s; giving up\n", mode, n, d, (long)n * posts, sec); fflush(stdout); _exit(2); }
  }
  stats all = {0};
  for (int i = 0; i < n; i++) { pthread_join(t[i], 0); all.sum_cpu += s[i].sum_cpu; all.over_100us += s[i].over_100us;
    if (s[i].max_cpu > all.max_cpu) all.max_cpu = s[i].max_cpu; if (s[i].max_wall > all.max_wall) all.max_wall = s[i].max_wall; }
  stop = 1; pthread_join(r, 0);
  printf("mode %c threads %d posts %d: %.2f s wall; in gst_bus_post: CPU %.3f s total, max %.2f ms per post, %lld posts over 0.1 ms CPU; max wall %.1f ms\n",
    mode, n, n * posts, (ns(CLOCK_MONOTONIC) - w0) / 1e9, all.sum_cpu / 1e9, all.max_cpu / 1e6, all.over_100us, all.max_wall / 1e6);
  return 0;
}
