// When each picture left a sender through libsrt, for bench/srt-hops.py: preloaded into a process that sends
// with GStreamer's srtsink (the worker's outputs, the Testbed's feeds; srt_sendmsg2) or with ffmpeg's srt:// protocol
// (feeds sent from files; srt_sendmsg), it wraps both and writes "send STREAMID PTS90K UNIX_US" for every video PES
// start handed to libsrt, to $SRT_SEND_TRACE.PID. libsrt's srt_sendmsg does not call srt_sendmsg2 through the PLT,
// so no picture is written twice.
// With the stand-in's "pic" lines (when the hub's receiver let the same picture go) that is the sender → hub hop,
// the hub's time base for the connection included. Only symbols resolved through the global scope are wrapped:
// srtsink's, not a .NET P/Invoke's (dlsym on libsrt's own handle), so the worker's inputs are not traced.
//   gcc -O2 -shared -fPIC -o /tmp/srt-send-trace.so bench/srt-send-trace.c -ldl -lpthread
//   LD_PRELOAD=/tmp/srt-send-trace.so SRT_SEND_TRACE=/tmp/x CMD
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int SRTSOCKET;
enum { SRTO_STREAMID = 46, SLOTS = 64, TS = 188 };

static int (*real_sendmsg2)(SRTSOCKET, const char *, int, void *);
static int (*real_sendmsg)(SRTSOCKET, const char *, int, int, int);
static int (*real_getsockflag)(SRTSOCKET, int, void *, int *);
static FILE *out;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { SRTSOCKET sock; char id[512]; } slots[SLOTS];

static void init(void) {
  real_sendmsg2 = dlsym(RTLD_NEXT, "srt_sendmsg2");
  real_sendmsg = dlsym(RTLD_NEXT, "srt_sendmsg");
  real_getsockflag = dlsym(RTLD_NEXT, "srt_getsockflag");
  // GStreamer loads its plugins, and with them libsrt, outside the global scope that RTLD_NEXT searches.
  static const char *const libs[] = {"libsrt-gnutls.so.1.5", "libsrt-openssl.so.1.5", "libsrt.so.1.5"};
  for (unsigned i = 0; !real_sendmsg2 && i < sizeof libs / sizeof *libs; i++) {
    void *h = dlopen(libs[i], RTLD_LAZY | RTLD_NOLOAD);
    if (!h) continue;
    real_sendmsg2 = dlsym(h, "srt_sendmsg2");
    real_sendmsg = dlsym(h, "srt_sendmsg");
    real_getsockflag = dlsym(h, "srt_getsockflag");
  }
  if (!real_sendmsg2) {
    fprintf(stderr, "srt-send-trace: no libsrt loaded\n");
    abort();
  }
  const char *base = getenv("SRT_SEND_TRACE");
  if (!base) return;
  char path[4096];
  snprintf(path, sizeof path, "%s.%d", base, (int)getpid());
  out = fopen(path, "w");
  if (out) setvbuf(out, NULL, _IOLBF, 0);
}

// The socket's streamid, looked up once per socket (a socket id is not reused within a run).
static const char *stream_of(SRTSOCKET s) {
  unsigned h = (unsigned)s % SLOTS;
  for (unsigned i = 0; i < SLOTS; i++) {
    unsigned k = (h + i) % SLOTS;
    if (slots[k].sock == s) return slots[k].id;
    if (slots[k].sock == 0) {
      int len = sizeof slots[k].id - 1;
      if (!real_getsockflag || real_getsockflag(s, SRTO_STREAMID, slots[k].id, &len) != 0) len = 0;
      slots[k].id[len] = 0;
      for (char *c = slots[k].id; *c; c++) if (*c == ' ' || *c == '\n') *c = '_';
      if (!len) strcpy(slots[k].id, "-");
      slots[k].sock = s;
      return slots[k].id;
    }
  }
  return "-";
}

static void trace(SRTSOCKET s, const char *buf, int len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init);
  if (out && buf) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long us = (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    for (int o = 0; o + TS <= len; o += TS) {
      const unsigned char *p = (const unsigned char *)buf + o;
      if (p[0] != 0x47 || !(p[1] & 0x40) || !(p[3] & 0x10)) continue;
      int st = 4 + ((p[3] & 0x20) ? 1 + p[4] : 0);
      if (st + 14 > TS || p[st] || p[st + 1] || p[st + 2] != 1 || p[st + 3] < 0xE0 || p[st + 3] > 0xEF || !(p[st + 7] & 0x80)) continue;
      const unsigned char *t = p + st + 9;
      uint64_t pts = ((uint64_t)((t[0] >> 1) & 7) << 30) | ((uint64_t)t[1] << 22) | ((uint64_t)(t[2] >> 1) << 15) | ((uint64_t)t[3] << 7) | (t[4] >> 1);
      pthread_mutex_lock(&lock);
      fprintf(out, "send %s %llu %lld\n", stream_of(s), (unsigned long long)pts, us);
      pthread_mutex_unlock(&lock);
    }
  }
}

int srt_sendmsg2(SRTSOCKET s, const char *buf, int len, void *mctrl) {
  trace(s, buf, len);
  return real_sendmsg2(s, buf, len, mctrl);
}

int srt_sendmsg(SRTSOCKET s, const char *buf, int len, int ttl, int inorder) {
  trace(s, buf, len);
  return real_sendmsg(s, buf, len, ttl, inorder);
}
