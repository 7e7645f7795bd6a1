// SPDX-License-Identifier: MIT
//
// binding.h - private header of the Node-API binding (native/binding/)
//
// The binding implements the Backend contract of lib/backend/contract.ts
// over the C core, and is the only code in objhash that touches Node-API.
// The module is a node-addon-api Napi::Addon (module.cc), which registers
// the addon and builds its exports; every exported function is a plain
// napi_callback taking an opaque, type-tagged External handle first (not
// an Addon InstanceMethod or ObjectWrap method, which unwraps its `this`
// and costs more per call: docs/INTERNALS.md), and every one follows the
// same rules:
//
//  - arguments are read with the Get* helpers below; each returns false
//    with a TypeError pending when an argument is misused (a last line of
//    defence: the facade checks first), and the function returns nullptr;
//  - results, including negative OBJHASH_E* codes, are returned as
//    numbers (Number, KeyValue); core failures are never thrown;
//  - a JS exception thrown by a grab or drop callback stays pending: the
//    core unwinds, then the function returns nullptr.
//
// State lives in the hash (struct Hash); the Addon instance, one per
// environment, is each function's data.  There is no mutable static, so
// the addon loads in any number of worker_threads.  C++ exceptions are off
// (NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS, with
// NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: binding.gyp).
//
//   hash.cc     a hash's life (create, free, GC), grab/drop, per-item calls
//   batch.cc    the calls over typed arrays
//   module.cc   the Napi::Addon and its exports; crc32c, hashLong

#ifndef OBJHASH_BINDING_H
#define OBJHASH_BINDING_H

#include <node_api.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

extern "C" {
#include "crc32c.h"
#include "objhash.h"
}

// The contract's limits that are the binding's, not the core's (exported
// as `limits` with objhash.h's; scripts/gen-codes.js reads them here).
// Type ids are 0..OBJHASH_MAX_TYPE_ID: addMany takes them as a Uint16Array.
#define OBJHASH_MAX_TYPE_ID	0xffff
// setTypeFlags() bits: call grab (on add) / drop (on free) for the type.
#define OBJHASH_TYPE_GRAB	0x1
#define OBJHASH_TYPE_DROP	0x2

namespace objhash_binding {

constexpr double kMaxSafe = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER
// Returned by the grab trampoline to unwind the core when the callback
// threw.  Not an OBJHASH_E* code: it never reaches JS (the exception does).
constexpr int kJsThrew = -0x10000;
// The most arguments a function of the contract takes.
constexpr size_t kMaxArgs = 5;

// One hash, behind the External that create() returns.
struct Hash {
  napi_env env = nullptr;
  struct objhash* core = nullptr;  // nullptr once freed
  napi_ref grab = nullptr;         // create()'s callbacks, if any
  napi_ref drop = nullptr;
  napi_ref drop_error = nullptr;   // [first exception thrown by a drop]
  uint8_t* type_flags = nullptr;   // per type id: OBJHASH_TYPE_GRAB | _DROP
  uint32_t ntypes = 0;             // entries in type_flags
  bool busy = false;        // inside a call that may run a callback
  bool freeing = false;     // inside free(): the hash is already dead
  bool finalizing = false;  // collected without free(): no JS may run
  bool skip_grab = false;   // addMany, insertTyped: no grab to call
  int64_t reported = 0;     // bytes of the core told to V8 so far
};

// Tells V8 how much memory the core holds now (napi_adjust_external_memory,
// by the change since the last report): the table is malloc()ed, outside
// the JS heap, and a program holding big hashes would otherwise look small
// to the garbage collector, which then collects the handles that free them
// too late.  Called after each call that may grow the core, and with 0
// when it is freed; it never calls into JS.
inline void ReportMemory(Hash* s) {
  int64_t now = s->core != nullptr ? static_cast<int64_t>(objhash_memory(s->core)) : 0;
  if (now == s->reported) return;
  int64_t total;
  if (napi_adjust_external_memory(s->env, now - s->reported, &total) == napi_ok)
    s->reported = now;
}

inline uint8_t TypeFlags(const Hash* s, uint32_t type) {
  return type < s->ntypes ? s->type_flags[type] : 0;
}

// Marks the hash busy around a call that may run a callback, so that the
// callback cannot re-enter the core half-way through an add.
class BusyScope {
 public:
  explicit BusyScope(Hash* s) : s_(s) { s_->busy = true; }
  ~BusyScope() {
    s_->busy = false;
    ReportMemory(s_);
  }
  BusyScope(const BusyScope&) = delete;
  BusyScope& operator=(const BusyScope&) = delete;

 private:
  Hash* s_;
};

// ---- values returned to JS ----

inline napi_value Number(napi_env env, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  return n;
}

inline napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// A key: a number up to MAX_SAFE_INTEGER, a bigint above.
inline napi_value KeyValue(napi_env env, uint64_t key) {
  napi_value v;
  if (key <= static_cast<uint64_t>(kMaxSafe))
    napi_create_double(env, static_cast<double>(key), &v);
  else
    napi_create_bigint_uint64(env, key, &v);
  return v;
}

// Throws a TypeError; returns false, for the Get* helpers.
inline bool ThrowTypeError(napi_env env, const char* msg) {
  napi_throw_type_error(env, nullptr, msg);
  return false;
}

// ---- arguments: false means a TypeError is now pending ----

// The call's first n (<= kMaxArgs) arguments; missing ones are undefined.
inline void GetArgs(napi_env env, napi_callback_info info, napi_value* argv,
                    size_t n) {
  napi_get_cb_info(env, info, &n, argv, nullptr, nullptr);
}

inline bool IsNullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok &&
         (t == napi_undefined || t == napi_null);
}

// An integer number in [lo, hi].
inline bool GetInteger(napi_env env, napi_value v, double lo, double hi,
                       const char* msg, double* out) {
  if (napi_get_value_double(env, v, out) == napi_ok && *out >= lo &&
      *out <= hi && *out == std::floor(*out))
    return true;
  return ThrowTypeError(env, msg);
}

inline bool GetUint32(napi_env env, napi_value v, uint32_t max,
                      const char* msg, uint32_t* out) {
  double d;
  if (!GetInteger(env, v, 0, max, msg, &d)) return false;
  *out = static_cast<uint32_t>(d);
  return true;
}

inline bool GetTypeId(napi_env env, napi_value v, uint32_t* out) {
  return GetUint32(env, v, OBJHASH_MAX_TYPE_ID,
                   "objhash: type must be 0..65535", out);
}

inline bool GetObjref(napi_env env, napi_value v, int32_t* out) {
  double d;
  if (!GetInteger(env, v, -2147483648.0, 2147483647.0,
                  "objhash: objref must be an int32", &d))
    return false;
  *out = static_cast<int32_t>(d);
  return true;
}

// A key: an integer number 0..MAX_SAFE_INTEGER or a bigint 0..2^64-1.
inline bool GetKey(napi_env env, napi_value v, uint64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) == napi_ok) {
    if (d >= 0 && d <= kMaxSafe && d == std::floor(d)) {
      *out = static_cast<uint64_t>(d);
      return true;
    }
  } else {
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok &&
        lossless)
      return true;
  }
  return ThrowTypeError(env,
                        "objhash: key must be an integer number "
                        "0..MAX_SAFE_INTEGER or a bigint 0..2^64-1");
}

struct TypedArray {
  napi_typedarray_type type;
  size_t length;
  void* data;
};

// A typed array of any kind.
inline bool GetAnyTypedArray(napi_env env, napi_value v, const char* msg,
                             TypedArray* out) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data,
                               nullptr, nullptr) != napi_ok)
    return ThrowTypeError(env, msg);
  return true;
}

// A typed array of kind @want.
inline bool GetTypedArray(napi_env env, napi_value v,
                          napi_typedarray_type want, const char* msg,
                          TypedArray* out) {
  if (!GetAnyTypedArray(env, v, msg, out)) return false;
  return out->type == want || ThrowTypeError(env, msg);
}

// ---- the handle ----

// Tags the Externals that create() makes, so that a foreign External is a
// TypeError and never a wild pointer.
constexpr napi_type_tag kHashTag = {0x6f626a6861736821ULL,
                                    0x8d1c2a37e5f04b19ULL};

// The hash behind handle @v, live or freed.
inline bool GetHandle(napi_env env, napi_value v, Hash** out) {
  void* p = nullptr;
  bool tagged = false;
  if (napi_get_value_external(env, v, &p) != napi_ok ||
      napi_check_object_type_tag(env, v, &kHashTag, &tagged) != napi_ok ||
      !tagged)
    return ThrowTypeError(env, "objhash: handle must come from create()");
  *out = static_cast<Hash*>(p);
  return true;
}

inline bool IsLive(const Hash* s) { return s->core != nullptr && !s->freeing; }

enum class Access { kReads, kAdds };

// For a call whose first argument is a handle: reads @n arguments into
// @argv and returns the live hash.  Else returns nullptr with *@early set
// to what the call returns: -OBJHASH_EBADF after free, -OBJHASH_EBUSY for
// a call that adds (kAdds) made from a callback, or nullptr with a
// TypeError pending.  A freed or busy hash wins over bad arguments.
inline Hash* OpenHash(napi_env env, napi_callback_info info,
                      napi_value* argv, size_t n, Access access,
                      napi_value* early) {
  Hash* s = nullptr;
  GetArgs(env, info, argv, n);
  *early = nullptr;
  if (!GetHandle(env, argv[0], &s)) return nullptr;
  if (!IsLive(s)) {
    *early = Number(env, -OBJHASH_EBADF);
    return nullptr;
  }
  if (access == Access::kAdds && s->busy) {
    *early = Number(env, -OBJHASH_EBUSY);
    return nullptr;
  }
  return s;
}

// ---- the exported functions (napi_callback) ----

// f(handle): the number @Call returns for the hash (size, nextObjref,
// reserve, buckets, memory), or -OBJHASH_EBADF / -OBJHASH_EBUSY.
template <auto Call, Access kAccess = Access::kReads>
napi_value HashNumber(napi_env env, napi_callback_info info) {
  napi_value argv[1], early;
  Hash* s = OpenHash(env, info, argv, 1, kAccess, &early);
  if (s == nullptr) return early;
  double r = static_cast<double>(Call(s->core));
  if (kAccess == Access::kAdds) ReportMemory(s);
  return Number(env, r);
}

// hash.cc
napi_value Create(napi_env env, napi_callback_info info);
napi_value Free(napi_env env, napi_callback_info info);
napi_value SetTypeFlags(napi_env env, napi_callback_info info);
napi_value Lookup(napi_env env, napi_callback_info info);
napi_value LookupAdd(napi_env env, napi_callback_info info);
napi_value Add(napi_env env, napi_callback_info info);
napi_value Insert(napi_env env, napi_callback_info info);
napi_value Fetch(napi_env env, napi_callback_info info);
napi_value EntryKey(napi_env env, napi_callback_info info);

// batch.cc
napi_value LookupAddMany(napi_env env, napi_callback_info info);
napi_value AddMany(napi_env env, napi_callback_info info);
napi_value InsertTyped(napi_env env, napi_callback_info info);
napi_value InsertMany(napi_env env, napi_callback_info info);
napi_value FetchMany(napi_env env, napi_callback_info info);

}  // namespace objhash_binding

#endif  // OBJHASH_BINDING_H
