// Surface "mount": mount(2) and umount2(2) for cluster filesystems and configfs.
// An o2cb mount can wait up to 60 s for o2net connections, so both run on a worker thread and
// return Promises; failures are fs-shaped Errors (code, errno, syscall, path).
#include <errno.h>
#include <sys/mount.h>

#include <string>

#include "addon.h"

namespace {

class MountWorker : public Napi::AsyncWorker {
 public:
  MountWorker(Napi::Env env, bool unmount, std::string source, std::string target, std::string fstype,
              unsigned long flags, std::string data)
      : Napi::AsyncWorker(env, unmount ? "o2stack:umount" : "o2stack:mount"),
        deferred_(Napi::Promise::Deferred::New(env)), unmount_(unmount), source_(std::move(source)),
        target_(std::move(target)), fstype_(std::move(fstype)), flags_(flags), data_(std::move(data)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    int r;
    if (unmount_) {
      r = umount2(target_.c_str(), static_cast<int>(flags_));
    } else {
      r = mount(source_.c_str(), target_.c_str(), fstype_.c_str(), flags_, data_.empty() ? nullptr : data_.c_str());
    }
    err_ = r == 0 ? 0 : errno;
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (err_ == 0) {
      deferred_.Resolve(env.Undefined());
      return;
    }
    Napi::Error e = o2s::ErrnoError(env, err_, unmount_ ? "umount2" : "mount", target_);
    if (!unmount_) {
      e.Set("source", Napi::String::New(env, source_));
      e.Set("fstype", Napi::String::New(env, fstype_));
      e.Set("options", Napi::String::New(env, data_));
    }
    deferred_.Reject(e.Value());
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  bool unmount_;
  std::string source_, target_, fstype_;
  unsigned long flags_;
  std::string data_;
  int err_ = 0;
};

std::string Str(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

// mount(source, target, fstype, flags, data) -> Promise<void>
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned long flags = info.Length() > 3 && info[3].IsNumber() ? static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value()) : 0;
  std::string data = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  auto* w = new MountWorker(env, false, Str(info[0], "source"), Str(info[1], "target"), Str(info[2], "fstype"), flags, data);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// umount(target, flags) -> Promise<void>
Napi::Value Umount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  unsigned long flags = info.Length() > 1 && info[1].IsNumber() ? static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value()) : 0;
  auto* w = new MountWorker(env, true, "", Str(info[0], "target"), "", flags, "");
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
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
