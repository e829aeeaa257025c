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

namespace {
// Per env (main thread, each Worker): the library's error classes, once it handed them over.
struct EnvData {
  Napi::FunctionReference kernelError;
  Napi::FunctionReference corosyncError;
};

EnvData* GetEnvData(Napi::Env env) {
  EnvData* d = env.GetInstanceData<EnvData>();
  if (d == nullptr) {
    d = new EnvData();
    env.SetInstanceData(d);  // deleted with the env
  }
  return d;
}

// new Class(fields, message?) when the class was registered; nullptr otherwise.
napi_value Construct(Napi::Env env, const Napi::FunctionReference& cls, Napi::Object fields, const std::string* message) {
  if (cls.IsEmpty()) return nullptr;
  napi_value args[2] = {fields, message ? Napi::String::New(env, *message) : env.Undefined()};
  napi_value out = nullptr;
  if (napi_new_instance(env, cls.Value(), message ? 2 : 1, args, &out) != napi_ok) {
    // A throwing constructor: fall back to a plain Error (the pending exception is dropped).
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    return nullptr;
  }
  return out;
}
}  // namespace

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string code = ErrnoName(err);
  Napi::Object fields = Napi::Object::New(env);
  fields.Set("code", Napi::String::New(env, code));
  fields.Set("errno", Napi::Number::New(env, -err));
  fields.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) fields.Set("path", Napi::String::New(env, path));
  // The library's KernelError (its own message: "CODE: syscall 'path' failed"), else an Error
  // shaped like Node's fs errors.
  if (napi_value k = Construct(env, GetEnvData(env)->kernelError, fields, nullptr)) return Napi::Error(env, k);
  std::string msg = code + ": " + strerror(err) + ", " + syscall;
  if (!path.empty()) msg += " '" + path + "'";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", fields.Get("code"));
  e.Set("errno", fields.Get("errno"));
  e.Set("syscall", fields.Get("syscall"));
  if (!path.empty()) e.Set("path", fields.Get("path"));
  return e;
}

Napi::Error ClassError(Napi::Env env, ErrorClass which, Napi::Object fields, const std::string& message) {
  EnvData* d = GetEnvData(env);
  const Napi::FunctionReference& cls = which == ErrorClass::Kernel ? d->kernelError : d->corosyncError;
  if (napi_value k = Construct(env, cls, fields, &message)) return Napi::Error(env, k);
  Napi::Error e = Napi::Error::New(env, message);
  Napi::Array keys = fields.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    Napi::Value key = keys.Get(i);
    e.Value().Set(key, fields.Get(key));
  }
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

// setErrorClasses({KernelError, CorosyncError}): the library hands its error classes over once per
// env, so every error the addon throws is already one of them (no re-wrapping in TypeScript).
static Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "setErrorClasses({KernelError, CorosyncError})");
  Napi::Object o = info[0].As<Napi::Object>();
  o2s::EnvData* d = o2s::GetEnvData(env);
  Napi::Value k = o.Get("KernelError"), c = o.Get("CorosyncError");
  if (k.IsFunction()) d->kernelError = Napi::Persistent(k.As<Napi::Function>());
  if (c.IsFunction()) d->corosyncError = Napi::Persistent(c.As<Napi::Function>());
  return env.Undefined();
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array names = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& s : o2s::Surfaces()) {
    s.init(env, exports);
    names.Set(i++, Napi::String::New(env, s.name));
  }
  exports.Set("surfaces", names);
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
  return exports;
}

NODE_API_MODULE(ocfs2_stack, Init)
