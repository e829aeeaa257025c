// Surface "control": the user-stack control device /dev/ocfs2_control (fs/ocfs2/stack_user.c).
//
// The device has no poll (epoll_ctl gives EPERM), so it is never put in uv_poll: reads and writes
// are synchronous and short. Every message is one write(2) of its exact size (the kernel takes
// exactly one message per write and rejects any other length); a short write is reported, never
// completed with a second write.
//
// THE FD IS CLOSED ONLY BY AN EXPLICIT close(). Closing a handle that completed the T01
// handshake, while any user-stack ocfs2 volume is mounted, makes the kernel call
// emergency_restart() (an immediate reboot). So neither the finalizer nor any env cleanup hook
// touches the fd: when a handle is garbage-collected the fd stays open until the process exits,
// which is the documented kernel behaviour rather than a surprise from GC. The policy (refusing
// to close while volumes are mounted) lives in lib/kernel/control.ts.
//
// Handles are plain objects type-tagged with kControlTag, so no other wrapped object can be
// passed where a control handle is expected.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "addon.h"

namespace {

const napi_type_tag kControlTag = {0x6f32736374726c31ULL, 0x6f636673325f6374ULL};

constexpr size_t kMaxRead = 4096;
// The longest T01 message is DOWN (47 bytes); the kernel rejects anything longer. The bound here
// only keeps the addon from being a general-purpose writer.
constexpr size_t kMaxWrite = 64;

struct Control {
  int fd = -1;
  std::string path;
  double writes = 0;
  double reads = 0;
};

void Finalize(napi_env /*env*/, void* data, void* /*hint*/) {
  // Deliberately does NOT close c->fd (see the file comment). The fd is leaked until exit.
  delete static_cast<Control*>(data);
}

Control* Unwrap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "expected a control device handle");
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.CheckTypeTag(&kControlTag)) throw Napi::TypeError::New(env, "not a control device handle");
  void* p = nullptr;
  if (napi_unwrap(env, o, &p) != napi_ok || p == nullptr) throw Napi::TypeError::New(env, "not a control device handle");
  return static_cast<Control*>(p);
}

Control* UnwrapOpen(const Napi::CallbackInfo& info, const char* syscall) {
  Control* c = Unwrap(info);
  if (c->fd < 0) throw o2s::ErrnoError(info.Env(), EBADF, syscall, c->path);
  return c;
}

// open(path) -> handle. O_RDWR|O_CLOEXEC; no O_NONBLOCK (the device never blocks, and a FIFO
// standing in for it in tests must behave like a plain file).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd;
  do {
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw o2s::ErrnoError(env, errno, "open", path);
  Control* c = new Control();
  c->fd = fd;
  c->path = path;
  Napi::Object handle = Napi::Object::New(env);
  handle.TypeTag(&kControlTag);
  if (napi_wrap(env, handle, c, Finalize, nullptr, nullptr) != napi_ok) {
    // Never handshaken, so closing is harmless here.
    close(fd);
    delete c;
    throw Napi::Error::New(env, "napi_wrap failed");
  }
  return handle;
}

// read(handle, maxBytes) -> Buffer: one read(2) (EINTR retried). An empty Buffer is EOF.
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Control* c = UnwrapOpen(info, "read");
  size_t want = kMaxRead;
  if (info.Length() > 1 && info[1].IsNumber()) {
    double d = info[1].As<Napi::Number>().DoubleValue();
    if (!(d >= 1 && d <= kMaxRead)) throw Napi::RangeError::New(env, "maxBytes must be between 1 and 4096");
    want = static_cast<size_t>(d);
  }
  char buf[kMaxRead];
  ssize_t n;
  do {
    n = read(c->fd, buf, want);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw o2s::ErrnoError(env, errno, "read", c->path);
  c->reads++;
  return Napi::Buffer<char>::Copy(env, buf, static_cast<size_t>(n));
}

// write(handle, data) -> bytes written: exactly one write(2) of exactly data's length.
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Control* c = UnwrapOpen(info, "write");
  std::string data = o2s::BytesArg(info.Length() > 1 ? info[1] : env.Undefined(), "data");
  if (data.empty() || data.size() > kMaxWrite) throw Napi::RangeError::New(env, "a control message is 1 to 64 bytes");
  ssize_t n;
  do {
    n = write(c->fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw o2s::ErrnoError(env, errno, "write", c->path);
  c->writes++;
  if (static_cast<size_t>(n) != data.size()) {
    // The device never takes part of a message; do not send the rest as a new one.
    Napi::Error e = o2s::ErrnoError(env, EIO, "write", c->path);
    e.Set("written", Napi::Number::New(env, static_cast<double>(n)));
    throw e;
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

// close(handle) -> true if this call closed the fd, false if it was already closed.
// The ONLY place the fd is closed. Callers must have applied the mount guard first.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Control* c = Unwrap(info);
  if (c->fd < 0) return Napi::Boolean::New(env, false);
  int fd = c->fd;
  c->fd = -1;
  // Linux always releases the fd, even when close reports EINTR/EIO: never retry.
  if (close(fd) != 0 && errno != EINTR) throw o2s::ErrnoError(env, errno, "close", c->path);
  return Napi::Boolean::New(env, true);
}

// info(handle) -> {fd, path, open, reads, writes}
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Control* c = Unwrap(info);
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", c->fd);
  o.Set("path", c->path);
  o.Set("open", c->fd >= 0);
  o.Set("reads", c->reads);
  o.Set("writes", c->writes);
  return o;
}

void InitControl(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("open", Napi::Function::New(env, Open, "open"));
  c.Set("read", Napi::Function::New(env, Read, "read"));
  c.Set("write", Napi::Function::New(env, Write, "write"));
  c.Set("close", Napi::Function::New(env, Close, "close"));
  c.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("control", c);
}

}  // namespace

O2S_REGISTER_SURFACE(control, InitControl);
