// Surface "corosync": membership from corosync's own client libraries (libcpg, libquorum, libcmap).
//
// The addon neither includes corosync's headers nor links its libraries: native/corosync_api.h
// declares the ABI, and load() (called by lib/kernel/native.ts when the surface is first used)
// dlopens libcpg.so.4, libquorum.so.5 and libcmap.so.4. Until it succeeds every other function
// throws E_NO_COROSYNC; load() says what is missing and what to install.
//
// Event loop: every CPG or quorum connection is one libqb IPC connection with its own fd. The fd
// is watched with uv_poll on the loop of the env that opened it (napi_get_uv_event_loop, never
// uv_default_loop), one uv_poll_t per fd. On readable, *_dispatch(CS_DISPATCH_ALL) runs on the
// loop thread; the corosync callbacks it calls only record events (copies), and once dispatch
// has returned the recorded events go to ONE JS callback as an array. So JS never runs inside
// corosync's dispatch, and a JS close() or join() from an event handler cannot re-enter it.
//
// When corosync goes away, the fd hangs up and dispatch fails (CS_ERR_LIBRARY / BAD_HANDLE):
// the connection stops polling and delivers a final {type: 'down', error} event; JS then
// calls close(). Calls that return CS_ERR_TRY_AGAIN (corosync starting, syncing, or flow
// control) throw an Error with code 'CS_ERR_TRY_AGAIN'; the TypeScript layer retries them from a
// timer with a bound, never by sleeping on the loop thread.
//
// Lifetime: as in uevent.cc. The uv_poll_t is heap-allocated and freed in its close callback;
// close() stops the poll, finalizes the corosync handle (which closes the fd) and uv_closes.
// An async env cleanup hook does the same at env teardown. While open, the JS handle object is
// held by a strong reference so GC never silently disconnects; close() releases it. Handles are
// ref'd (they keep the process alive, like a socket) until unref().
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <uv.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "addon.h"
#include "corosync_api.h"
#include "polled.h"

// ---------------------------------------------------------------------------------------------
// Loading the libraries

namespace o2s {
namespace cs {

namespace {
std::mutex gLoadMutex;
std::atomic<const Api*> gApi{nullptr};
Api gApiStorage;
}  // namespace

const Api* LoadApi(std::string* why) {
  const Api* ready = gApi.load(std::memory_order_acquire);
  if (ready != nullptr) return ready;
  std::lock_guard<std::mutex> lock(gLoadMutex);
  if ((ready = gApi.load(std::memory_order_acquire)) != nullptr) return ready;
  const char* names[] = {kLibCpg, kLibQuorum, kLibCmap};
  void* libs[3] = {nullptr, nullptr, nullptr};
  for (int i = 0; i < 3; i++) {
    // RTLD_LOCAL: nothing of corosync's joins the process's global symbol namespace.
    libs[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (libs[i] == nullptr) {
      const char* err = dlerror();
      *why = std::string(names[i]) + " could not be loaded (" + (err ? err : "dlopen failed") +
             "): corosync's client libraries are not installed. Install them: apt-get install libcpg4 libquorum5 "
             "libcmap4 (Debian, Ubuntu; they come with the corosync package), dnf install corosynclib (RHEL, "
             "Fedora), zypper install libcorosync-4 (SUSE)";
      // A library already opened stays open: dlclose of libqb-based libraries is not worth the risk.
      return nullptr;
    }
  }
  enum { cpg, quorum, cmap };  // index into libs by the library column of O2S_CS_FUNCTIONS
  Api api;
  void* sym = nullptr;
#define O2S_CS_RESOLVE(lib, name, ret, params)                                                                  \
  sym = dlsym(libs[lib], #name);                                                                                \
  if (sym == nullptr) {                                                                                         \
    *why = std::string(names[lib]) + " has no " #name                                                           \
           ": not the corosync 3.x client ABI this addon uses (libcpg.so.4, libquorum.so.5, libcmap.so.4)";      \
    return nullptr;                                                                                             \
  }                                                                                                             \
  api.name = reinterpret_cast<ret(*) params>(sym);
  O2S_CS_FUNCTIONS(O2S_CS_RESOLVE)
#undef O2S_CS_RESOLVE
  gApiStorage = api;
  gApi.store(&gApiStorage, std::memory_order_release);
  return &gApiStorage;
}

const Api* LoadedApi() { return gApi.load(std::memory_order_acquire); }

}  // namespace cs
}  // namespace o2s

namespace {

using namespace o2s::cs;

// The loaded API, where it must be loaded: a connection exists only once it was.
inline const Api& Cs() { return *LoadedApi(); }

// The loaded API; every JS entry point that opens something goes through here first.
const Api& RequireApi(Napi::Env env) {
  const Api* api = LoadedApi();
  if (api == nullptr) {
    Napi::Object fields = Napi::Object::New(env);
    fields.Set("code", Napi::String::New(env, "E_NO_COROSYNC"));
    fields.Set("csError", Napi::Number::New(env, 0));
    fields.Set("call", Napi::String::New(env, "load"));
    throw o2s::ClassError(env, o2s::ErrorClass::Corosync, fields, "corosync support is not loaded: call load() first");
  }
  return *api;
}

// ---------------------------------------------------------------------------------------------
// Errors

struct CsName {
  cs_error_t err;
  const char* name;
};

const CsName kCsNames[] = {
    {CS_OK, "CS_OK"},
    {CS_ERR_LIBRARY, "CS_ERR_LIBRARY"},
    {CS_ERR_VERSION, "CS_ERR_VERSION"},
    {CS_ERR_INIT, "CS_ERR_INIT"},
    {CS_ERR_TIMEOUT, "CS_ERR_TIMEOUT"},
    {CS_ERR_TRY_AGAIN, "CS_ERR_TRY_AGAIN"},
    {CS_ERR_INVALID_PARAM, "CS_ERR_INVALID_PARAM"},
    {CS_ERR_NO_MEMORY, "CS_ERR_NO_MEMORY"},
    {CS_ERR_BAD_HANDLE, "CS_ERR_BAD_HANDLE"},
    {CS_ERR_BUSY, "CS_ERR_BUSY"},
    {CS_ERR_ACCESS, "CS_ERR_ACCESS"},
    {CS_ERR_NOT_EXIST, "CS_ERR_NOT_EXIST"},
    {CS_ERR_NAME_TOO_LONG, "CS_ERR_NAME_TOO_LONG"},
    {CS_ERR_EXIST, "CS_ERR_EXIST"},
    {CS_ERR_NO_SPACE, "CS_ERR_NO_SPACE"},
    {CS_ERR_INTERRUPT, "CS_ERR_INTERRUPT"},
    {CS_ERR_NAME_NOT_FOUND, "CS_ERR_NAME_NOT_FOUND"},
    {CS_ERR_NO_RESOURCES, "CS_ERR_NO_RESOURCES"},
    {CS_ERR_NOT_SUPPORTED, "CS_ERR_NOT_SUPPORTED"},
    {CS_ERR_BAD_OPERATION, "CS_ERR_BAD_OPERATION"},
    {CS_ERR_FAILED_OPERATION, "CS_ERR_FAILED_OPERATION"},
    {CS_ERR_MESSAGE_ERROR, "CS_ERR_MESSAGE_ERROR"},
    {CS_ERR_QUEUE_FULL, "CS_ERR_QUEUE_FULL"},
    {CS_ERR_QUEUE_NOT_AVAILABLE, "CS_ERR_QUEUE_NOT_AVAILABLE"},
    {CS_ERR_BAD_FLAGS, "CS_ERR_BAD_FLAGS"},
    {CS_ERR_TOO_BIG, "CS_ERR_TOO_BIG"},
    {CS_ERR_NO_SECTIONS, "CS_ERR_NO_SECTIONS"},
    {CS_ERR_CONTEXT_NOT_FOUND, "CS_ERR_CONTEXT_NOT_FOUND"},
    {CS_ERR_TOO_MANY_GROUPS, "CS_ERR_TOO_MANY_GROUPS"},
    {CS_ERR_SECURITY, "CS_ERR_SECURITY"},
};

std::string CsErrorName(cs_error_t e) {
  for (const auto& n : kCsNames)
    if (n.err == e) return n.name;
  return "CS_ERR_" + std::to_string(static_cast<int>(e));
}

const char* CsErrorText(cs_error_t e) {
  switch (e) {
    case CS_ERR_LIBRARY: return "cannot talk to corosync (no connection or it went away)";
    case CS_ERR_BAD_HANDLE: return "the corosync connection is closed";
    case CS_ERR_TRY_AGAIN: return "corosync is busy, try again";
    case CS_ERR_ACCESS: return "access denied by corosync";
    case CS_ERR_SECURITY: return "refused by corosync's IPC security check";
    case CS_ERR_EXIST: return "already exists";
    case CS_ERR_NOT_EXIST: return "does not exist";
    case CS_ERR_NAME_TOO_LONG: return "name too long";
    case CS_ERR_INVALID_PARAM: return "invalid parameter";
    case CS_ERR_NO_MEMORY: return "out of memory";
    case CS_ERR_TOO_BIG: return "message too big";
    case CS_ERR_NO_RESOURCES: return "corosync is out of resources";
    case CS_ERR_TIMEOUT: return "timed out";
    default: return "corosync call failed";
  }
}

// The fix for the admin, by error and call.
std::string CsHint(cs_error_t e, const std::string& call) {
  switch (e) {
    case CS_ERR_LIBRARY:
    case CS_ERR_BAD_HANDLE:
      return "is corosync running? systemctl start corosync; a client reaches only the corosync of its own "
             "network namespace";
    case CS_ERR_TRY_AGAIN:
      return "corosync is starting, re-forming the membership, or applying flow control: retry shortly";
    case CS_ERR_ACCESS:
    case CS_ERR_SECURITY:
      return "corosync IPC needs root, or a uidgid entry in corosync.conf for this user";
    case CS_ERR_EXIST:
      if (call == "cpg_join") return "one CPG group per connection: open another connection for a second group";
      return "";
    case CS_ERR_NOT_EXIST:
      if (call.rfind("cmap_", 0) == 0) return "the key is not in corosync's cmap (check corosync.conf)";
      if (call == "cpg_leave" || call == "cpg_mcast_joined") return "join the group first";
      return "";
    case CS_ERR_NAME_TOO_LONG:
      return "CPG group names are at most 127 bytes";
    default:
      return "";
  }
}

// An Error with code 'CS_ERR_…', csError (the number), call, hint and (optionally) the group/key.
Napi::Error CsError(Napi::Env env, cs_error_t err, const char* call, const std::string& subject = "") {
  std::string code = CsErrorName(err);
  std::string hint = CsHint(err, call);
  std::string msg = code + ": " + CsErrorText(err) + ", " + call;
  if (!subject.empty()) msg += " '" + subject + "'";
  if (!hint.empty()) msg += " \u2014 " + hint;
  Napi::Object fields = Napi::Object::New(env);
  fields.Set("code", Napi::String::New(env, code));
  fields.Set("csError", Napi::Number::New(env, static_cast<int>(err)));
  fields.Set("call", Napi::String::New(env, call));
  if (!subject.empty()) fields.Set("subject", Napi::String::New(env, subject));
  if (!hint.empty()) fields.Set("hint", Napi::String::New(env, hint));
  return o2s::ClassError(env, o2s::ErrorClass::Corosync, fields, msg);
}

// ---------------------------------------------------------------------------------------------
// Connections

enum class Kind { Cpg, Quorum };

struct Address {
  uint32_t nodeid, pid, reason;
};

// One recorded callback, copied out of corosync's buffers during dispatch.
struct Event {
  enum Type { Confchg, Message, Totem, Quorum, Nodelist } type;
  std::string group;
  std::vector<Address> members, left, joined;  // Confchg
  uint32_t nodeid = 0, pid = 0;                // Message
  std::string data;                            // Message
  uint32_t ringNode = 0;                       // Totem/Quorum/Nodelist
  uint64_t ringSeq = 0;
  std::vector<uint32_t> ids, idsJoined, idsLeft;  // Totem/Quorum members; Nodelist
  bool quorate = false;
};

const napi_type_tag kConnTag = {0x6f3273636f726f73ULL, 0x796e63436f6e6e31ULL};

struct Conn : o2s::Polled {
  Kind kind;
  uint64_t handle = 0;  // cpg_handle_t or quorum_handle_t (both uint64_t)
  bool initialized = false;
  bool down = false;  // corosync went away; polling stopped
  uint32_t quorumType = 0;
  std::string group;  // CPG: the joined group (empty when none)
  std::vector<Event> pending;
  double dispatches = 0, events = 0, wakeups = 0;

  void OnReadable(int status, int events) override;
  // Finalizes the corosync handle, which closes its fd.
  void CloseResource() override;
};

std::string GroupString(const struct cpg_name* n) {
  size_t len = n->length > CPG_MAX_NAME_LENGTH ? CPG_MAX_NAME_LENGTH : n->length;
  std::string s(n->value, len);
  // Groups are joined with their terminating NUL (as dlm_controld does); strip it for JS.
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

Conn* ConnFromContext(uint64_t h, Kind kind) {
  if (kind == Kind::Cpg) {
    void* ctx = nullptr;
    if (Cs().cpg_context_get(h, &ctx) != CS_OK) return nullptr;
    return static_cast<Conn*>(ctx);
  }
  const void* ctx = nullptr;
  if (Cs().quorum_context_get(h, &ctx) != CS_OK) return nullptr;
  return static_cast<Conn*>(const_cast<void*>(ctx));
}

std::vector<Address> Addresses(const struct cpg_address* a, size_t n) {
  std::vector<Address> out;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) out.push_back({a[i].nodeid, a[i].pid, a[i].reason});
  return out;
}

void OnCpgDeliver(cpg_handle_t h, const struct cpg_name* group, uint32_t nodeid, uint32_t pid, void* msg, size_t len) {
  Conn* c = ConnFromContext(h, Kind::Cpg);
  if (c == nullptr || !c->open()) return;
  Event e;
  e.type = Event::Message;
  e.group = GroupString(group);
  e.nodeid = nodeid;
  e.pid = pid;
  e.data.assign(static_cast<const char*>(msg), len);
  c->pending.push_back(std::move(e));
}

void OnCpgConfchg(cpg_handle_t h, const struct cpg_name* group, const struct cpg_address* members, size_t nm,
                  const struct cpg_address* left, size_t nl, const struct cpg_address* joined, size_t nj) {
  Conn* c = ConnFromContext(h, Kind::Cpg);
  if (c == nullptr || !c->open()) return;
  Event e;
  e.type = Event::Confchg;
  e.group = GroupString(group);
  e.members = Addresses(members, nm);
  e.left = Addresses(left, nl);
  e.joined = Addresses(joined, nj);
  c->pending.push_back(std::move(e));
}

void OnCpgTotem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t* members) {
  Conn* c = ConnFromContext(h, Kind::Cpg);
  if (c == nullptr || !c->open()) return;
  Event e;
  e.type = Event::Totem;
  e.ringNode = ring.nodeid;
  e.ringSeq = ring.seq;
  e.ids.assign(members, members + n);
  c->pending.push_back(std::move(e));
}

void OnQuorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n, const uint32_t* members) {
  Conn* c = ConnFromContext(h, Kind::Quorum);
  if (c == nullptr || !c->open()) return;
  Event e;
  e.type = Event::Quorum;
  e.quorate = quorate != 0;
  e.ringNode = ring.nodeid;
  e.ringSeq = ring.seq;
  e.ids.assign(members, members + n);
  c->pending.push_back(std::move(e));
}

void OnNodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t nm, const uint32_t* members, uint32_t nj,
                const uint32_t* joined, uint32_t nl, const uint32_t* left) {
  Conn* c = ConnFromContext(h, Kind::Quorum);
  if (c == nullptr || !c->open()) return;
  Event e;
  e.type = Event::Nodelist;
  e.ringNode = ring.nodeid;
  e.ringSeq = ring.seq;
  e.ids.assign(members, members + nm);
  e.idsJoined.assign(joined, joined + nj);
  e.idsLeft.assign(left, left + nl);
  c->pending.push_back(std::move(e));
}

void FinalizeCorosync(Conn* c) {
  if (!c->initialized) return;
  c->initialized = false;
  if (c->kind == Kind::Cpg)
    Cs().cpg_finalize(c->handle);
  else
    Cs().quorum_finalize(c->handle);
  c->fd = -1;  // closed by finalize
}

void Conn::CloseResource() {
  pending.clear();
  FinalizeCorosync(this);
}

Napi::Array AddressArray(Napi::Env env, const std::vector<Address>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("nodeid", static_cast<double>(v[i].nodeid));
    o.Set("pid", static_cast<double>(v[i].pid));
    o.Set("reason", static_cast<double>(v[i].reason));
    a.Set(static_cast<uint32_t>(i), o);
  }
  return a;
}

Napi::Array IdArray(Napi::Env env, const std::vector<uint32_t>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), static_cast<double>(v[i]));
  return a;
}

Napi::Object RingId(Napi::Env env, uint32_t node, uint64_t seq) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("nodeid", static_cast<double>(node));
  // Ring sequence numbers grow by a few per membership change; 2^53 is out of reach.
  o.Set("seq", static_cast<double>(seq));
  return o;
}

Napi::Object EventObject(Napi::Env env, const Event& e) {
  Napi::Object o = Napi::Object::New(env);
  switch (e.type) {
    case Event::Confchg:
      o.Set("type", "confchg");
      o.Set("group", e.group);
      o.Set("members", AddressArray(env, e.members));
      o.Set("left", AddressArray(env, e.left));
      o.Set("joined", AddressArray(env, e.joined));
      break;
    case Event::Message:
      o.Set("type", "message");
      o.Set("group", e.group);
      o.Set("nodeid", static_cast<double>(e.nodeid));
      o.Set("pid", static_cast<double>(e.pid));
      o.Set("data", Napi::Buffer<char>::Copy(env, e.data.data(), e.data.size()));
      break;
    case Event::Totem:
      o.Set("type", "totem");
      o.Set("ringId", RingId(env, e.ringNode, e.ringSeq));
      o.Set("members", IdArray(env, e.ids));
      break;
    case Event::Quorum:
      o.Set("type", "quorum");
      o.Set("quorate", e.quorate);
      o.Set("ringId", RingId(env, e.ringNode, e.ringSeq));
      o.Set("members", IdArray(env, e.ids));
      break;
    case Event::Nodelist:
      o.Set("type", "nodelist");
      o.Set("ringId", RingId(env, e.ringNode, e.ringSeq));
      o.Set("members", IdArray(env, e.ids));
      o.Set("joined", IdArray(env, e.idsJoined));
      o.Set("left", IdArray(env, e.idsLeft));
      break;
  }
  return o;
}

// Hands the recorded events (and a final 'down' event if downErr != CS_OK) to JS.
void Deliver(Conn* c, cs_error_t downErr, const char* downCall) {
  if (!c->hasCallback()) {
    c->pending.clear();
    return;
  }
  std::vector<Event> events;
  events.swap(c->pending);
  if (events.empty() && downErr == CS_OK) return;
  napi_env env = c->env;
  Napi::HandleScope scope(env);
  try {
    size_t n = events.size() + (downErr != CS_OK ? 1 : 0);
    Napi::Array arr = Napi::Array::New(env, n);
    for (size_t i = 0; i < events.size(); i++) arr.Set(static_cast<uint32_t>(i), EventObject(env, events[i]));
    if (downErr != CS_OK) {
      Napi::Object d = Napi::Object::New(env);
      d.Set("type", "down");
      d.Set("error", CsError(env, downErr, downCall, c->group).Value());
      arr.Set(static_cast<uint32_t>(events.size()), d);
    }
    c->events += static_cast<double>(events.size());
    napi_value argv[1] = {arr};
    c->CallJs(1, argv);
  } catch (const Napi::Error& ex) {
    napi_fatal_exception(env, ex.Value());
  }
}

void Conn::OnReadable(int status, int events) {
  Conn* c = this;
  if (c->down || !c->initialized) return;
  c->wakeups++;
  cs_error_t r = CS_OK;
  const char* call = c->kind == Kind::Cpg ? "cpg_dispatch" : "quorum_dispatch";
  if (status < 0) {
    r = CS_ERR_LIBRARY;
    call = "uv_poll";
  } else {
    r = c->kind == Kind::Cpg ? Cs().cpg_dispatch(c->handle, CS_DISPATCH_ALL) : Cs().quorum_dispatch(c->handle, CS_DISPATCH_ALL);
    c->dispatches++;
    // TRY_AGAIN from a non-blocking dispatch just means nothing (more) was queued.
    if (r == CS_ERR_TRY_AGAIN) r = CS_OK;
    // A hang-up that dispatch did not notice (no event left) is still the end of the connection.
    if (r == CS_OK && (events & UV_DISCONNECT) != 0 && c->pending.empty()) r = CS_ERR_LIBRARY;
  }
  if (r != CS_OK) {
    // corosync went away (or the connection broke): level-triggered polling would spin on the
    // hung-up fd, so stop now; JS gets the events already recorded, then 'down'.
    c->down = true;
    c->StopPolling();
  }
  Deliver(c, r, call);
}

Conn* Unwrap(const Napi::CallbackInfo& info) { return o2s::Unwrap<Conn>(info, 0, &kConnTag, "corosync connection handle"); }

Conn* UnwrapOpen(const Napi::CallbackInfo& info, Kind kind) {
  Conn* c = Unwrap(info);
  if (c->kind != kind)
    throw Napi::TypeError::New(info.Env(), kind == Kind::Cpg ? "not a CPG connection" : "not a quorum connection");
  if (!c->open() || !c->initialized) throw CsError(info.Env(), CS_ERR_BAD_HANDLE, "closed connection");
  return c;
}

// Wraps an initialized corosync handle in a JS object and starts polling its fd. Ref'd: an open
// connection keeps the process alive, like a socket.
Napi::Object Attach(Napi::Env env, Conn* c, Napi::Function cb, const char* resource) {
  return c->Attach(env, &kConnTag, cb, resource, UV_READABLE | UV_DISCONNECT, true);
}

Napi::Function CallbackArg(const Napi::CallbackInfo& info, size_t idx) {
  if (info.Length() <= idx || !info[idx].IsFunction()) throw Napi::TypeError::New(info.Env(), "onEvents must be a function");
  return info[idx].As<Napi::Function>();
}

// cpgOpen(onEvents(events[])) -> handle. One group per connection (corosync's rule).
Napi::Value CpgOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireApi(env);
  Napi::Function cb = CallbackArg(info, 0);
  Conn* c = new Conn();
  c->kind = Kind::Cpg;
  cpg_model_v1_data_t model;
  memset(&model, 0, sizeof model);
  model.model = CPG_MODEL_V1;
  model.cpg_deliver_fn = OnCpgDeliver;
  model.cpg_confchg_fn = OnCpgConfchg;
  model.cpg_totem_confchg_fn = OnCpgTotem;
  model.flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
  cpg_handle_t h = 0;
  cs_error_t r = Cs().cpg_model_initialize(&h, CPG_MODEL_V1, reinterpret_cast<cpg_model_data_t*>(&model), c);
  if (r != CS_OK) {
    delete c;
    throw CsError(env, r, "cpg_model_initialize");
  }
  c->handle = h;
  c->initialized = true;
  int fd = -1;
  r = Cs().cpg_fd_get(h, &fd);
  if (r != CS_OK) {
    FinalizeCorosync(c);
    delete c;
    throw CsError(env, r, "cpg_fd_get");
  }
  c->fd = fd;
  return Attach(env, c, cb, "o2stack:cpg");
}

bool CpgName(Napi::Env env, const Napi::Value& v, struct cpg_name* out, std::string* s) {
  if (!v.IsString()) throw Napi::TypeError::New(env, "group must be a string");
  *s = v.As<Napi::String>().Utf8Value();
  if (s->empty()) throw Napi::TypeError::New(env, "group must not be empty");
  if (s->find('\0') != std::string::npos) throw Napi::TypeError::New(env, "group must not contain NUL");
  // With its terminating NUL, as dlm_controld joins its groups, so names interoperate.
  if (s->size() + 1 > CPG_MAX_NAME_LENGTH) throw CsError(env, CS_ERR_NAME_TOO_LONG, "cpg_join", *s);
  memset(out, 0, sizeof *out);
  memcpy(out->value, s->data(), s->size());
  out->length = static_cast<uint32_t>(s->size() + 1);
  return true;
}

// cpgJoin(h, group). Throws CS_ERR_TRY_AGAIN for the caller to retry.
Napi::Value CpgJoin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Cpg);
  struct cpg_name name;
  std::string s;
  CpgName(env, info[1], &name, &s);
  cs_error_t r = Cs().cpg_join(c->handle, &name);
  if (r != CS_OK) throw CsError(env, r, "cpg_join", s);
  c->group = s;
  return env.Undefined();
}

Napi::Value CpgLeave(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Cpg);
  struct cpg_name name;
  std::string s;
  CpgName(env, info[1], &name, &s);
  cs_error_t r = Cs().cpg_leave(c->handle, &name);
  if (r != CS_OK) throw CsError(env, r, "cpg_leave", s);
  return env.Undefined();
}

// cpgSend(h, data: Buffer|string): one message, CPG_TYPE_AGREED (total order, sender included).
Napi::Value CpgSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Cpg);
  std::string data = o2s::BytesArg(info.Length() > 1 ? info[1] : env.Undefined(), "data");
  struct iovec iov;
  iov.iov_base = const_cast<char*>(data.data());
  iov.iov_len = data.size();
  cs_error_t r = Cs().cpg_mcast_joined(c->handle, CPG_TYPE_AGREED, &iov, 1);
  if (r != CS_OK) throw CsError(env, r, "cpg_mcast_joined", c->group);
  return env.Undefined();
}

Napi::Value CpgLocalNodeId(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Cpg);
  unsigned int id = 0;
  cs_error_t r = Cs().cpg_local_get(c->handle, &id);
  if (r != CS_OK) throw CsError(env, r, "cpg_local_get");
  return Napi::Number::New(env, id);
}

// cpgMembers(h, group) -> [{nodeid, pid, reason}]: the group's members now (cpg_membership_get).
Napi::Value CpgMembers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Cpg);
  struct cpg_name name;
  std::string s;
  CpgName(env, info[1], &name, &s);
  std::vector<struct cpg_address> list(CPG_MEMBERS_MAX);
  int n = CPG_MEMBERS_MAX;
  cs_error_t r = Cs().cpg_membership_get(c->handle, &name, list.data(), &n);
  if (r != CS_OK) throw CsError(env, r, "cpg_membership_get", s);
  if (n < 0) n = 0;
  if (n > CPG_MEMBERS_MAX) n = CPG_MEMBERS_MAX;
  return AddressArray(env, Addresses(list.data(), static_cast<size_t>(n)));
}

Napi::Value CpgMaxMessageSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Cpg);
  uint32_t size = 0;
  cs_error_t r = Cs().cpg_max_atomic_msgsize_get(c->handle, &size);
  if (r != CS_OK) throw CsError(env, r, "cpg_max_atomic_msgsize_get");
  return Napi::Number::New(env, size);
}

// quorumOpen(onEvents(events[])) -> handle. Tracks the current state and every change, so the
// first 'quorum' and 'nodelist' events arrive right away.
Napi::Value QuorumOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireApi(env);
  Napi::Function cb = CallbackArg(info, 0);
  Conn* c = new Conn();
  c->kind = Kind::Quorum;
  quorum_model_v1_data_t model;
  memset(&model, 0, sizeof model);
  model.model = QUORUM_MODEL_V1;
  model.quorum_notify_fn = OnQuorum;
  model.nodelist_notify_fn = OnNodelist;
  quorum_handle_t h = 0;
  uint32_t type = 0;
  cs_error_t r = Cs().quorum_model_initialize(&h, QUORUM_MODEL_V1, reinterpret_cast<quorum_model_data_t*>(&model), &type, c);
  if (r != CS_OK) {
    delete c;
    throw CsError(env, r, "quorum_model_initialize");
  }
  c->handle = h;
  c->initialized = true;
  c->quorumType = type;
  int fd = -1;
  r = Cs().quorum_fd_get(h, &fd);
  if (r == CS_OK) r = Cs().quorum_trackstart(h, CS_TRACK_CURRENT | CS_TRACK_CHANGES);
  if (r != CS_OK) {
    FinalizeCorosync(c);
    delete c;
    throw CsError(env, r, fd < 0 ? "quorum_fd_get" : "quorum_trackstart");
  }
  c->fd = fd;
  return Attach(env, c, cb, "o2stack:quorum");
}

Napi::Value QuorumGetQuorate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = UnwrapOpen(info, Kind::Quorum);
  int q = 0;
  cs_error_t r = Cs().quorum_getquorate(c->handle, &q);
  if (r != CS_OK) throw CsError(env, r, "quorum_getquorate");
  return Napi::Boolean::New(env, q != 0);
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

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = Unwrap(info);
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", c->kind == Kind::Cpg ? "cpg" : "quorum");
  o.Set("fd", c->fd);
  o.Set("open", c->open());
  o.Set("down", c->down);
  o.Set("refed", c->refed());
  o.Set("dispatches", c->dispatches);
  o.Set("events", c->events);
  o.Set("wakeups", c->wakeups);
  if (c->kind == Kind::Quorum) o.Set("quorumType", static_cast<double>(c->quorumType));
  if (c->kind == Kind::Cpg && !c->group.empty()) o.Set("group", c->group);
  return o;
}

// ---------------------------------------------------------------------------------------------
// cmap: one-shot reads (a short-lived connection per call).

Napi::Value CmapValue(Napi::Env env, cmap_value_types_t type, const std::vector<char>& buf, size_t len) {
  auto get = [&](auto v) {
    memcpy(&v, buf.data(), sizeof v < len ? sizeof v : len);
    return v;
  };
  switch (type) {
    case CMAP_VALUETYPE_INT8: return Napi::Number::New(env, get(int8_t(0)));
    case CMAP_VALUETYPE_UINT8: return Napi::Number::New(env, get(uint8_t(0)));
    case CMAP_VALUETYPE_INT16: return Napi::Number::New(env, get(int16_t(0)));
    case CMAP_VALUETYPE_UINT16: return Napi::Number::New(env, get(uint16_t(0)));
    case CMAP_VALUETYPE_INT32: return Napi::Number::New(env, get(int32_t(0)));
    case CMAP_VALUETYPE_UINT32: return Napi::Number::New(env, get(uint32_t(0)));
    case CMAP_VALUETYPE_INT64: {
      int64_t v = get(int64_t(0));
      if (v > (int64_t(1) << 53) || v < -(int64_t(1) << 53)) return Napi::BigInt::New(env, v);
      return Napi::Number::New(env, static_cast<double>(v));
    }
    case CMAP_VALUETYPE_UINT64: {
      uint64_t v = get(uint64_t(0));
      if (v > (uint64_t(1) << 53)) return Napi::BigInt::New(env, v);
      return Napi::Number::New(env, static_cast<double>(v));
    }
    case CMAP_VALUETYPE_FLOAT: return Napi::Number::New(env, get(float(0)));
    case CMAP_VALUETYPE_DOUBLE: return Napi::Number::New(env, get(double(0)));
    case CMAP_VALUETYPE_STRING: {
      size_t n = strnlen(buf.data(), len);
      return Napi::String::New(env, buf.data(), n);
    }
    case CMAP_VALUETYPE_BINARY:
    default:
      return Napi::Buffer<char>::Copy(env, buf.data(), len);
  }
}

struct CmapConn {
  cmap_handle_t h = 0;
  bool open = false;
  ~CmapConn() {
    if (open) Cs().cmap_finalize(h);
  }
};

// cmapGetPrefix(prefix) -> {key: value} for every cmap key starting with prefix ("" = all).
// Strings are strings, integers numbers (bigint beyond 2^53), binary values Buffers.
Napi::Value CmapGetPrefix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireApi(env);
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "prefix must be a string");
  std::string prefix = info[0].As<Napi::String>().Utf8Value();
  CmapConn conn;
  cs_error_t r = Cs().cmap_initialize(&conn.h);
  if (r != CS_OK) throw CsError(env, r, "cmap_initialize");
  conn.open = true;
  cmap_iter_handle_t it = 0;
  r = Cs().cmap_iter_init(conn.h, prefix.empty() ? nullptr : prefix.c_str(), &it);
  if (r != CS_OK) throw CsError(env, r, "cmap_iter_init", prefix);
  Napi::Object out = Napi::Object::New(env);
  char key[CMAP_KEYNAME_MAXLEN + 1];
  std::vector<char> buf;
  // Bounded: cmap holds a few hundred keys; stop at 100000 whatever happens.
  for (int i = 0; i < 100000; i++) {
    size_t len = 0;
    cmap_value_types_t type;
    memset(key, 0, sizeof key);
    r = Cs().cmap_iter_next(conn.h, it, key, &len, &type);
    if (r == CS_ERR_NO_SECTIONS) break;  // end of iteration
    if (r != CS_OK) {
      Cs().cmap_iter_finalize(conn.h, it);
      throw CsError(env, r, "cmap_iter_next", prefix);
    }
    buf.assign(len + 1, 0);
    size_t got = len + 1;
    cmap_value_types_t t2;
    r = Cs().cmap_get(conn.h, key, buf.data(), &got, &t2);
    if (r == CS_ERR_NOT_EXIST) continue;  // deleted meanwhile
    if (r != CS_OK) {
      Cs().cmap_iter_finalize(conn.h, it);
      throw CsError(env, r, "cmap_get", key);
    }
    out.Set(key, CmapValue(env, t2, buf, got > len ? len : got));
  }
  Cs().cmap_iter_finalize(conn.h, it);
  return out;
}

// load() -> undefined once libcpg, libquorum and libcmap are loaded, else the reason (what is
// missing, what to install). Cheap after the first success; retried on every call until then.
Napi::Value Load(const Napi::CallbackInfo& info) {
  std::string why;
  if (LoadApi(&why) != nullptr) return info.Env().Undefined();
  return Napi::String::New(info.Env(), why);
}

void InitCorosync(Napi::Env env, Napi::Object exports) {
  Napi::Object c = Napi::Object::New(env);
  c.Set("load", Napi::Function::New(env, Load, "load"));
  c.Set("cpgOpen", Napi::Function::New(env, CpgOpen, "cpgOpen"));
  c.Set("cpgJoin", Napi::Function::New(env, CpgJoin, "cpgJoin"));
  c.Set("cpgLeave", Napi::Function::New(env, CpgLeave, "cpgLeave"));
  c.Set("cpgSend", Napi::Function::New(env, CpgSend, "cpgSend"));
  c.Set("cpgLocalNodeId", Napi::Function::New(env, CpgLocalNodeId, "cpgLocalNodeId"));
  c.Set("cpgMembers", Napi::Function::New(env, CpgMembers, "cpgMembers"));
  c.Set("cpgMaxMessageSize", Napi::Function::New(env, CpgMaxMessageSize, "cpgMaxMessageSize"));
  c.Set("quorumOpen", Napi::Function::New(env, QuorumOpen, "quorumOpen"));
  c.Set("quorumGetQuorate", Napi::Function::New(env, QuorumGetQuorate, "quorumGetQuorate"));
  c.Set("close", Napi::Function::New(env, Close, "close"));
  c.Set("ref", Napi::Function::New(env, Ref, "ref"));
  c.Set("unref", Napi::Function::New(env, Unref, "unref"));
  c.Set("info", Napi::Function::New(env, Info, "info"));
  c.Set("cmapGetPrefix", Napi::Function::New(env, CmapGetPrefix, "cmapGetPrefix"));
  Napi::Object reasons = Napi::Object::New(env);
  reasons.Set("UNDEFINED", static_cast<double>(CPG_REASON_UNDEFINED));
  reasons.Set("JOIN", static_cast<double>(CPG_REASON_JOIN));
  reasons.Set("LEAVE", static_cast<double>(CPG_REASON_LEAVE));
  reasons.Set("NODEDOWN", static_cast<double>(CPG_REASON_NODEDOWN));
  reasons.Set("NODEUP", static_cast<double>(CPG_REASON_NODEUP));
  reasons.Set("PROCDOWN", static_cast<double>(CPG_REASON_PROCDOWN));
  c.Set("CPG_REASON", reasons);
  Napi::Object errors = Napi::Object::New(env);
  for (const auto& n : kCsNames) errors.Set(n.name, static_cast<double>(n.err));
  c.Set("CS", errors);
  exports.Set("corosync", c);
}

}  // namespace

O2S_REGISTER_SURFACE(corosync, InitCorosync);
