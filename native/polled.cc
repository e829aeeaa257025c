// The shared lifetime of polled handles (native/polled.h).
#include "polled.h"

#include <unistd.h>

#include "addon.h"

namespace o2s {

void Polled::CloseResource() {
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
}

Napi::Object Polled::Attach(Napi::Env e, const napi_type_tag* tag, Napi::Value callback, const char* resource, int uvEvents,
                            bool refed, const std::string& errorPath) {
  env = e;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(e, &loop) != napi_ok || loop == nullptr) {
    CloseResource();
    delete this;
    throw Napi::Error::New(e, "no uv loop for this env");
  }
  Napi::Object handle = Napi::Object::New(e);
  handle.TypeTag(tag);
  if (napi_wrap(e, handle, this, Finalize, nullptr, nullptr) != napi_ok) {
    CloseResource();
    delete this;
    throw Napi::Error::New(e, "napi_wrap failed");
  }
  // From here the finalizer owns this.
  napi_create_reference(e, callback, 1, &callback_);
  napi_create_reference(e, handle, 1, &self_);
  napi_async_init(e, handle, Napi::String::New(e, resource), &asyncContext_);

  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, fd);
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    closing_ = true;
    CloseResource();
    resourceClosed_ = true;
    ReleaseJs();
    throw ErrnoError(e, -rc, "uv_poll_init", errorPath);
  }
  poll_->data = this;
  refed_ = refed;
  if (!refed) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  rc = uv_poll_start(poll_, uvEvents, OnPoll);
  if (rc != 0) {
    StopAndClose();
    ReleaseJs();
    throw ErrnoError(e, -rc, "uv_poll_start", errorPath);
  }
  napi_add_async_cleanup_hook(e, OnEnvCleanup, this, &cleanupHook_);
  return handle;
}

void Polled::OnPoll(uv_poll_t* h, int status, int events) {
  Polled* p = static_cast<Polled*>(h->data);
  if (p->closing_ || p->finalized_ || p->callback_ == nullptr) return;
  p->OnReadable(status, events);
}

void Polled::CallJs(size_t argc, const napi_value* argv) {
  if (callback_ == nullptr) return;
  napi_value fn;
  napi_get_reference_value(env, callback_, &fn);
  napi_value self = nullptr;
  if (self_) napi_get_reference_value(env, self_, &self);
  if (self == nullptr) napi_get_undefined(env, &self);
  napi_value result;
  inCallback_ = true;
  napi_status s = napi_make_callback(env, asyncContext_, self, fn, argc, argv, &result);
  inCallback_ = false;
  // close() from inside the callback deferred releasing the async context it was running in.
  if (closing_) ReleaseJs();
  if (s == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

void Polled::StopPolling() {
  if (poll_ && !closing_) uv_poll_stop(poll_);
}

int Polled::RestartPolling(int uvEvents) {
  if (poll_ == nullptr || closing_) return UV_EBADF;
  return uv_poll_start(poll_, uvEvents, OnPoll);
}

void Polled::StopAndClose() {
  if (closing_) return;
  closing_ = true;
  if (poll_) uv_poll_stop(poll_);  // out of epoll before the fd is closed
  if (!resourceClosed_) {
    resourceClosed_ = true;
    CloseResource();
  }
  if (poll_) uv_close(reinterpret_cast<uv_handle_t*>(poll_), OnPollClosed);
}

bool Polled::CloseFromJs() {
  bool was = !closing_;
  StopAndClose();
  // The handle may now be collected; callbacks stop (OnPoll checks closing_). From inside the
  // callback, the references are released when it returns (CallJs).
  if (!inCallback_) ReleaseJs();
  return was;
}

void Polled::SetRefed(bool on) {
  if (closing_ || poll_ == nullptr) return;
  if (on)
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  else
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  refed_ = on;
}

void Polled::ReleaseJs() {
  // Only with a live env (explicit close, or the finalizer).
  if (callback_) {
    napi_delete_reference(env, callback_);
    callback_ = nullptr;
  }
  if (asyncContext_) {
    napi_async_destroy(env, asyncContext_);
    asyncContext_ = nullptr;
  }
  if (self_) {
    napi_delete_reference(env, self_);
    self_ = nullptr;
  }
}

void Polled::MaybeDelete() {
  if (finalized_ && poll_ == nullptr) delete this;
}

void Polled::OnPollClosed(uv_handle_t* h) {
  Polled* p = static_cast<Polled*>(h->data);
  delete reinterpret_cast<uv_poll_t*>(h);
  p->poll_ = nullptr;
  if (p->cleanupHook_) {
    napi_async_cleanup_hook_handle hook = p->cleanupHook_;
    p->cleanupHook_ = nullptr;
    napi_remove_async_cleanup_hook(hook);  // tells Node this handle's cleanup is done
  }
  p->MaybeDelete();
}

void Polled::OnEnvCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  Polled* p = static_cast<Polled*>(arg);
  if (p->poll_ == nullptr) {
    // Nothing to wait for.
    p->cleanupHook_ = nullptr;
    if (!p->resourceClosed_) {
      p->resourceClosed_ = true;
      p->CloseResource();
    }
    napi_remove_async_cleanup_hook(handle);
    return;
  }
  p->StopAndClose();  // OnPollClosed removes the hook
}

void Polled::Finalize(napi_env, void* data, void*) {
  Polled* p = static_cast<Polled*>(data);
  // Reached only after close() (the strong self reference holds the object while open) or at
  // env teardown. The JS references go while the env is alive; the memory once the uv handle is
  // gone too.
  p->ReleaseJs();
  p->finalized_ = true;
  p->MaybeDelete();
}

void* UnwrapTagged(const Napi::CallbackInfo& info, size_t idx, const napi_type_tag* tag, const char* what) {
  Napi::Env env = info.Env();
  if (info.Length() <= idx || !info[idx].IsObject()) throw Napi::TypeError::New(env, std::string("expected a ") + what);
  Napi::Object o = info[idx].As<Napi::Object>();
  void* p = nullptr;
  if (!o.CheckTypeTag(tag) || napi_unwrap(env, o, &p) != napi_ok || p == nullptr)
    throw Napi::TypeError::New(env, std::string("not a ") + what);
  return p;
}

}  // namespace o2s
