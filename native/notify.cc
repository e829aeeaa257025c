// Surface "notify": sd_notify(3) without libsystemd. Node has no AF_UNIX datagram sockets, so
// notify(state) sends `state` as one datagram to $NOTIFY_SOCKET (a path, or '@name' for the
// abstract namespace). Returns false when NOTIFY_SOCKET is unset (not run by systemd), true when
// sent; throws an errno Error when the send fails.
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"

namespace {

Napi::Value Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string state = o2s::BytesArg(info[0], "state");
  const char* path = getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return Napi::Boolean::New(env, false);
  size_t len = strlen(path);
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) {
    throw o2s::ErrnoError(env, EINVAL, "sendto", path);
  }
  memcpy(sa.sun_path, path, len);
  if (path[0] == '@') sa.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
  socklen_t salen = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw o2s::ErrnoError(env, errno, "socket", path);
  ssize_t n;
  do {
    n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&sa), salen);
  } while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err != 0) throw o2s::ErrnoError(env, err, "sendto", path);
  return Napi::Boolean::New(env, true);
}

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("notify", Napi::Function::New(env, Notify, "notify"));
  exports.Set("notify", o);
}

}  // namespace

O2S_REGISTER_SURFACE(notify, Init);
