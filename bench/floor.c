/* The floor for applying an o2nm cluster: the same mkdir/write(2) syscalls as o2stack's plan, from a
 * minimal C program. Reads an op list ("m PATH" = mkdir, "w PATH VALUE" = one write of VALUE + "\n")
 * from the file named by argv[1]. Built and run by bench/vm-apply.ts (VM) and bench/apply.ts (host). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: floor OPS\n"); return 2; }
  FILE *f = fopen(argv[1], "r");
  if (!f) { perror(argv[1]); return 1; }
  char line[1024], buf[256];
  while (fgets(line, sizeof line, f)) {
    char *path = line + 2, *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (line[0] == 'm') {
      if (mkdir(path, 0755) != 0) { perror(path); return 1; }
    } else if (line[0] == 'w') {
      char *val = strchr(path, ' ');
      if (!val) return 2;
      *val++ = 0;
      int n = snprintf(buf, sizeof buf, "%s\n", val);
      /* O_CREAT: a no-op on configfs (the attribute exists); on a host fake tree it creates the file, as
       * the fake-tree backend does */
      int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0 || write(fd, buf, (size_t)n) != n) { perror(path); return 1; }
      close(fd);
    }
  }
  fclose(f);
  return 0;
}
