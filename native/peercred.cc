// Surface "peercred": who is on the other end of a unix socket (SO_PEERCRED).
//
// The daemon's control socket answers root only. File mode 0600 is one layer; this is the other:
// the kernel records the peer's pid, uid and gid at connect(2) (or socketpair(2)), so they cannot
// be forged by what the peer later writes. Node exposes the accepted socket's fd but not this
// getsockopt, hence the surface.
#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cmath>

#include "addon.h"

namespace {

// peerCred(fd) -> {pid, uid, gid}
Napi::Value PeerCred(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "fd must be a number");
  double d = info[0].As<Napi::Number>().DoubleValue();
  // Negative or huge integers still go to the kernel, which answers EBADF like for any closed fd;
  // only a value that is not an integer at all is a caller's type error.
  if (!std::isfinite(d) || d != std::trunc(d)) throw Napi::TypeError::New(env, "fd must be an integer");
  int fd = d < -1 || d > 0x7fffffff ? -1 : static_cast<int>(d);
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) throw o2s::ErrnoError(env, errno, "getsockopt", "");
  // A short answer would leave fields at 0, which reads as root: refuse it rather than trust it.
  if (len != sizeof cred) throw o2s::ErrnoError(env, EPROTO, "getsockopt", "");
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", Napi::Number::New(env, cred.pid));
  o.Set("uid", Napi::Number::New(env, cred.uid));
  o.Set("gid", Napi::Number::New(env, cred.gid));
  return o;
}

void InitPeerCred(Napi::Env env, Napi::Object exports) {
  Napi::Object p = Napi::Object::New(env);
  p.Set("peerCred", Napi::Function::New(env, PeerCred, "peerCred"));
  exports.Set("peercred", p);
}

}  // namespace

O2S_REGISTER_SURFACE(peercred, InitPeerCred);
