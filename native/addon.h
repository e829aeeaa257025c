// Shared pieces of the ocfs2-stack addon: the surface registry and errno errors.
// Each kernel surface lives in its own .cc file and registers itself with
// O2S_REGISTER_SURFACE, so surfaces can be added without touching addon.cc.
#pragma once
#include <napi.h>
#include <string>
#include <vector>

namespace o2s {

using SurfaceInit = void (*)(Napi::Env env, Napi::Object exports);

struct SurfaceEntry {
  const char* name;
  SurfaceInit init;
};

std::vector<SurfaceEntry>& Surfaces();

struct SurfaceRegistrar {
  SurfaceRegistrar(const char* name, SurfaceInit init) { Surfaces().push_back({name, init}); }
};

#define O2S_REGISTER_SURFACE(name, fn) static ::o2s::SurfaceRegistrar o2s_registrar_##name(#name, fn)

// The errno name ("EBUSY"), or "E<number>" when the C library has none.
std::string ErrnoName(int err);

// A KernelError (the library's class, once handed over), else an Error shaped like Node's fs
// errors: message "CODE: description, syscall 'path'"; code, errno (negative, as in Node),
// syscall and path properties either way.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path);

// The library's error classes (setErrorClasses): an error built from `fields` and `message` as
// new Class(fields, message), or a plain Error with those properties before they were handed over.
enum class ErrorClass { Kernel, Corosync };
Napi::Error ClassError(Napi::Env env, ErrorClass which, Napi::Object fields, const std::string& message);

// The bytes of a string or Buffer argument (a TypeError naming `what` otherwise).
std::string BytesArg(const Napi::Value& v, const char* what);

// Read a whole file (bounded by limit). With attribute = true the file is a configfs/sysfs
// attribute, which one read(2) returns whole. Returns 0 or an errno.
int ReadWhole(const std::string& path, std::string* out, size_t limit = 1 << 20, bool attribute = false);

}  // namespace o2s
