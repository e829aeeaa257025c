// Surface "uevent": a NETLINK_KOBJECT_UEVENT listener on the Node event loop.
//
// The socket is watched with uv_poll on the loop of the env that opened it (napi_get_uv_event_loop,
// so it works inside a Worker too); there is no thread and no timer. On every wake-up the socket
// is drained with recvmsg(MSG_DONTWAIT) until EAGAIN (bounded per wake-up), each datagram is
// checked for its sender, and the accepted datagrams go to ONE JS callback as a batch.
//
// Sender checks (like sd-device's monitor): a datagram is from the kernel when the sender's
// nl_pid is 0 and SCM_CREDENTIALS says uid 0; a datagram on the udev group (2) from a uid-0
// process is a udevd re-broadcast (only when the listener asked for group 2). Anything else is a
// userspace sender (anyone with CAP_NET_ADMIN can send to group 1): dropped and counted in
// droppedSpoofed, unless the listener was opened with acceptUserspace (for tests, which inject
// dlm-shaped events that way).
//
// Overflow: NETLINK_NO_ENOBUFS is NOT set by default. When the receive queue overflows the
// kernel drops broadcasts and the next recvmsg fails with ENOBUFS; that is counted and reported
// to JS with the batch, so the consumer can rescan (for dlm: /sys/kernel/dlm/). A lost `online`
// would otherwise leave a mount hung for ever. The option noEnobufs sets NETLINK_NO_ENOBUFS for
// callers that prefer silence; overflow is then not observable (documented in lib/kernel/uevent.ts).
//
// JSON lines (option jsonLines, for `o2stack monitor --json`): each accepted datagram that
// uevent_jsonl.h calls plain is filtered and formatted here, into one buffer of lines per batch;
// only the others (and none in practice: the kernel's are plain) go to JS as messages, each with
// the byte offset in that buffer where its line belongs and its reception time.
//
// Lifetime: the uv_poll_t is heap-allocated and freed in its uv_close callback. close() stops the
// poll, closes the fd at once and starts uv_close. An async env cleanup hook does the same at env
// teardown and completes when the close callback has run. While open, the handle object is kept
// alive by a strong reference, so GC never silently stops a listener; close() releases it.
// The uv handle is unref'd by default (a listener does not keep the process alive) until ref().
#include <errno.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <string>
#include <vector>

#include "addon.h"
#include "polled.h"
#include "uevent_jsonl.h"

#ifndef NETLINK_KOBJECT_UEVENT
#define NETLINK_KOBJECT_UEVENT 15
#endif
#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif

namespace {

// Kernel uevents are at most 2048 bytes of environment plus "action@devpath\0"; libudev
// messages are larger but bounded by the same environment limit plus a 40-byte header.
// Anything longer than this is truncated by recvmsg (MSG_TRUNC) and dropped as malformed.
constexpr size_t kMaxDatagram = 16384;
// Upper bound of datagrams handed to JS per wake-up, so a flood cannot starve the loop; uv_poll
// is level-triggered and wakes again for the rest.
constexpr int kMaxBatch = 4096;
constexpr int kDefaultRcvbuf = 64 << 20;

constexpr uint8_t kSenderUserspace = 0;
constexpr uint8_t kSenderKernel = 1;
constexpr uint8_t kSenderUdev = 2;

const napi_type_tag kListenerTag = {0x6f3273756576656eULL, 0x744c697374656e31ULL};

struct Listener : o2s::Polled {
  bool acceptUserspace = false;
  bool udevGroup = false;
  int rcvbuf = 0;
  // Counters.
  double received = 0;  // datagrams read from the socket (before any check)
  double delivered = 0;
  double droppedSpoofed = 0;
  double droppedMalformed = 0;
  double overflows = 0;  // ENOBUFS reports (each means one or more datagrams lost)
  double wakeups = 0;
  // jsonLines mode
  bool jsonl = false;
  o2s::jsonl::Filter filter;
  double linesFormatted = 0;  // lines made here
  double linesFiltered = 0;   // plain datagrams the filter refused
  std::vector<char> buf = std::vector<char>(kMaxDatagram + 1);

  void OnReadable(int status, int events) override;
};

Listener* Unwrap(const Napi::CallbackInfo& info) { return o2s::Unwrap<Listener>(info, 0, &kListenerTag, "uevent listener handle"); }

struct Received {
  std::vector<std::string> messages;
  std::vector<uint8_t> senders;
  // jsonLines mode: the lines; per message, where its line goes and when it came (sec, usec)
  std::string lines;
  std::vector<uint32_t> positions;
  std::vector<double> times;
  int overflows = 0;
  int err = 0;  // a receive error other than EAGAIN/EINTR/ENOBUFS
};

void Drain(Listener* l, Received* r) {
  for (int i = 0; i < kMaxBatch; i++) {
    struct sockaddr_nl from;
    memset(&from, 0, sizeof from);
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(struct ucred))];
    struct iovec iov = {l->buf.data(), kMaxDatagram + 1};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(l->fd, &m, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == ENOBUFS) {
        // The kernel dropped broadcasts for this socket. Keep draining what is queued.
        l->overflows++;
        r->overflows++;
        continue;
      }
      r->err = errno;
      return;
    }
    l->received++;
    if (n == 0 || static_cast<size_t>(n) > kMaxDatagram || (m.msg_flags & MSG_TRUNC)) {
      l->droppedMalformed++;
      continue;
    }
    bool haveCred = false;
    struct ucred cred;
    memset(&cred, 0, sizeof cred);
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
        memcpy(&cred, CMSG_DATA(c), sizeof cred);
        haveCred = true;
      }
    }
    uint8_t sender = kSenderUserspace;
    bool root = haveCred && cred.uid == 0;
    if (root && from.nl_pid == 0) {
      sender = kSenderKernel;
    } else if (root && l->udevGroup && (from.nl_groups & 2) != 0) {
      sender = kSenderUdev;
    }
    if (sender == kSenderUserspace && !l->acceptUserspace) {
      l->droppedSpoofed++;
      continue;
    }
    if (l->jsonl) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      uint64_t sec = static_cast<uint64_t>(ts.tv_sec);
      uint32_t usec = static_cast<uint32_t>(ts.tv_nsec / 1000);
      o2s::jsonl::Outcome o = o2s::jsonl::FormatLine(l->buf.data(), static_cast<size_t>(n), sender, sec, usec, l->filter, &r->lines);
      if (o == o2s::jsonl::kFormatted) {
        l->linesFormatted++;
        continue;
      }
      if (o == o2s::jsonl::kFiltered) {
        l->linesFiltered++;
        continue;
      }
      r->positions.push_back(static_cast<uint32_t>(r->lines.size()));
      r->times.push_back(static_cast<double>(sec));
      r->times.push_back(static_cast<double>(usec));
    }
    r->messages.emplace_back(l->buf.data(), static_cast<size_t>(n));
    r->senders.push_back(sender);
  }
}

void Listener::OnReadable(int status, int /*events*/) {
  Listener* l = this;
  l->wakeups++;
  Received r;
  if (status < 0) {
    // libuv reports EPOLLERR as UV_EBADF and stops the handle. On a netlink socket the pending
    // error is sk_err: ENOBUFS when broadcasts were dropped. Fetch (and clear) it: an overflow
    // is counted and polling resumes; anything else goes to JS.
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(l->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (soerr == ENOBUFS || soerr == 0) {
      if (soerr == ENOBUFS) {
        l->overflows++;
        r.overflows++;
      }
      int rc = l->RestartPolling(UV_READABLE);
      if (rc != 0) {
        r.err = -rc;
      } else {
        Drain(l, &r);
      }
    } else {
      r.err = soerr;
    }
  } else {
    Drain(l, &r);
  }
  if (r.messages.empty() && r.lines.empty() && r.overflows == 0 && r.err == 0) return;
  l->delivered += static_cast<double>(r.messages.size());

  napi_env env = l->env;
  Napi::HandleScope scope(env);
  try {
    Napi::Env e(env);
    Napi::Array arr = Napi::Array::New(env, r.messages.size());
    for (size_t i = 0; i < r.messages.size(); i++)
      arr.Set(static_cast<uint32_t>(i), Napi::Buffer<char>::Copy(env, r.messages[i].data(), r.messages[i].size()));
    Napi::Uint8Array senders = Napi::Uint8Array::New(env, r.senders.size());
    if (!r.senders.empty()) memcpy(senders.Data(), r.senders.data(), r.senders.size());
    Napi::Value err = e.Null();
    if (r.err != 0) err = o2s::ErrnoError(env, r.err, "recvmsg", "").Value();
    if (l->jsonl) {
      Napi::Buffer<char> lines = Napi::Buffer<char>::Copy(env, r.lines.data(), r.lines.size());
      Napi::Uint32Array positions = Napi::Uint32Array::New(env, r.positions.size());
      if (!r.positions.empty()) memcpy(positions.Data(), r.positions.data(), r.positions.size() * sizeof(uint32_t));
      Napi::Float64Array times = Napi::Float64Array::New(env, r.times.size());
      if (!r.times.empty()) memcpy(times.Data(), r.times.data(), r.times.size() * sizeof(double));
      napi_value argv[7] = {arr, senders, Napi::Number::New(env, r.overflows), err, lines, positions, times};
      l->CallJs(7, argv);
    } else {
      napi_value argv[4] = {arr, senders, Napi::Number::New(env, r.overflows), err};
      l->CallJs(4, argv);
    }
  } catch (const Napi::Error& ex) {
    napi_fatal_exception(env, ex.Value());
  }
  // A socket error we cannot recover from: stop watching (JS got the error and closes).
  if (r.err != 0) l->StopPolling();
}

bool BoolOpt(const Napi::Object& o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

// One list of the jsonLines filter: absent (undefined) or an array of strings.
void FilterList(const Napi::Object& o, const char* key, bool* has, std::vector<std::string>* list) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return;
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string("jsonLines.") + key + " must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsString()) throw Napi::TypeError::New(o.Env(), std::string("jsonLines.") + key + " must be an array of strings");
    list->push_back(e.As<Napi::String>().Utf8Value());
  }
  *has = true;
}

o2s::jsonl::Filter ParseFilter(const Napi::Object& o) {
  o2s::jsonl::Filter f;
  FilterList(o, "subsystem", &f.hasSubsystems, &f.subsystems);
  FilterList(o, "action", &f.hasActions, &f.actions);
  FilterList(o, "devpathPrefix", &f.hasDevpathPrefixes, &f.devpathPrefixes);
  return f;
}

// open({kernel=true, udev=false, acceptUserspace=false, noEnobufs=false, receiveBufferBytes},
//      onBatch(buffers, senders: Uint8Array, overflows: number, error: Error|null)) -> handle
// With jsonLines: {subsystem?, action?, devpathPrefix?} (string arrays), onBatch also gets
// (lines: Buffer, positions: Uint32Array, times: Float64Array of sec, usec per message).
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
  if (info.Length() < 2 || !info[1].IsFunction()) throw Napi::TypeError::New(env, "onBatch must be a function");
  bool kernelGroup = BoolOpt(opts, "kernel", true);
  bool udevGroup = BoolOpt(opts, "udev", false);
  bool acceptUserspace = BoolOpt(opts, "acceptUserspace", false);
  bool noEnobufs = BoolOpt(opts, "noEnobufs", false);
  int rcvbuf = kDefaultRcvbuf;
  Napi::Value rb = opts.Get("receiveBufferBytes");
  if (rb.IsNumber()) {
    double d = rb.As<Napi::Number>().DoubleValue();
    if (!(d >= 4096 && d <= (1 << 30))) throw Napi::RangeError::New(env, "receiveBufferBytes must be between 4096 and 1 GiB");
    rcvbuf = static_cast<int>(d);
  }
  if (!kernelGroup && !udevGroup) throw Napi::TypeError::New(env, "listen to at least one of the kernel and udev groups");
  Napi::Value jl = opts.Get("jsonLines");
  bool jsonl = !jl.IsUndefined();
  if (jsonl && !jl.IsObject()) throw Napi::TypeError::New(env, "jsonLines must be an object (the filter)");
  o2s::jsonl::Filter filter = jsonl ? ParseFilter(jl.As<Napi::Object>()) : o2s::jsonl::Filter();

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) throw o2s::ErrnoError(env, errno, "socket", "");
  auto fail = [&](const char* call) {
    int e = errno;
    close(fd);
    return o2s::ErrnoError(env, e, call, "");
  };
  // A large queue: uevents come in bursts (udev coldplug, dlm joins of many volumes).
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) {
    // Without CAP_NET_ADMIN: SO_RCVBUF, capped by net.core.rmem_max.
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) throw fail("setsockopt");
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) throw fail("setsockopt");
  if (noEnobufs && setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one) != 0) throw fail("setsockopt");
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof addr);
  addr.nl_family = AF_NETLINK;
  addr.nl_pid = 0;  // let the kernel pick a port id
  addr.nl_groups = (kernelGroup ? 1u : 0u) | (udevGroup ? 2u : 0u);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) throw fail("bind");
  int actual = 0;
  socklen_t alen = sizeof actual;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &actual, &alen);

  Listener* l = new Listener();
  l->fd = fd;
  l->acceptUserspace = acceptUserspace;
  l->udevGroup = udevGroup;
  l->rcvbuf = actual;
  l->jsonl = jsonl;
  l->filter = std::move(filter);

  return l->Attach(env, &kListenerTag, info[1], "o2stack:uevent", UV_READABLE, false);
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
  Listener* l = Unwrap(info);
  Napi::Object o = Napi::Object::New(env);
  o.Set("received", l->received);
  o.Set("delivered", l->delivered);
  o.Set("droppedSpoofed", l->droppedSpoofed);
  o.Set("droppedMalformed", l->droppedMalformed);
  o.Set("overflows", l->overflows);
  o.Set("wakeups", l->wakeups);
  o.Set("linesFormatted", l->linesFormatted);
  o.Set("linesFiltered", l->linesFiltered);
  o.Set("receiveBufferBytes", l->rcvbuf);
  o.Set("fd", l->fd);
  o.Set("open", l->open());
  o.Set("refed", l->refed());
  return o;
}

// TEST-ONLY. sendForTest(buffers | buffer, group = 1) -> number sent.
// Sends datagrams from a fresh userspace netlink socket (nl_pid != 0) to a uevent multicast
// group, exactly as a malicious or test process with CAP_NET_ADMIN could. Listeners drop these
// unless opened with acceptUserspace. Used by tests and bench/uevent.ts to inject
// dlm-shaped or malformed datagrams quickly; nothing in lib/ calls it.
Napi::Value SendForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::pair<const char*, size_t>> msgs;
  if (info.Length() > 0 && info[0].IsBuffer()) {
    auto b = info[0].As<Napi::Buffer<char>>();
    msgs.emplace_back(b.Data(), b.Length());
  } else if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsBuffer()) throw Napi::TypeError::New(env, "sendForTest: every message must be a Buffer");
      auto b = v.As<Napi::Buffer<char>>();
      msgs.emplace_back(b.Data(), b.Length());
    }
  } else {
    throw Napi::TypeError::New(env, "sendForTest: expected a Buffer or an array of Buffers");
  }
  uint32_t group = 1;
  if (info.Length() > 1 && info[1].IsNumber()) group = info[1].As<Napi::Number>().Uint32Value();
  if (group != 1 && group != 2) throw Napi::RangeError::New(env, "sendForTest: group must be 1 or 2");
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) throw o2s::ErrnoError(env, errno, "socket", "");
  struct sockaddr_nl dst;
  memset(&dst, 0, sizeof dst);
  dst.nl_family = AF_NETLINK;
  dst.nl_groups = group;
  size_t sent = 0;
  for (const auto& m : msgs) {
    ssize_t n;
    do {
      n = sendto(fd, m.first, m.second, 0, reinterpret_cast<struct sockaddr*>(&dst), sizeof dst);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      // ECONNREFUSED means no listener on the group: not an error for a broadcast.
      if (errno == ECONNREFUSED) {
        sent++;
        continue;
      }
      int e = errno;
      close(fd);
      throw o2s::ErrnoError(env, e, "sendto", "");
    }
    sent++;
  }
  close(fd);
  return Napi::Number::New(env, static_cast<double>(sent));
}

// TEST-ONLY. formatJsonLineForTest(datagram, sender, sec, usec, filter) -> the line, 'filtered', or
// null (not plain: the JavaScript path formats it). test/kernel/ueventJsonl.test.ts compares it
// with lib/model/uevent.ts.
Napi::Value FormatJsonLineForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsBuffer() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() || !info[4].IsObject())
    throw Napi::TypeError::New(env, "formatJsonLineForTest(datagram, sender, sec, usec, filter)");
  auto b = info[0].As<Napi::Buffer<char>>();
  std::string out;
  o2s::jsonl::Outcome o = o2s::jsonl::FormatLine(b.Data(), b.Length(), static_cast<uint8_t>(info[1].As<Napi::Number>().Uint32Value()),
                                                 static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value()), info[3].As<Napi::Number>().Uint32Value(),
                                                 ParseFilter(info[4].As<Napi::Object>()), &out);
  if (o == o2s::jsonl::kFormatted) return Napi::String::New(env, out);
  if (o == o2s::jsonl::kFiltered) return Napi::String::New(env, "filtered");
  return env.Null();
}

void InitUevent(Napi::Env env, Napi::Object exports) {
  Napi::Object u = Napi::Object::New(env);
  u.Set("open", Napi::Function::New(env, Open, "open"));
  u.Set("close", Napi::Function::New(env, Close, "close"));
  u.Set("ref", Napi::Function::New(env, Ref, "ref"));
  u.Set("unref", Napi::Function::New(env, Unref, "unref"));
  u.Set("stats", Napi::Function::New(env, Stats, "stats"));
  u.Set("sendForTest", Napi::Function::New(env, SendForTest, "sendForTest"));
  u.Set("formatJsonLineForTest", Napi::Function::New(env, FormatJsonLineForTest, "formatJsonLineForTest"));
  u.Set("SENDER_USERSPACE", kSenderUserspace);
  u.Set("SENDER_KERNEL", kSenderKernel);
  u.Set("SENDER_UDEV", kSenderUdev);
  u.Set("MAX_DATAGRAM", static_cast<double>(kMaxDatagram));
  exports.Set("uevent", u);
}

}  // namespace

O2S_REGISTER_SURFACE(uevent, InitUevent);
