// Module entry: runs every registered surface's init on the exports object.
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

namespace o2s {

std::vector<SurfaceEntry>& Surfaces() {
  // Function-local static: safe regardless of static-initialisation order across files.
  static std::vector<SurfaceEntry> surfaces;
  return surfaces;
}

std::string ErrnoName(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char* n = strerrorname_np(err);
  if (n != nullptr) return n;
#endif
  return "E" + std::to_string(err);
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string code = ErrnoName(err);
  std::string msg = code + ": " + strerror(err) + ", " + syscall;
  if (!path.empty()) msg += " '" + path + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) e.Set("path", Napi::String::New(env, path));
  return e;
}

std::string BytesArg(const Napi::Value& v, const char* what) {
  if (v.IsBuffer()) {
    auto b = v.As<Napi::Buffer<char>>();
    return std::string(b.Data(), b.Length());
  }
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string or a Buffer");
}

int ReadWhole(const std::string& path, std::string* out, size_t limit, bool attribute) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return e;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
    if (out->size() >= limit) break;
    // A configfs/sysfs attribute is at most a page and comes whole in one read(2): a short read is
    // its end, so skip the read that would return 0 (a quarter of the syscalls of an attribute
    // read). Not for other files: a seq_file such as /proc/mounts returns short reads mid-way.
    if (attribute && static_cast<size_t>(n) < sizeof buf) break;
  }
  close(fd);
  return 0;
}

}  // namespace o2s

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& s : o2s::Surfaces()) {
    s.init(env, exports);
    names.Set(i++, Napi::String::New(env, s.name));
  }
  exports.Set("surfaces", names);
  return exports;
}

NODE_API_MODULE(ocfs2_stack, Init)
