// The lifetime of a polled handle, written once for the surfaces that watch an fd on the event
// loop (uevent, plock, corosync).
//
// One fd is watched with a uv_poll_t on the loop of the env that opened it (so it works in a
// Worker). The JS side is a plain object with a type tag wrapping the C++ object. Rules:
// - While open, the JS object is held by a strong reference: garbage collection never closes a
//   handle behind the user's back; close() releases it.
// - close() stops polling (out of epoll before the fd is closed), closes the resource at once and
//   starts uv_close; the uv_poll_t is freed in its close callback. Called from inside the handle's
//   own callback, the JS references are released when that callback returns.
// - An async env cleanup hook does the same at env teardown (a Worker's exit).
// - The C++ object is deleted when both the JS object was finalized and the uv handle closed.
#pragma once
#include <napi.h>
#include <uv.h>

#include <string>

namespace o2s {

class Polled {
 public:
  virtual ~Polled() = default;

  // The fd is readable, hung up, or has an error (status < 0, libuv's error code). Loop thread.
  virtual void OnReadable(int status, int events) = 0;
  // Closes what the fd belongs to, once, with polling stopped; touches no JS. Default: close(2).
  virtual void CloseResource();

  // Wraps this in a new object tagged `tag`, keeps `callback`, starts polling fd for `uvEvents`
  // (ref'd or not) and registers the env cleanup. On failure the resource is closed and a JS
  // exception thrown; this is then owned by the JS object's finalizer, or deleted if there is none.
  Napi::Object Attach(Napi::Env env, const napi_type_tag* tag, Napi::Value callback, const char* resource, int uvEvents,
                      bool refed, const std::string& errorPath = "");
  // close() from JS: true if it was open.
  bool CloseFromJs();
  void SetRefed(bool on);
  // Calls the callback with argv in the handle's async context; a JS exception is an uncaught
  // exception (as for any event callback). Needs a HandleScope.
  void CallJs(size_t argc, const napi_value* argv);
  // Polling stopped or restarted by the surface (errors it cannot read past; a recoverable error).
  void StopPolling();
  int RestartPolling(int uvEvents);

  bool open() const { return !closing_; }
  bool refed() const { return refed_ && !closing_; }
  bool hasCallback() const { return callback_ != nullptr; }

  napi_env env = nullptr;
  int fd = -1;

 private:
  static void OnPoll(uv_poll_t* h, int status, int events);
  static void OnPollClosed(uv_handle_t* h);
  static void OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg);
  static void Finalize(napi_env env, void* data, void* hint);
  void StopAndClose();
  void ReleaseJs();
  void MaybeDelete();

  uv_poll_t* poll_ = nullptr;  // owned until its close callback
  bool refed_ = false;
  bool closing_ = false;  // close() or the cleanup hook ran
  bool resourceClosed_ = false;
  bool finalized_ = false;
  bool inCallback_ = false;
  napi_ref callback_ = nullptr;
  napi_ref self_ = nullptr;  // strong while open
  napi_async_context asyncContext_ = nullptr;
  napi_async_cleanup_hook_handle cleanupHook_ = nullptr;
};

// The native object behind a tagged handle argument; a TypeError naming `what` otherwise.
void* UnwrapTagged(const Napi::CallbackInfo& info, size_t idx, const napi_type_tag* tag, const char* what);

// A Polled subclass behind a tagged handle (napi_wrap stored the Polled*; the tag says which subclass).
template <class T>
T* Unwrap(const Napi::CallbackInfo& info, size_t idx, const napi_type_tag* tag, const char* what) {
  return static_cast<T*>(static_cast<Polled*>(UnwrapTagged(info, idx, tag, what)));
}

}  // namespace o2s
