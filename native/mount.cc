// Surface "mount": mount(2) and umount2(2) for cluster filesystems and configfs.
// An o2cb mount can wait up to 60 s for o2net connections and a user-stack mount for a lockspace
// join, so each call runs on a thread of its own, never on libuv's shared pool (4 threads, also
// serving fs and dns: a few waiting mounts would stall the daemon's file I/O). The thread settles
// the Promise through a thread-safe function, which also keeps the loop alive meanwhile. Failures
// are fs-shaped Errors (code, errno, syscall, path).
#include <errno.h>
#include <sys/mount.h>

#include <string>
#include <system_error>
#include <thread>

#include "addon.h"

namespace {

struct MountCall {
  bool unmount = false;
  std::string source, target, fstype, data;
  unsigned long flags = 0;
  int err = 0;
  Napi::Promise::Deferred deferred;
  explicit MountCall(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

void Settle(Napi::Env env, Napi::Function /*unused*/, MountCall* c) {
  Napi::HandleScope scope(env);
  if (c->err == 0) {
    c->deferred.Resolve(env.Undefined());
  } else {
    Napi::Error e = o2s::ErrnoError(env, c->err, c->unmount ? "umount2" : "mount", c->target);
    if (!c->unmount) {
      e.Set("source", Napi::String::New(env, c->source));
      e.Set("fstype", Napi::String::New(env, c->fstype));
      e.Set("options", Napi::String::New(env, c->data));
    }
    c->deferred.Reject(e.Value());
  }
  delete c;
}

Napi::Promise Start(Napi::Env env, MountCall* c) {
  Napi::Promise p = c->deferred.Promise();
  Napi::ThreadSafeFunction tsfn =
      Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}), c->unmount ? "o2stack:umount" : "o2stack:mount", 0, 1);
  try {
    std::thread([c, tsfn]() mutable {
      int r = c->unmount ? umount2(c->target.c_str(), static_cast<int>(c->flags))
                         : mount(c->source.c_str(), c->target.c_str(), c->fstype.c_str(), c->flags, c->data.empty() ? nullptr : c->data.c_str());
      c->err = r == 0 ? 0 : errno;
      // napi_closing: the env is going away (a Worker ended) and nobody awaits the Promise.
      if (tsfn.BlockingCall(c, Settle) != napi_ok) delete c;
      tsfn.Release();
    }).detach();
  } catch (const std::system_error& e) {
    tsfn.Release();
    c->err = e.code().value() != 0 ? e.code().value() : EAGAIN;
    Settle(env, Napi::Function(), c);
  }
  return p;
}

std::string Str(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// mount(source, target, fstype, flags, data) -> Promise<void>
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned long flags = info.Length() > 3 && info[3].IsNumber() ? static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value()) : 0;
  std::string data = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  auto* c = new MountCall(env);
  try {
    c->source = Str(info[0], "source");
    c->target = Str(info[1], "target");
    c->fstype = Str(info[2], "fstype");
  } catch (...) {
    delete c;
    throw;
  }
  c->flags = flags;
  c->data = data;
  return Start(env, c);
}

// umount(target, flags) -> Promise<void>
Napi::Value Umount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned long flags = info.Length() > 1 && info[1].IsNumber() ? static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value()) : 0;
  std::string target = Str(info[0], "target");
  auto* c = new MountCall(env);
  c->unmount = true;
  c->target = target;
  c->flags = flags;
  return Start(env, c);
}

void InitMount(Napi::Env env, Napi::Object exports) {
  Napi::Object m = Napi::Object::New(env);
  m.Set("mount", Napi::Function::New(env, Mount, "mount"));
  m.Set("umount", Napi::Function::New(env, Umount, "umount"));
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("MS_RDONLY", Napi::Number::New(env, MS_RDONLY));
  flags.Set("MS_NOATIME", Napi::Number::New(env, MS_NOATIME));
  flags.Set("MS_NODEV", Napi::Number::New(env, MS_NODEV));
  flags.Set("MS_NOSUID", Napi::Number::New(env, MS_NOSUID));
  flags.Set("MS_NOEXEC", Napi::Number::New(env, MS_NOEXEC));
  flags.Set("MNT_DETACH", Napi::Number::New(env, MNT_DETACH));
  flags.Set("MNT_FORCE", Napi::Number::New(env, MNT_FORCE));
  m.Set("flags", flags);
  exports.Set("mount", m);
}

}  // namespace

O2S_REGISTER_SURFACE(mount, InitMount);
