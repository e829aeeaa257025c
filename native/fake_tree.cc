// Fake-tree mode of the attr surface (native/fake_tree.h).
#include "fake_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

namespace o2s {

int FakeTreeMkdirP(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) == 0) return 0;
  if (errno == EEXIST) return 0;
  if (errno != ENOENT) return errno;
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return ENOENT;
  int e = FakeTreeMkdirP(path.substr(0, slash), 0755);
  if (e != 0) return e;
  if (mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return 0;
  return errno;
}

namespace {

// configfs removes a directory's attributes and its default groups (a cluster's
// node/ and heartbeat/) with it, but refuses (ENOTEMPTY) while a user-made group is inside one of
// them. A plain directory needs that done by hand: files and child directories holding only files
// go; a directory two levels down means ENOTEMPTY. Returns 0, or -1 with errno set.
int RemoveFilesIn(const std::string& dir, int depth) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  std::vector<std::pair<std::string, bool>> entries;
  while (struct dirent* de = readdir(d)) {
    std::string name = de->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    std::string p = dir + "/" + name;
    if (lstat(p.c_str(), &st) != 0) continue;
    entries.emplace_back(p, S_ISDIR(st.st_mode));
  }
  closedir(d);
  for (auto& e : entries) {
    if (e.second && depth >= 1) {
      errno = ENOTEMPTY;
      return -1;
    }
  }
  for (auto& e : entries) {
    if (e.second) {
      if (RemoveFilesIn(e.first, depth + 1) != 0 || rmdir(e.first.c_str()) != 0) return -1;
    } else if (unlink(e.first.c_str()) != 0) {
      return -1;
    }
  }
  return 0;
}

}  // namespace

int FakeConfigfsRmdir(const std::string& path) {
  if (RemoveFilesIn(path, 0) != 0) return -1;
  return rmdir(path.c_str());
}

int FakeTreeOpenForWrite(const std::string& path) {
  const int flags = O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC;
  int fd = open(path.c_str(), flags, 0644);
  if (fd < 0 && errno == ENOENT) {
    size_t slash = path.find_last_of('/');
    if (slash != std::string::npos && FakeTreeMkdirP(path.substr(0, slash), 0755) == 0) fd = open(path.c_str(), flags, 0644);
  }
  return fd;
}

}  // namespace o2s
