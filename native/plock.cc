// Surface "plock": fs/dlm's POSIX-lock device (/dev/dlm_plock) on the Node event loop.
//
// The kernel queues one `struct dlm_plock_info` (include/uapi/linux/dlm_plock.h, 64 bytes) per
// fcntl/lockf request on a user-stack volume; a control daemon reads them, decides, and writes
// the same struct back with `rv` set. The process that asked sleeps until then, so a request read
// here must always be answered (lib/stack/daemon/plocks.ts sees to that; this file only moves
// records). read(2) returns one record or -EAGAIN whatever the open flags, and poll() says
// readable while the kernel has requests queued.
//
// The fd is watched with uv_poll (no thread, no timer). On each wake-up it is drained with read(2)
// until EAGAIN (bounded per wake-up; uv_poll is level-triggered and wakes again for the rest), and
// the records go to ONE JS callback as a single Buffer of n * 64 bytes: decoding is JS's
// (lib/kernel/plock.ts), which also checks versions. write() sends one answer synchronously: the
// kernel's write handler only matches it to the sleeping request and wakes it, it never blocks.
//
// Tests use a SOCK_SEQPACKET socketpair (socketpairForTest) in place of the device: it keeps
// record boundaries like the device, so the same handle can play the kernel's side too.
//
// Lifetime as in uevent.cc: the uv_poll_t is heap-allocated and freed in its close callback;
// close() stops polling and closes the fd at once; an async env cleanup hook does the same at
// teardown; while open the handle is held by a strong reference (GC never closes a device whose
// requests would then hang); the uv handle is unref'd until ref().
#include <errno.h>
#include <fcntl.h>
#include <linux/dlm_plock.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "addon.h"
#include "polled.h"

namespace {

constexpr size_t kRecord = sizeof(struct dlm_plock_info);
static_assert(kRecord == 64, "struct dlm_plock_info is 64 bytes in every kernel since 2.6.26");
constexpr int kMaxBatch = 1024;

const napi_type_tag kDeviceTag = {0x6f3273706c6f636bULL, 0x506c6f636b446576ULL};

struct Device : o2s::Polled {
  std::string path;
  double read = 0;     // records read
  double written = 0;  // answers written
  double wakeups = 0;

  void OnReadable(int status, int events) override;
};

Device* Unwrap(const Napi::CallbackInfo& info) { return o2s::Unwrap<Device>(info, 0, &kDeviceTag, "plock device handle"); }

// Reads up to kMaxBatch records. Returns 0, or the errno that stops the device (-1: end of file).
int Drain(Device* d, std::vector<char>* out) {
  char rec[kRecord * 2];  // larger than a record: a longer datagram shows up as a size error
  for (int i = 0; i < kMaxBatch; i++) {
    ssize_t n = read(d->fd, rec, sizeof rec);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return errno;
    }
    if (n == 0) return -1;
    if (static_cast<size_t>(n) != kRecord) return EPROTO;
    out->insert(out->end(), rec, rec + kRecord);
    d->read++;
  }
  return 0;
}

void Device::OnReadable(int status, int /*events*/) {
  Device* d = this;
  d->wakeups++;
  std::vector<char> recs;
  int err = status < 0 ? -status : Drain(d, &recs);
  if (recs.empty() && err == 0) return;
  napi_env env = d->env;
  Napi::HandleScope scope(env);
  try {
    Napi::Env e(env);
    Napi::Value errv = e.Null();
    if (err == -1) {
      Napi::Error x = Napi::Error::New(env, "end of file on " + d->path + ": the other side closed it");
      x.Set("code", Napi::String::New(env, "EOF"));
      x.Set("syscall", Napi::String::New(env, "read"));
      x.Set("path", Napi::String::New(env, d->path));
      errv = x.Value();
    } else if (err != 0) {
      errv = o2s::ErrnoError(env, err, "read", d->path).Value();
    }
    napi_value argv[2] = {Napi::Buffer<char>::Copy(env, recs.data(), recs.size()), errv};
    d->CallJs(2, argv);
  } catch (const Napi::Error& ex) {
    napi_fatal_exception(env, ex.Value());
  }
  // An error we cannot read past: stop watching (JS got it and decides).
  if (err != 0) d->StopPolling();
}

// open({path} | {fd, path?}, onBatch(records: Buffer, error: Error|null)) -> handle
// With path: opened O_RDWR|O_NONBLOCK|O_CLOEXEC. With fd: that fd is adopted (closed by close()).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "open({path} | {fd}, onBatch)");
  Napi::Object opts = info[0].As<Napi::Object>();
  std::string path;
  if (opts.Get("path").IsString()) path = opts.Get("path").As<Napi::String>().Utf8Value();
  int fd = -1;
  if (opts.Get("fd").IsNumber()) {
    fd = opts.Get("fd").As<Napi::Number>().Int32Value();
    if (fd < 0) throw Napi::RangeError::New(env, "fd must be >= 0");
    if (path.empty()) path = "fd " + std::to_string(fd);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) throw o2s::ErrnoError(env, errno, "fcntl", path);
  } else {
    if (path.empty()) throw Napi::TypeError::New(env, "open: a path or an fd is needed");
    fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw o2s::ErrnoError(env, errno, "open", path);
  }
  Device* d = new Device();
  d->fd = fd;
  d->path = path;
  return d->Attach(env, &kDeviceTag, info[1], "o2stack:plock", UV_READABLE, false, path);
}

// write(handle, record: Buffer of 64 bytes): one answer (or, on a test socketpair, one request).
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Device* d = Unwrap(info);
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "write(handle, record: Buffer)");
  auto b = info[1].As<Napi::Buffer<char>>();
  if (b.Length() != kRecord) throw Napi::RangeError::New(env, "a plock record is " + std::to_string(kRecord) + " bytes, not " + std::to_string(b.Length()));
  if (!d->open() || d->fd < 0) throw o2s::ErrnoError(env, EBADF, "write", d->path);
  ssize_t n;
  do {
    n = ::write(d->fd, b.Data(), kRecord);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw o2s::ErrnoError(env, errno, "write", d->path);
  if (static_cast<size_t>(n) != kRecord) throw o2s::ErrnoError(env, EIO, "write", d->path);
  d->written++;
  return env.Undefined();
}

Napi::Value Close(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Unwrap(info)->CloseFromJs()); }

Napi::Value Ref(const Napi::CallbackInfo& info) {
  Unwrap(info)->SetRefed(true);
  return info.Env().Undefined();
}

Napi::Value Unref(const Napi::CallbackInfo& info) {
  Unwrap(info)->SetRefed(false);
  return info.Env().Undefined();
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Device* d = Unwrap(info);
  Napi::Object o = Napi::Object::New(env);
  o.Set("path", d->path);
  o.Set("read", d->read);
  o.Set("written", d->written);
  o.Set("wakeups", d->wakeups);
  o.Set("fd", d->fd);
  o.Set("open", d->open());
  o.Set("refed", d->refed());
  return o;
}

// TEST-ONLY: a SOCK_SEQPACKET socketpair [a, b] (close-on-exec), standing in for the device.
Napi::Value SocketpairForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw o2s::ErrnoError(env, errno, "socketpair", "");
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, sv[0]);
  a.Set(1u, sv[1]);
  return a;
}

void InitPlock(Napi::Env env, Napi::Object exports) {
  Napi::Object p = Napi::Object::New(env);
  p.Set("open", Napi::Function::New(env, Open, "open"));
  p.Set("write", Napi::Function::New(env, Write, "write"));
  p.Set("close", Napi::Function::New(env, Close, "close"));
  p.Set("ref", Napi::Function::New(env, Ref, "ref"));
  p.Set("unref", Napi::Function::New(env, Unref, "unref"));
  p.Set("stats", Napi::Function::New(env, Stats, "stats"));
  p.Set("socketpairForTest", Napi::Function::New(env, SocketpairForTest, "socketpairForTest"));
  p.Set("RECORD_SIZE", static_cast<double>(kRecord));
  Napi::Array v = Napi::Array::New(env, 3);
  v.Set(0u, DLM_PLOCK_VERSION_MAJOR);
  v.Set(1u, DLM_PLOCK_VERSION_MINOR);
  v.Set(2u, DLM_PLOCK_VERSION_PATCH);
  p.Set("VERSION", v);
  exports.Set("plock", p);
}

}  // namespace

O2S_REGISTER_SURFACE(plock, InitPlock);
