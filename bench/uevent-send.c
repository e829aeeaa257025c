#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
// bench/monitor.ts's kernel uevent source: writes "change" to /sys/devices/virtual/mem/null/uevent
// N times (each write makes the kernel broadcast one uevent), paced at RATE/s (0 = unpaced), and
// prints "N RATE_ACHIEVED". JavaScript cannot send 150k/s; this sends ~250k/s unpaced on the host.
//   uevent-send N [RATE]
int main(int argc, char** argv) {
  long n = atol(argv[1]), rate = argc > 2 ? atol(argv[2]) : 0;
  int fd = open("/sys/devices/virtual/mem/null/uevent", O_WRONLY);
  struct timespec t0, t; clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    if (write(fd, "change", 6) != 6) { perror("write"); return 1; }
    if (rate && (i % 100) == 99) {
      for (;;) { clock_gettime(CLOCK_MONOTONIC, &t); double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9; if (el >= (double)(i + 1) / rate) break; struct timespec s = {0, 20000}; nanosleep(&s, 0); }
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t);
  double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
  printf("%ld %.0f\n", n, n / el);
  return 0;
}
