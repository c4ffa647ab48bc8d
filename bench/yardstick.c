/* The bench machine's speed while a benchmark runs (bench/compare.sh): every PERIOD ms (default 1000) the same small
   piece of work, a floating-point dependency chain and a 3x3 filter over a 640x360 picture, timed in this thread's own
   CPU time, so time spent waiting for a CPU does not count. Prints "unix-time microseconds" per piece. On the 2-core
   bench VM it took up to 9 % longer in the runs where the mixers cost more (bench/results/2026-12-02-0100-vm-cost-variance.md):
   the virtual CPUs deliver less at times (slower, or taken by the host and charged to whatever ran: the VM reports no
   steal time), whatever runs on them. Build: cc -O2 -o yardstick yardstick.c */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double cpu_us(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }

int main(int argc, char **argv)
{
    int period = argc > 1 ? atoi(argv[1]) : 1000;
    enum { W = 640, H = 360 };
    static unsigned char src[W * H], dst[W * H];
    for (int i = 0; i < W * H; i++) src[i] = (unsigned char)(i * 7);
    volatile double x = 1;
    for (;;) {
        double t0 = cpu_us();
        for (long i = 0; i < 1000000; i++) x = x * 1.0000001 + 0.5;
        for (int r = 0; r < 5; r++)
            for (int y = 1; y < H - 1; y++)
                for (int c = 1; c < W - 1; c++) {
                    int p = y * W + c;
                    dst[p] = (unsigned char)((src[p - 1] + src[p + 1] + src[p - W] + src[p + W] + 4 * src[p] + 4) >> 3);
                    src[p] ^= dst[p] & 1;
                }
        double t1 = cpu_us();
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        if (printf("%.3f %.0f\n", now.tv_sec + now.tv_nsec / 1e9, t1 - t0) < 0 || fflush(stdout) != 0) return 0;
        usleep(period * 1000);
    }
}
