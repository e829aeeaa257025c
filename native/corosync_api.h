// The part of corosync's client ABI (libcpg.so.4, libquorum.so.5, libcmap.so.4: corosync 3.x)
// that native/corosync.cc uses, declared here so the addon builds without corosync's headers and
// loads the libraries with dlopen when the corosync surface is first used. One build then serves
// o2cb-only machines and corosync machines.
//
// These are declarations of a stable, versioned C ABI (the sonames change when it breaks). The
// names follow corosync's own, inside namespace o2s::cs so they never meet the real headers.
// test/native/corosync_abi_check.cc compiles this file next to corosync's headers and asserts that
// every constant, struct layout and function type matches (test/native/corosyncAbi.test.ts).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <string>

namespace o2s {
namespace cs {

// Enums are passed and returned as 4-byte integers (C enums of small positive values).
using cs_error_t = int;
using cs_dispatch_flags_t = int;
using cpg_model_t = int;
using cpg_guarantee_t = int;
using quorum_model_t = int;
using cmap_value_types_t = int;

using cpg_handle_t = uint64_t;
using quorum_handle_t = uint64_t;
using cmap_handle_t = uint64_t;
using cmap_iter_handle_t = uint64_t;

enum : int {
  CS_OK = 1,
  CS_ERR_LIBRARY = 2,
  CS_ERR_VERSION = 3,
  CS_ERR_INIT = 4,
  CS_ERR_TIMEOUT = 5,
  CS_ERR_TRY_AGAIN = 6,
  CS_ERR_INVALID_PARAM = 7,
  CS_ERR_NO_MEMORY = 8,
  CS_ERR_BAD_HANDLE = 9,
  CS_ERR_BUSY = 10,
  CS_ERR_ACCESS = 11,
  CS_ERR_NOT_EXIST = 12,
  CS_ERR_NAME_TOO_LONG = 13,
  CS_ERR_EXIST = 14,
  CS_ERR_NO_SPACE = 15,
  CS_ERR_INTERRUPT = 16,
  CS_ERR_NAME_NOT_FOUND = 17,
  CS_ERR_NO_RESOURCES = 18,
  CS_ERR_NOT_SUPPORTED = 19,
  CS_ERR_BAD_OPERATION = 20,
  CS_ERR_FAILED_OPERATION = 21,
  CS_ERR_MESSAGE_ERROR = 22,
  CS_ERR_QUEUE_FULL = 23,
  CS_ERR_QUEUE_NOT_AVAILABLE = 24,
  CS_ERR_BAD_FLAGS = 25,
  CS_ERR_TOO_BIG = 26,
  CS_ERR_NO_SECTIONS = 27,
  CS_ERR_CONTEXT_NOT_FOUND = 28,
  CS_ERR_TOO_MANY_GROUPS = 30,
  CS_ERR_SECURITY = 100,
};

enum : int { CS_DISPATCH_ALL = 2 };
enum : unsigned { CS_TRACK_CURRENT = 0x01, CS_TRACK_CHANGES = 0x02 };

// CPG
enum : int { CPG_MODEL_V1 = 1 };
enum : unsigned { CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF = 0x01 };
enum : int { CPG_TYPE_AGREED = 2 };
enum : int {
  CPG_REASON_UNDEFINED = 0,
  CPG_REASON_JOIN = 1,
  CPG_REASON_LEAVE = 2,
  CPG_REASON_NODEDOWN = 3,
  CPG_REASON_NODEUP = 4,
  CPG_REASON_PROCDOWN = 5,
};
constexpr size_t CPG_MAX_NAME_LENGTH = 128;
constexpr int CPG_MEMBERS_MAX = 128;

struct cpg_name {
  uint32_t length;
  char value[CPG_MAX_NAME_LENGTH];
};
struct cpg_address {
  uint32_t nodeid;
  uint32_t pid;
  uint32_t reason;
};
struct cpg_ring_id {
  uint32_t nodeid;
  uint64_t seq;
};

using cpg_deliver_fn_t = void (*)(cpg_handle_t, const cpg_name*, uint32_t nodeid, uint32_t pid, void* msg, size_t len);
using cpg_confchg_fn_t = void (*)(cpg_handle_t, const cpg_name*, const cpg_address* members, size_t nmembers,
                                  const cpg_address* left, size_t nleft, const cpg_address* joined, size_t njoined);
using cpg_totem_confchg_fn_t = void (*)(cpg_handle_t, cpg_ring_id, uint32_t nmembers, const uint32_t* members);

struct cpg_model_data_t {
  cpg_model_t model;
};
struct cpg_model_v1_data_t {
  cpg_model_t model;
  cpg_deliver_fn_t cpg_deliver_fn;
  cpg_confchg_fn_t cpg_confchg_fn;
  cpg_totem_confchg_fn_t cpg_totem_confchg_fn;
  unsigned int flags;
};

// quorum
enum : int { QUORUM_MODEL_V1 = 1 };
struct quorum_ring_id {
  uint32_t nodeid;
  uint64_t seq;
};
using quorum_v1_quorum_notification_fn_t = void (*)(quorum_handle_t, uint32_t quorate, quorum_ring_id, uint32_t nmembers,
                                                    const uint32_t* members);
using quorum_v1_nodelist_notification_fn_t = void (*)(quorum_handle_t, quorum_ring_id, uint32_t nmembers, const uint32_t* members,
                                                      uint32_t njoined, const uint32_t* joined, uint32_t nleft,
                                                      const uint32_t* left);
struct quorum_model_data_t {
  quorum_model_t model;
};
struct quorum_model_v1_data_t {
  quorum_model_t model;
  quorum_v1_quorum_notification_fn_t quorum_notify_fn;
  quorum_v1_nodelist_notification_fn_t nodelist_notify_fn;
};

// cmap
enum : int {
  CMAP_VALUETYPE_INT8 = 1,
  CMAP_VALUETYPE_UINT8 = 2,
  CMAP_VALUETYPE_INT16 = 3,
  CMAP_VALUETYPE_UINT16 = 4,
  CMAP_VALUETYPE_INT32 = 5,
  CMAP_VALUETYPE_UINT32 = 6,
  CMAP_VALUETYPE_INT64 = 7,
  CMAP_VALUETYPE_UINT64 = 8,
  CMAP_VALUETYPE_FLOAT = 9,
  CMAP_VALUETYPE_DOUBLE = 10,
  CMAP_VALUETYPE_STRING = 11,
  CMAP_VALUETYPE_BINARY = 12,
};
constexpr size_t CMAP_KEYNAME_MAXLEN = 255;

// Every function the surface calls, as X(library, name, return, parameters). The loader and the ABI
// check both expand this one list.
#define O2S_CS_FUNCTIONS(X)                                                                                          \
  X(cpg, cpg_model_initialize, cs_error_t, (cpg_handle_t*, cpg_model_t, cpg_model_data_t*, void*))                   \
  X(cpg, cpg_finalize, cs_error_t, (cpg_handle_t))                                                                   \
  X(cpg, cpg_fd_get, cs_error_t, (cpg_handle_t, int*))                                                               \
  X(cpg, cpg_context_get, cs_error_t, (cpg_handle_t, void**))                                                        \
  X(cpg, cpg_dispatch, cs_error_t, (cpg_handle_t, cs_dispatch_flags_t))                                              \
  X(cpg, cpg_join, cs_error_t, (cpg_handle_t, const cpg_name*))                                                      \
  X(cpg, cpg_leave, cs_error_t, (cpg_handle_t, const cpg_name*))                                                     \
  X(cpg, cpg_mcast_joined, cs_error_t, (cpg_handle_t, cpg_guarantee_t, const struct iovec*, unsigned int))           \
  X(cpg, cpg_local_get, cs_error_t, (cpg_handle_t, unsigned int*))                                                   \
  X(cpg, cpg_membership_get, cs_error_t, (cpg_handle_t, cpg_name*, cpg_address*, int*))                              \
  X(cpg, cpg_max_atomic_msgsize_get, cs_error_t, (cpg_handle_t, uint32_t*))                                          \
  X(quorum, quorum_model_initialize, cs_error_t, (quorum_handle_t*, quorum_model_t, quorum_model_data_t*, uint32_t*, void*)) \
  X(quorum, quorum_finalize, cs_error_t, (quorum_handle_t))                                                          \
  X(quorum, quorum_fd_get, cs_error_t, (quorum_handle_t, int*))                                                      \
  X(quorum, quorum_context_get, cs_error_t, (quorum_handle_t, const void**))                                         \
  X(quorum, quorum_dispatch, cs_error_t, (quorum_handle_t, cs_dispatch_flags_t))                                     \
  X(quorum, quorum_trackstart, cs_error_t, (quorum_handle_t, unsigned int))                                          \
  X(quorum, quorum_getquorate, cs_error_t, (quorum_handle_t, int*))                                                  \
  X(cmap, cmap_initialize, cs_error_t, (cmap_handle_t*))                                                             \
  X(cmap, cmap_finalize, cs_error_t, (cmap_handle_t))                                                                \
  X(cmap, cmap_iter_init, cs_error_t, (cmap_handle_t, const char*, cmap_iter_handle_t*))                             \
  X(cmap, cmap_iter_next, cs_error_t, (cmap_handle_t, cmap_iter_handle_t, char*, size_t*, cmap_value_types_t*))      \
  X(cmap, cmap_iter_finalize, cs_error_t, (cmap_handle_t, cmap_iter_handle_t))                                       \
  X(cmap, cmap_get, cs_error_t, (cmap_handle_t, const char*, void*, size_t*, cmap_value_types_t*))

// The loaded functions, one pointer each.
struct Api {
#define O2S_CS_POINTER(lib, name, ret, params) ret(*name) params = nullptr;
  O2S_CS_FUNCTIONS(O2S_CS_POINTER)
#undef O2S_CS_POINTER
};

// The sonames opened, in order.
constexpr const char* kLibCpg = "libcpg.so.4";
constexpr const char* kLibQuorum = "libquorum.so.5";
constexpr const char* kLibCmap = "libcmap.so.4";

// The API once the three libraries and every function were found (they then stay loaded for the
// life of the process: their callbacks and IPC state must outlive any handle). nullptr and *why
// set (which library or symbol, dlerror's text, what to install) when not; a later call tries
// again, so installing corosync fixes a running process.
const Api* LoadApi(std::string* why);
// The API if LoadApi has succeeded, else nullptr (never loads).
const Api* LoadedApi();

}  // namespace cs
}  // namespace o2s
