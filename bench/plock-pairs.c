/* POSIX lock+unlock pairs on one byte of a file, as fast as the cluster answers: the plock
 * benchmark's load (bench/README in the main README; run in the test VMs by the two-node suites).
 *   plock-pairs FILE OFFSET SECONDS  -> prints "pairs N ms M lock_us L unlock_us U" (F_SETLKW
 *   exclusive, then F_UNLCK; L and U: mean microseconds per lock and per unlock call)
 * Every fcntl on a user-stack ocfs2 volume goes to the control daemon (dlm_controld or
 * o2stack daemon) and back: this measures that round trip, with the C floor's own cost negligible. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: plock-pairs FILE OFFSET SECONDS\n");
    return 2;
  }
  int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
  if (fd < 0) {
    perror("open");
    return 1;
  }
  off_t off = (off_t)atoll(argv[2]);
  long long until = now_ms() + atoll(argv[3]) * 1000;
  long long t0 = now_ms(), pairs = 0, lock_us = 0, unlock_us = 0;
  struct flock l;
  while (now_ms() < until) {
    memset(&l, 0, sizeof l);
    l.l_type = F_WRLCK;
    l.l_whence = SEEK_SET;
    l.l_start = off;
    l.l_len = 1;
    long long a = now_us();
    if (fcntl(fd, F_SETLKW, &l) != 0) {
      fprintf(stderr, "F_SETLKW: %s\n", strerror(errno));
      return 1;
    }
    long long b = now_us();
    l.l_type = F_UNLCK;
    if (fcntl(fd, F_SETLK, &l) != 0) {
      fprintf(stderr, "F_UNLCK: %s\n", strerror(errno));
      return 1;
    }
    long long c = now_us();
    lock_us += b - a;
    unlock_us += c - b;
    pairs++;
  }
  printf("pairs %lld ms %lld lock_us %lld unlock_us %lld\n", pairs, now_ms() - t0, pairs ? lock_us / pairs : 0, pairs ? unlock_us / pairs : 0);
  return 0;
}
