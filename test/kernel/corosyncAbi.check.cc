// Compiled (never run) by test/kernel/corosyncAbi.test.ts where corosync's headers are installed:
// native/corosync_api.h, which the addon is built from without them, must declare exactly the ABI
// of corosync's own headers. Every constant, struct layout and function type is checked here.
#include <stddef.h>

#include <type_traits>

#include "corosync_api.h"

namespace ours {
// corosync's headers define these as macros: taken before they are included.
constexpr auto kMaxName = o2s::cs::CPG_MAX_NAME_LENGTH;
constexpr auto kMembersMax = o2s::cs::CPG_MEMBERS_MAX;
constexpr auto kKeyMax = o2s::cs::CMAP_KEYNAME_MAXLEN;
constexpr auto kTrackCurrent = o2s::cs::CS_TRACK_CURRENT;
constexpr auto kTrackChanges = o2s::cs::CS_TRACK_CHANGES;
constexpr auto kInitialTotem = o2s::cs::CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF;
}  // namespace ours

#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>

namespace cs = o2s::cs;

static_assert(ours::kMaxName == CPG_MAX_NAME_LENGTH, "CPG_MAX_NAME_LENGTH");
static_assert(ours::kMembersMax == CPG_MEMBERS_MAX, "CPG_MEMBERS_MAX");
static_assert(ours::kKeyMax == CMAP_KEYNAME_MAXLEN, "CMAP_KEYNAME_MAXLEN");
static_assert(ours::kTrackCurrent == CS_TRACK_CURRENT, "CS_TRACK_CURRENT");
static_assert(ours::kTrackChanges == CS_TRACK_CHANGES, "CS_TRACK_CHANGES");
static_assert(ours::kInitialTotem == CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF, "CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF");

#define SAME_CONSTANT(name) static_assert(static_cast<long>(cs::name) == static_cast<long>(::name), #name);
SAME_CONSTANT(CS_OK)
SAME_CONSTANT(CS_ERR_LIBRARY)
SAME_CONSTANT(CS_ERR_VERSION)
SAME_CONSTANT(CS_ERR_INIT)
SAME_CONSTANT(CS_ERR_TIMEOUT)
SAME_CONSTANT(CS_ERR_TRY_AGAIN)
SAME_CONSTANT(CS_ERR_INVALID_PARAM)
SAME_CONSTANT(CS_ERR_NO_MEMORY)
SAME_CONSTANT(CS_ERR_BAD_HANDLE)
SAME_CONSTANT(CS_ERR_BUSY)
SAME_CONSTANT(CS_ERR_ACCESS)
SAME_CONSTANT(CS_ERR_NOT_EXIST)
SAME_CONSTANT(CS_ERR_NAME_TOO_LONG)
SAME_CONSTANT(CS_ERR_EXIST)
SAME_CONSTANT(CS_ERR_NO_SPACE)
SAME_CONSTANT(CS_ERR_INTERRUPT)
SAME_CONSTANT(CS_ERR_NAME_NOT_FOUND)
SAME_CONSTANT(CS_ERR_NO_RESOURCES)
SAME_CONSTANT(CS_ERR_NOT_SUPPORTED)
SAME_CONSTANT(CS_ERR_BAD_OPERATION)
SAME_CONSTANT(CS_ERR_FAILED_OPERATION)
SAME_CONSTANT(CS_ERR_MESSAGE_ERROR)
SAME_CONSTANT(CS_ERR_QUEUE_FULL)
SAME_CONSTANT(CS_ERR_QUEUE_NOT_AVAILABLE)
SAME_CONSTANT(CS_ERR_BAD_FLAGS)
SAME_CONSTANT(CS_ERR_TOO_BIG)
SAME_CONSTANT(CS_ERR_NO_SECTIONS)
SAME_CONSTANT(CS_ERR_CONTEXT_NOT_FOUND)
SAME_CONSTANT(CS_ERR_TOO_MANY_GROUPS)
SAME_CONSTANT(CS_ERR_SECURITY)
SAME_CONSTANT(CS_DISPATCH_ALL)
SAME_CONSTANT(CPG_MODEL_V1)
SAME_CONSTANT(CPG_TYPE_AGREED)
SAME_CONSTANT(CPG_REASON_UNDEFINED)
SAME_CONSTANT(CPG_REASON_JOIN)
SAME_CONSTANT(CPG_REASON_LEAVE)
SAME_CONSTANT(CPG_REASON_NODEDOWN)
SAME_CONSTANT(CPG_REASON_NODEUP)
SAME_CONSTANT(CPG_REASON_PROCDOWN)
SAME_CONSTANT(QUORUM_MODEL_V1)
SAME_CONSTANT(CMAP_VALUETYPE_INT8)
SAME_CONSTANT(CMAP_VALUETYPE_UINT8)
SAME_CONSTANT(CMAP_VALUETYPE_INT16)
SAME_CONSTANT(CMAP_VALUETYPE_UINT16)
SAME_CONSTANT(CMAP_VALUETYPE_INT32)
SAME_CONSTANT(CMAP_VALUETYPE_UINT32)
SAME_CONSTANT(CMAP_VALUETYPE_INT64)
SAME_CONSTANT(CMAP_VALUETYPE_UINT64)
SAME_CONSTANT(CMAP_VALUETYPE_FLOAT)
SAME_CONSTANT(CMAP_VALUETYPE_DOUBLE)
SAME_CONSTANT(CMAP_VALUETYPE_STRING)
SAME_CONSTANT(CMAP_VALUETYPE_BINARY)

// Eq<Ours, Theirs>: the same ABI type. Our enums are int; our structs are checked field by field.
template <class A, class B>
struct Eq : std::is_same<A, B> {};
template <class E>
struct Eq<int, E> : std::bool_constant<std::is_same_v<E, int> || (std::is_enum_v<E> && sizeof(E) == sizeof(int))> {};
template <class A, class B>
struct Eq<A*, B*> : Eq<A, B> {};
template <class A, class B>
struct Eq<const A, const B> : Eq<A, B> {};
template <class R1, class... P1, class R2, class... P2>
struct Eq<R1(P1...), R2(P2...)> : std::bool_constant<sizeof...(P1) == sizeof...(P2) && Eq<R1, R2>::value && (Eq<P1, P2>::value && ...)> {};

#define SAME_SIZE(A, B) static_assert(sizeof(A) == sizeof(B) && alignof(A) == alignof(B), #A " size")
#define SAME_FIELD(A, B, f)                                                                 \
  static_assert(offsetof(A, f) == offsetof(B, f), #A "." #f " offset");                  \
  static_assert(Eq<decltype(A::f), decltype(B::f)>::value || sizeof(A::f) == sizeof(B::f), #A "." #f " type")
#define STRUCT_EQ(A, B) \
  template <>           \
  struct Eq<A, B> : std::true_type {}

STRUCT_EQ(cs::cpg_name, ::cpg_name);
STRUCT_EQ(cs::cpg_address, ::cpg_address);
STRUCT_EQ(cs::cpg_ring_id, ::cpg_ring_id);
STRUCT_EQ(cs::quorum_ring_id, ::quorum_ring_id);
STRUCT_EQ(cs::cpg_model_data_t, ::cpg_model_data_t);
STRUCT_EQ(cs::quorum_model_data_t, ::quorum_model_data_t);

SAME_SIZE(cs::cpg_name, ::cpg_name);
SAME_FIELD(cs::cpg_name, ::cpg_name, length);
SAME_FIELD(cs::cpg_name, ::cpg_name, value);
SAME_SIZE(cs::cpg_address, ::cpg_address);
SAME_FIELD(cs::cpg_address, ::cpg_address, nodeid);
SAME_FIELD(cs::cpg_address, ::cpg_address, pid);
SAME_FIELD(cs::cpg_address, ::cpg_address, reason);
SAME_SIZE(cs::cpg_ring_id, ::cpg_ring_id);
SAME_FIELD(cs::cpg_ring_id, ::cpg_ring_id, nodeid);
SAME_FIELD(cs::cpg_ring_id, ::cpg_ring_id, seq);
SAME_SIZE(cs::quorum_ring_id, ::quorum_ring_id);
SAME_FIELD(cs::quorum_ring_id, ::quorum_ring_id, nodeid);
SAME_FIELD(cs::quorum_ring_id, ::quorum_ring_id, seq);
SAME_SIZE(cs::cpg_model_data_t, ::cpg_model_data_t);
SAME_SIZE(cs::quorum_model_data_t, ::quorum_model_data_t);

// The model structs hold the callbacks: their types check the callbacks' signatures.
static_assert(Eq<cs::cpg_deliver_fn_t, ::cpg_deliver_fn_t>::value, "cpg_deliver_fn_t");
static_assert(Eq<cs::cpg_confchg_fn_t, ::cpg_confchg_fn_t>::value, "cpg_confchg_fn_t");
static_assert(Eq<cs::cpg_totem_confchg_fn_t, ::cpg_totem_confchg_fn_t>::value, "cpg_totem_confchg_fn_t");
static_assert(Eq<cs::quorum_v1_quorum_notification_fn_t, ::quorum_v1_quorum_notification_fn_t>::value, "quorum_v1_quorum_notification_fn_t");
static_assert(Eq<cs::quorum_v1_nodelist_notification_fn_t, ::quorum_v1_nodelist_notification_fn_t>::value, "quorum_v1_nodelist_notification_fn_t");
SAME_SIZE(cs::cpg_model_v1_data_t, ::cpg_model_v1_data_t);
SAME_FIELD(cs::cpg_model_v1_data_t, ::cpg_model_v1_data_t, model);
SAME_FIELD(cs::cpg_model_v1_data_t, ::cpg_model_v1_data_t, cpg_deliver_fn);
SAME_FIELD(cs::cpg_model_v1_data_t, ::cpg_model_v1_data_t, cpg_confchg_fn);
SAME_FIELD(cs::cpg_model_v1_data_t, ::cpg_model_v1_data_t, cpg_totem_confchg_fn);
SAME_FIELD(cs::cpg_model_v1_data_t, ::cpg_model_v1_data_t, flags);
SAME_SIZE(cs::quorum_model_v1_data_t, ::quorum_model_v1_data_t);
SAME_FIELD(cs::quorum_model_v1_data_t, ::quorum_model_v1_data_t, model);
SAME_FIELD(cs::quorum_model_v1_data_t, ::quorum_model_v1_data_t, quorum_notify_fn);
SAME_FIELD(cs::quorum_model_v1_data_t, ::quorum_model_v1_data_t, nodelist_notify_fn);

// Every function the addon resolves with dlsym has the type corosync declares.
#define SAME_FUNCTION(lib, name, ret, params) \
  static_assert(Eq<std::remove_pointer_t<decltype(cs::Api::name)>, decltype(::name)>::value, #name " signature");
O2S_CS_FUNCTIONS(SAME_FUNCTION)

int main() { return 0; }
