// Fake-tree mode of the attr surface: a plain directory standing in for configfs in tests and
// `--root` runs (lib/kernel/backend.ts turns it on only where <root>/sys/kernel/config is not
// configfs). Kept apart from the real syscalls in attr.cc: nothing here runs against a kernel.
#pragma once
#include <sys/types.h>

#include <string>

namespace o2s {

// open(2) for writing an attribute, creating the file and its missing parent directories (on a
// real configfs O_CREAT would mask ENOENT). Returns the fd, or -1 with errno set.
int FakeTreeOpenForWrite(const std::string& path);

// mkdir(2) with missing parents (parents 0755); an existing directory is not an error. 0 or errno.
int FakeTreeMkdirP(const std::string& path, mode_t mode);

// rmdir(2) as configfs does it: a directory's attributes and default groups go with it, a
// user-made group inside one of them means ENOTEMPTY. Returns 0, or -1 with errno set.
int FakeConfigfsRmdir(const std::string& path);

}  // namespace o2s
