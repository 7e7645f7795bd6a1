// SPDX-License-Identifier: MIT
//
// binding.cc - the Node-API face of the C objhash core.
//
// The only file in objhash that touches Node-API.  It implements the
// Backend contract of lib/backend.ts: plain functions (not ObjectWrap
// methods, which cost 2-3x more per call) taking an opaque, type-tagged
// External handle first.  Core failures come back as negative errno
// numbers; only argument misuse throws (a TypeError), and a JS exception
// thrown by a grab or drop callback stays pending while the core unwinds.
//
// State is per addon instance (Napi::Addon) and per hash (struct Hash): no
// mutable statics, so the addon loads in any number of worker_threads.

#ifndef NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
#define NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS
#endif
#ifndef NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#define NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS
#endif
#include <napi.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

extern "C" {
#include "crc32c.h"
#include "objhash.h"
}

namespace {

// lib/backend.ts: TYPE_GRAB, TYPE_DROP, MAX_TYPE_ID.
constexpr uint8_t kTypeGrab = 0x1;
constexpr uint8_t kTypeDrop = 0x2;
constexpr uint32_t kMaxTypeId = 0xffff;
constexpr double kMaxSafe = 9007199254740991.0;
// Returned by the grab trampoline to unwind the core when JS threw.
constexpr int kJsThrew = -ECANCELED;
// Keys converted per chunk when a batch comes as a Float64Array.
constexpr size_t kChunk = 2048;

// Tags the External handles this addon makes, so that a foreign External
// is a TypeError and never a wild pointer.
const napi_type_tag kHashTag = {0x6f626a6861736821ULL, 0x8d1c2a37e5f04b19ULL};

struct Hash {
  napi_env env = nullptr;
  struct objhash* core = nullptr;
  Napi::FunctionReference grab;
  Napi::FunctionReference drop;
  std::vector<uint8_t> flags;  // per type id: kTypeGrab | kTypeDrop
  bool busy = false;           // inside a call that may call back into JS
  bool freeing = false;        // inside free(): the hash is already dead
  bool finalizing = false;     // GC'd without free(): no JS may run
  bool skip_grab = false;      // addMany: the caller grabbed already
  Napi::ObjectReference drop_error;  // [first exception from a drop]

  uint8_t Flags(uint32_t type) const {
    return type < flags.size() ? flags[type] : 0;
  }
};

Napi::Value KeyToJs(napi_env env, uint64_t key) {
  napi_value v;
  if (key <= static_cast<uint64_t>(kMaxSafe))
    napi_create_double(env, static_cast<double>(key), &v);
  else
    napi_create_bigint_uint64(env, key, &v);
  return Napi::Value(env, v);
}

int GrabTrampoline(void* priv, uint64_t key, uint32_t type, int32_t objref,
                   uint32_t index) {
  (void)objref;
  Hash* s = static_cast<Hash*>(priv);
  if (!(s->Flags(type) & kTypeGrab) || s->grab.IsEmpty() || s->finalizing ||
      s->skip_grab)
    return 0;
  Napi::Env env(s->env);
  Napi::HandleScope scope(env);
  s->grab.Call({Napi::Number::New(env, type), KeyToJs(env, key),
                Napi::Number::New(env, index)});
  return env.IsExceptionPending() ? kJsThrew : 0;
}

void DropTrampoline(void* priv, uint64_t key, uint32_t type, int32_t objref,
                    uint32_t index) {
  (void)objref;
  Hash* s = static_cast<Hash*>(priv);
  if (!(s->Flags(type) & kTypeDrop) || s->drop.IsEmpty() || s->finalizing)
    return;
  Napi::Env env(s->env);
  Napi::HandleScope scope(env);
  s->drop.Call({Napi::Number::New(env, type), KeyToJs(env, key),
                Napi::Number::New(env, index)});
  if (env.IsExceptionPending()) {
    // Every other object is still dropped; the first error wins.  It may
    // be any value (throw 42), and Node-API 9 only references objects, so
    // it is kept in a one-element array.
    napi_value e, box;
    napi_get_and_clear_last_exception(s->env, &e);
    if (s->drop_error.IsEmpty()) {
      napi_create_array_with_length(s->env, 1, &box);
      napi_set_element(s->env, box, 0, e);
      s->drop_error = Napi::Persistent(Napi::Object(s->env, box));
    }
  }
}

const struct objhash_ops kOps = {GrabTrampoline, DropTrampoline};

void FinalizeHash(Napi::Env, Hash* s) {
  // Collected without free(): release the memory, but no JS can run here,
  // so drop callbacks are skipped (documented: call free() or `using`).
  s->finalizing = true;
  objhash_free(s->core);
  s->core = nullptr;
  delete s;
}

// ---- hot paths in raw Node-API ----
//
// node-addon-api's Addon::InstanceMethod unwraps `this` on every call (a
// property lookup); bench/boundary.js compares the two kinds of call.  The
// per-item functions are therefore plain napi_callbacks with no data:
// everything they need comes from the handle.

namespace raw {

napi_value Num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

napi_value ThrowType(napi_env env, const char* msg) {
  napi_throw_type_error(env, nullptr, msg);
  return nullptr;
}

// 1: live hash in *out; 0: freed (EBADF); -1: not a handle (TypeError thrown).
int GetHash(napi_env env, napi_value v, Hash** out) {
  void* p = nullptr;
  bool tagged = false;
  if (napi_get_value_external(env, v, &p) != napi_ok ||
      napi_check_object_type_tag(env, v, &kHashTag, &tagged) != napi_ok ||
      !tagged) {
    napi_throw_type_error(env, nullptr,
                          "objhash: handle must come from create()");
    return -1;
  }
  Hash* s = static_cast<Hash*>(p);
  if (s->core == nullptr || s->freeing) return 0;
  *out = s;
  return 1;
}

bool GetKey(napi_env env, napi_value v, uint64_t* out) {
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
  napi_throw_type_error(env, nullptr,
                        "objhash: key must be an integer number "
                        "0..MAX_SAFE_INTEGER or a bigint 0..2^64-1");
  return false;
}

bool GetInt(napi_env env, napi_value v, double lo, double hi,
            const char* msg, double* out) {
  if (napi_get_value_double(env, v, out) == napi_ok && *out >= lo &&
      *out <= hi && *out == std::floor(*out))
    return true;
  napi_throw_type_error(env, nullptr, msg);
  return false;
}

const char kTypeMsg[] = "objhash: type must be 0..65535";
const char kRefMsg[] = "objhash: objref must be an int32";

// Declares argv[N], resolves argv[0] to a live hash `s` or returns.
#define RAW_PROLOGUE(N)                                             \
  size_t argc = N;                                                  \
  napi_value argv[N];                                               \
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);       \
  Hash* s = nullptr;                                                \
  switch (GetHash(env, argv[0], &s)) {                              \
    case -1:                                                        \
      return nullptr;                                               \
    case 0:                                                         \
      return Num(env, -OBJHASH_EBADF);                                      \
  }

napi_value Lookup(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(3);
  uint64_t key = 0;
  double type = 0;
  if (!GetKey(env, argv[1], &key) ||
      !GetInt(env, argv[2], 0, kMaxTypeId, kTypeMsg, &type))
    return nullptr;
  return Num(env, objhash_lookup(s->core, key, static_cast<uint32_t>(type)));
}

napi_value LookupAdd(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(3);
  if (s->busy) return Num(env, -OBJHASH_EBUSY);
  uint64_t key = 0;
  double type = 0;
  if (!GetKey(env, argv[1], &key) ||
      !GetInt(env, argv[2], 0, kMaxTypeId, kTypeMsg, &type))
    return nullptr;
  int first = 0;
  s->busy = true;
  int ret = objhash_lookup_add(s->core, key, static_cast<uint32_t>(type),
                               &first);
  s->busy = false;
  if (ret == kJsThrew) return nullptr;
  if (ret < 0) return Num(env, ret);
  return Num(env, static_cast<double>(ret) * 2 + first);
}

napi_value Add(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(3);
  if (s->busy) return Num(env, -OBJHASH_EBUSY);
  uint64_t key = 0;
  double type = 0;
  if (!GetKey(env, argv[1], &key) ||
      !GetInt(env, argv[2], 0, kMaxTypeId, kTypeMsg, &type))
    return nullptr;
  s->busy = true;
  int ret = objhash_add(s->core, key, static_cast<uint32_t>(type));
  s->busy = false;
  if (ret == kJsThrew) return nullptr;
  return Num(env, ret);
}

napi_value Insert(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(4);
  if (s->busy) return Num(env, -OBJHASH_EBUSY);
  uint64_t key = 0;
  double objref = 0, type = 0;
  if (!GetKey(env, argv[1], &key) ||
      !GetInt(env, argv[2], -2147483648.0, 2147483647.0, kRefMsg, &objref) ||
      !GetInt(env, argv[3], 0, kMaxTypeId, kTypeMsg, &type))
    return nullptr;
  s->busy = true;
  int ret = objhash_insert(s->core, key, static_cast<int32_t>(objref),
                           static_cast<uint32_t>(type));
  s->busy = false;
  if (ret == kJsThrew) return nullptr;
  return Num(env, ret);
}

napi_value Fetch(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(3);
  double objref = 0, type = 0;
  if (!GetInt(env, argv[1], -2147483648.0, 2147483647.0, kRefMsg, &objref) ||
      !GetInt(env, argv[2], 0, kMaxTypeId, kTypeMsg, &type))
    return nullptr;
  return Num(env, static_cast<double>(objhash_fetch(
                      s->core, static_cast<int32_t>(objref),
                      static_cast<uint32_t>(type), nullptr)));
}

napi_value Size(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(1);
  return Num(env, objhash_count(s->core));
}

napi_value NextObjref(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(1);
  return Num(env, objhash_next_objref(s->core));
}

napi_value EntryKey(napi_env env, napi_callback_info info) {
  RAW_PROLOGUE(2);
  double index = 0;
  if (!GetInt(env, argv[1], 0, 4294967295.0, "objhash: index must be a uint32",
              &index))
    return nullptr;
  uint64_t key = 0;
  int ret = objhash_entry(s->core, static_cast<uint32_t>(index), &key,
                          nullptr, nullptr);
  if (ret < 0) return Num(env, ret);
  return KeyToJs(env, key);
}

napi_value Crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  bool is = false;
  if (napi_is_typedarray(env, argv[0], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr,
                               nullptr) != napi_ok ||
      (type != napi_uint8_array && type != napi_uint8_clamped_array))
    return ThrowType(env, "objhash: crc32c needs a Uint8Array");
  double crc = 0;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_undefined && t != napi_null &&
      !GetInt(env, argv[1], 0, 4294967295.0, "objhash: crc must be a uint32",
              &crc))
    return nullptr;
  return Num(env, objhash_crc32c(static_cast<uint32_t>(crc), data, length));
}

#undef RAW_PROLOGUE

void Define(napi_env env, napi_value exports, const char* name,
            napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

}  // namespace raw

class ObjHashAddon : public Napi::Addon<ObjHashAddon> {
 public:
  ObjHashAddon(Napi::Env env, Napi::Object exports) {
    DefineAddon(
        exports,
        {
            InstanceValue("name", Napi::String::New(env, "native")),
            InstanceValue("crc32cHardware",
                          Napi::Boolean::New(env, objhash_crc32c_hw() != 0)),
            InstanceMethod("create", &ObjHashAddon::Create),
            InstanceMethod("setTypeFlags", &ObjHashAddon::SetTypeFlags),
            InstanceMethod("reserve", &ObjHashAddon::Reserve),
            InstanceMethod("buckets", &ObjHashAddon::Buckets),
            InstanceMethod("memory", &ObjHashAddon::Memory),
            InstanceMethod("free", &ObjHashAddon::Free),
            InstanceMethod("lookupAddMany", &ObjHashAddon::LookupAddMany),
            InstanceMethod("insertMany", &ObjHashAddon::InsertMany),
            InstanceMethod("fetchMany", &ObjHashAddon::FetchMany),
            InstanceMethod("hashLong", &ObjHashAddon::HashLong),
            InstanceMethod("addMany", &ObjHashAddon::AddMany),
        });
    raw::Define(env, exports, "lookup", raw::Lookup);
    raw::Define(env, exports, "lookupAdd", raw::LookupAdd);
    raw::Define(env, exports, "add", raw::Add);
    raw::Define(env, exports, "insert", raw::Insert);
    raw::Define(env, exports, "fetch", raw::Fetch);
    raw::Define(env, exports, "size", raw::Size);
    raw::Define(env, exports, "nextObjref", raw::NextObjref);
    raw::Define(env, exports, "entryKey", raw::EntryKey);
    raw::Define(env, exports, "crc32c", raw::Crc32c);
  }

 private:
  // ---- argument helpers: false means a TypeError is now pending ----

  static bool TypeError(Napi::Env env, const char* msg) {
    Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
    return false;
  }

  // The live hash behind info[0]; nullptr with *dead = true after free.
  static Hash* GetHash(const Napi::CallbackInfo& info, bool* dead) {
    napi_env env = info.Env();
    napi_value v = info[0];
    bool tagged = false;
    napi_valuetype t;
    *dead = false;
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
        napi_check_object_type_tag(env, v, &kHashTag, &tagged) != napi_ok ||
        !tagged) {
      TypeError(info.Env(), "objhash: handle must come from create()");
      return nullptr;
    }
    void* p = nullptr;
    napi_get_value_external(env, v, &p);
    Hash* s = static_cast<Hash*>(p);
    if (s->core == nullptr || s->freeing) {
      *dead = true;
      return nullptr;
    }
    return s;
  }

  static bool GetU32(const Napi::CallbackInfo& info, size_t i, uint32_t max,
                     const char* what, uint32_t* out) {
    napi_valuetype t;
    double d;
    napi_env env = info.Env();
    if (napi_typeof(env, info[i], &t) != napi_ok || t != napi_number)
      return TypeError(info.Env(), what);
    napi_get_value_double(env, info[i], &d);
    if (!(d >= 0 && d <= max) || d != std::floor(d))
      return TypeError(info.Env(), what);
    *out = static_cast<uint32_t>(d);
    return true;
  }

  static bool GetI32(const Napi::CallbackInfo& info, size_t i,
                     const char* what, int32_t* out) {
    napi_valuetype t;
    double d;
    napi_env env = info.Env();
    if (napi_typeof(env, info[i], &t) != napi_ok || t != napi_number)
      return TypeError(info.Env(), what);
    napi_get_value_double(env, info[i], &d);
    if (!(d >= -2147483648.0 && d <= 2147483647.0) || d != std::floor(d))
      return TypeError(info.Env(), what);
    *out = static_cast<int32_t>(d);
    return true;
  }

  // A key: an integer number 0..MAX_SAFE_INTEGER or a bigint 0..2^64-1.
  static bool GetKey(const Napi::CallbackInfo& info, size_t i,
                     uint64_t* out) {
    napi_env env = info.Env();
    napi_value v = info[i];
    napi_valuetype t;
    napi_typeof(env, v, &t);
    if (t == napi_number) {
      double d;
      napi_get_value_double(env, v, &d);
      if (d >= 0 && d <= kMaxSafe && d == std::floor(d)) {
        *out = static_cast<uint64_t>(d);
        return true;
      }
    } else if (t == napi_bigint) {
      bool lossless = false;
      if (napi_get_value_bigint_uint64(env, v, out, &lossless) == napi_ok &&
          lossless)
        return true;
    }
    return TypeError(info.Env(),
                     "objhash: key must be an integer number "
                     "0..MAX_SAFE_INTEGER or a bigint 0..2^64-1");
  }

  struct Array {
    napi_typedarray_type type;
    size_t length;
    void* data;
  };

  static bool GetArray(const Napi::CallbackInfo& info, size_t i,
                       const char* what, Array* a) {
    napi_env env = info.Env();
    bool is = false;
    napi_value ab;
    size_t off;
    if (napi_is_typedarray(env, info[i], &is) != napi_ok || !is)
      return TypeError(info.Env(), what);
    napi_get_typedarray_info(env, info[i], &a->type, &a->length, &a->data,
                             &ab, &off);
    return true;
  }

  static bool IsNullish(const Napi::CallbackInfo& info, size_t i) {
    return info[i].IsNull() || info[i].IsUndefined();
  }

  static Napi::Value Errno(Napi::Env env, int64_t ret) {
    return Napi::Number::New(env, static_cast<double>(ret));
  }

  // Marks the hash busy around a call that may run JS callbacks, so that a
  // callback cannot re-enter the core half-way through an add.
  struct BusyScope {
    Hash* s;
    explicit BusyScope(Hash* h) : s(h) { s->busy = true; }
    ~BusyScope() { s->busy = false; }
  };

// Resolve info[0] to a live hash, or return -OBJHASH_EBADF / undefined (TypeError).
#define HASH_OR_RETURN(info, s)                                    \
  bool dead_;                                                      \
  Hash* s = GetHash(info, &dead_);                                 \
  if (s == nullptr)                                                \
    return dead_ ? Errno(info.Env(), -OBJHASH_EBADF) : info.Env().Undefined()
#define NOT_BUSY_OR_RETURN(info, s) \
  if (s->busy) return Errno(info.Env(), -OBJHASH_EBUSY)

  // ---- the Backend functions ----

  Napi::Value Create(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t nbits = 0, flags = 0, max_load = 0;
    if (!GetU32(info, 0, 64, "objhash: nbits must be an integer", &nbits) ||
        !GetU32(info, 1, 0xffffffffu, "objhash: flags must be an integer",
                &flags) ||
        !GetU32(info, 2, 0xffffffffu, "objhash: maxLoad must be an integer",
                &max_load))
      return env.Undefined();
    for (size_t i = 3; i <= 4; i++)
      if (!IsNullish(info, i) && !info[i].IsFunction()) {
        TypeError(env, "objhash: grab/drop must be functions or undefined");
        return env.Undefined();
      }

    Hash* s = new Hash();
    s->env = env;
    struct objhash_config cfg = {};
    cfg.nbits = nbits;
    cfg.max_load = max_load;
    cfg.flags = flags;
    cfg.ops = &kOps;
    cfg.priv = s;
    int ret = objhash_alloc(&s->core, &cfg);
    if (ret < 0) {
      delete s;
      return Errno(env, ret);
    }
    if (info[3].IsFunction())
      s->grab = Napi::Persistent(info[3].As<Napi::Function>());
    if (info[4].IsFunction())
      s->drop = Napi::Persistent(info[4].As<Napi::Function>());
    Napi::External<Hash> ext = Napi::External<Hash>::New(env, s, FinalizeHash);
    napi_type_tag_object(env, ext, &kHashTag);
    return ext;
  }

  Napi::Value SetTypeFlags(const Napi::CallbackInfo& info) {
    HASH_OR_RETURN(info, s);
    uint32_t type = 0, flags = 0;
    if (!GetU32(info, 1, kMaxTypeId, "objhash: type must be 0..65535",
                &type) ||
        !GetU32(info, 2, 3, "objhash: type flags must be 0..3", &flags))
      return info.Env().Undefined();
    if (type >= s->flags.size()) s->flags.resize(type + 1, 0);
    s->flags[type] = static_cast<uint8_t>(flags);
    return Errno(info.Env(), 0);
  }

  Napi::Value Reserve(const Napi::CallbackInfo& info) {
    HASH_OR_RETURN(info, s);
    NOT_BUSY_OR_RETURN(info, s);
    return Errno(info.Env(), objhash_reserve(s->core));
  }

  Napi::Value Buckets(const Napi::CallbackInfo& info) {
    HASH_OR_RETURN(info, s);
    return Errno(info.Env(), objhash_nbuckets(s->core));
  }

  Napi::Value Memory(const Napi::CallbackInfo& info) {
    HASH_OR_RETURN(info, s);
    return Errno(info.Env(), static_cast<int64_t>(objhash_memory(s->core)));
  }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    bool dead;
    Hash* s = GetHash(info, &dead);
    if (s == nullptr) return env.Undefined();  // freed already: a no-op
    if (s->busy) return Errno(env, -OBJHASH_EBUSY);
    s->freeing = true;
    objhash_free(s->core);  // drops each entry once, in insertion order
    s->core = nullptr;
    s->grab.Reset();
    s->drop.Reset();
    if (!s->drop_error.IsEmpty()) {
      napi_value e;
      napi_get_element(env, s->drop_error.Value(), 0, &e);
      s->drop_error.Reset();
      napi_throw(env, e);
    }
    return env.Undefined();
  }

  // Keys of a batch as uint64: in place for a BigUint64Array, converted
  // chunk by chunk for a Float64Array (non-integers, 0 excluded, fail the
  // item with -OBJHASH_EINVAL, as the twin does).
  struct Keys {
    const uint64_t* direct = nullptr;
    const double* doubles = nullptr;
    size_t length = 0;
    uint64_t buf[kChunk];

    // Converts keys[from, from + n) into buf; returns how many are valid.
    size_t Convert(size_t from, size_t n) {
      for (size_t i = 0; i < n; i++) {
        double d = doubles[from + i];
        if (!(d >= 1 && d <= kMaxSafe) || d != std::floor(d)) return i;
        buf[i] = static_cast<uint64_t>(d);
      }
      return n;
    }
  };

  static bool GetKeys(const Napi::CallbackInfo& info, size_t i, Keys* k) {
    Array a;
    if (!GetArray(info, i, "objhash: keys must be a BigUint64Array or "
                           "Float64Array", &a))
      return false;
    if (a.type == napi_biguint64_array)
      k->direct = static_cast<const uint64_t*>(a.data);
    else if (a.type == napi_float64_array)
      k->doubles = static_cast<const double*>(a.data);
    else
      return TypeError(info.Env(), "objhash: keys must be a BigUint64Array "
                                   "or Float64Array");
    k->length = a.length;
    return true;
  }

  Napi::Value LookupAddMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HASH_OR_RETURN(info, s);
    NOT_BUSY_OR_RETURN(info, s);
    Keys* keys = new Keys();  // too big for the stack of a worker
    std::unique_ptr<Keys> owner(keys);
    uint32_t type = 0;
    Array out, first = {napi_uint8_array, 0, nullptr};
    if (!GetKeys(info, 1, keys) ||
        !GetU32(info, 2, kMaxTypeId, "objhash: type must be 0..65535",
                &type) ||
        !GetArray(info, 3, "objhash: objrefs must be an Int32Array", &out))
      return env.Undefined();
    if (out.type != napi_int32_array)
      return TypeError(env, "objhash: objrefs must be an Int32Array"),
             env.Undefined();
    bool want_first = !IsNullish(info, 4);
    if (want_first) {
      if (!GetArray(info, 4, "objhash: first must be a Uint8Array", &first))
        return env.Undefined();
      if (first.type != napi_uint8_array)
        return TypeError(env, "objhash: first must be a Uint8Array"),
               env.Undefined();
    }
    size_t n = keys->length;
    if (out.length < n || (want_first && first.length < n))
      return Errno(env, -OBJHASH_EINVAL);
    int32_t* objrefs = static_cast<int32_t*>(out.data);
    uint8_t* firsts = want_first ? static_cast<uint8_t*>(first.data) : nullptr;

    BusyScope busy(s);
    if (s->Flags(type) & kTypeGrab) {
      // A grab callback runs JS, which may detach the arrays: go one key
      // at a time and look at the arrays again after every callback.
      return AddOneByOne(info, s, type, n);
    }
    int64_t added = 0;
    for (size_t at = 0; at < n;) {
      size_t done = 0, m = n - at, valid = m;
      const uint64_t* k = keys->direct ? keys->direct + at : keys->buf;
      if (!keys->direct) {
        m = m < kChunk ? m : kChunk;
        valid = keys->Convert(at, m);
      }
      int64_t ret = objhash_lookup_add_many(s->core, k, valid, type,
                                            objrefs + at,
                                            firsts ? firsts + at : nullptr,
                                            &done);
      if (ret < 0) return Errno(env, ret);
      added += ret;
      if (valid < m) return Errno(env, -OBJHASH_EINVAL);
      at += m;
    }
    return Errno(env, added);
  }

  // lookupAddMany for a type with a grab callback (see above).
  Napi::Value AddOneByOne(const Napi::CallbackInfo& info, Hash* s,
                          uint32_t type, size_t n) {
    Napi::Env env = info.Env();
    int64_t added = 0;
    for (size_t i = 0; i < n; i++) {
      Keys keys;
      Array out, first = {napi_uint8_array, 0, nullptr};
      GetKeys(info, 1, &keys);
      GetArray(info, 3, "", &out);
      bool want_first = !IsNullish(info, 4);
      if (want_first) GetArray(info, 4, "", &first);
      if (keys.length <= i || out.length <= i ||
          (want_first && first.length <= i))
        return Errno(env, -OBJHASH_EINVAL);  // shrunk or detached by a callback
      uint64_t key;
      if (keys.direct) {
        key = keys.direct[i];
      } else {
        if (keys.Convert(i, 1) != 1) return Errno(env, -OBJHASH_EINVAL);
        key = keys.buf[0];
      }
      int is_first = 0;
      int ret = objhash_lookup_add(s->core, key, type, &is_first);
      if (ret == kJsThrew) return env.Undefined();
      if (ret < 0) return Errno(env, ret);
      // The callback may have moved the arrays: fetch them again.
      GetArray(info, 3, "", &out);
      if (want_first) GetArray(info, 4, "", &first);
      if (out.length <= i || (want_first && first.length <= i))
        return Errno(env, -OBJHASH_EINVAL);
      static_cast<int32_t*>(out.data)[i] = ret;
      if (want_first) static_cast<uint8_t*>(first.data)[i] = is_first;
      added += is_first;
    }
    return Errno(env, added);
  }

  // addMany(handle, Uint16Array types, n): n keyless entries with the next
  // objrefs, no grab (the facade grabbed them when it queued them).
  Napi::Value AddMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HASH_OR_RETURN(info, s);
    NOT_BUSY_OR_RETURN(info, s);
    Array types;
    uint32_t n = 0;
    if (!GetArray(info, 1, "objhash: types must be a Uint16Array", &types))
      return env.Undefined();
    if (types.type != napi_uint16_array)
      return TypeError(env, "objhash: types must be a Uint16Array"),
             env.Undefined();
    if (!GetU32(info, 2, 0xffffffffu, "objhash: n must be 0..types.length",
                &n))
      return env.Undefined();
    if (n > types.length)
      return TypeError(env, "objhash: n must be 0..types.length"),
             env.Undefined();
    const uint16_t* t = static_cast<const uint16_t*>(types.data);
    BusyScope busy(s);
    s->skip_grab = true;
    for (uint32_t i = 0; i < n; i++) {
      int ret = objhash_add(s->core, 0, t[i]);
      if (ret < 0) {
        s->skip_grab = false;
        return Errno(env, ret);
      }
    }
    s->skip_grab = false;
    return Errno(env, n);
  }

  Napi::Value InsertMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HASH_OR_RETURN(info, s);
    NOT_BUSY_OR_RETURN(info, s);
    std::unique_ptr<Keys> keys(new Keys());
    bool have_keys = !IsNullish(info, 1);
    Array refs;
    uint32_t type = 0;
    if ((have_keys && !GetKeys(info, 1, keys.get())) ||
        !GetArray(info, 2, "objhash: objrefs must be an Int32Array", &refs) ||
        !GetU32(info, 3, kMaxTypeId, "objhash: type must be 0..65535", &type))
      return env.Undefined();
    if (refs.type != napi_int32_array)
      return TypeError(env, "objhash: objrefs must be an Int32Array"),
             env.Undefined();
    size_t n = refs.length;
    if (have_keys && keys->length < n) return Errno(env, -OBJHASH_EINVAL);
    const int32_t* objrefs = static_cast<const int32_t*>(refs.data);

    BusyScope busy(s);
    if (s->Flags(type) & kTypeGrab) {
      for (size_t i = 0; i < n; i++) {
        Keys k;
        Array r;
        if (have_keys) GetKeys(info, 1, &k);
        GetArray(info, 2, "", &r);
        if (r.length <= i || (have_keys && k.length <= i))
          return Errno(env, -OBJHASH_EINVAL);
        uint64_t key = 0;
        if (have_keys) {
          if (k.direct) {
            key = k.direct[i];
          } else {
            if (k.Convert(i, 1) != 1) return Errno(env, -OBJHASH_EINVAL);
            key = k.buf[0];
          }
        }
        int ret = objhash_insert(s->core, key,
                                 static_cast<const int32_t*>(r.data)[i], type);
        if (ret == kJsThrew) return env.Undefined();
        if (ret < 0) return Errno(env, ret);
      }
      return Errno(env, static_cast<int64_t>(n));
    }
    for (size_t at = 0; at < n;) {
      size_t done = 0, m = n - at, valid = m;
      const uint64_t* k = nullptr;
      if (have_keys) {
        if (keys->direct) {
          k = keys->direct + at;
        } else {
          m = m < kChunk ? m : kChunk;
          valid = keys->Convert(at, m);
          k = keys->buf;
        }
      }
      int64_t ret =
          objhash_insert_many(s->core, k, objrefs + at, valid, type, &done);
      if (ret < 0) return Errno(env, ret);
      if (valid < m) return Errno(env, -OBJHASH_EINVAL);
      at += m;
    }
    return Errno(env, static_cast<int64_t>(n));
  }

  Napi::Value FetchMany(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    HASH_OR_RETURN(info, s);
    Array refs, keys = {napi_biguint64_array, 0, nullptr},
                index = {napi_int32_array, 0, nullptr};
    uint32_t type = 0;
    if (!GetArray(info, 1, "objhash: objrefs must be an Int32Array", &refs) ||
        !GetU32(info, 2, kMaxTypeId, "objhash: type must be 0..65535", &type))
      return env.Undefined();
    bool want_keys = !IsNullish(info, 3), want_index = !IsNullish(info, 4);
    if (refs.type != napi_int32_array ||
        (want_keys &&
         (!GetArray(info, 3, "objhash: keysOut must be a BigUint64Array or "
                             "Float64Array", &keys) ||
          (keys.type != napi_biguint64_array &&
           keys.type != napi_float64_array))) ||
        (want_index &&
         (!GetArray(info, 4, "objhash: indexOut must be an Int32Array",
                    &index) ||
          index.type != napi_int32_array))) {
      if (!env.IsExceptionPending())
        TypeError(env, "objhash: fetchMany(handle, Int32Array, type, "
                       "BigUint64Array|Float64Array|null, Int32Array|null)");
      return env.Undefined();
    }
    size_t n = refs.length;
    if ((want_keys && keys.length < n) || (want_index && index.length < n))
      return Errno(env, -OBJHASH_EINVAL);
    const int32_t* objrefs = static_cast<const int32_t*>(refs.data);
    uint32_t* idx = want_index ? static_cast<uint32_t*>(index.data) : nullptr;
    if (!want_keys || keys.type == napi_biguint64_array) {
      size_t done = 0;
      return Errno(env, objhash_fetch_many(
                            s->core, objrefs, n, type,
                            want_keys ? static_cast<uint64_t*>(keys.data)
                                      : nullptr,
                            idx, &done));
    }
    // Float64Array out: fetch a chunk into a buffer, then convert.
    std::vector<uint64_t> buf(n < kChunk ? n : kChunk);
    double* out = static_cast<double*>(keys.data);
    for (size_t at = 0; at < n;) {
      size_t m = n - at < kChunk ? n - at : kChunk, done = 0;
      int64_t ret = objhash_fetch_many(s->core, objrefs + at, m, type,
                                       buf.data(), idx ? idx + at : nullptr,
                                       &done);
      if (ret < 0) return Errno(env, ret);
      for (size_t i = 0; i < m; i++) {
        if (buf[i] > static_cast<uint64_t>(kMaxSafe))
          return Errno(env, -OBJHASH_EINVAL);
        out[at + i] = static_cast<double>(buf[i]);
      }
      at += m;
    }
    return Errno(env, 0);
  }

  Napi::Value HashLong(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint64_t key = 0;
    uint32_t bits = 0;
    if (!GetKey(info, 0, &key) ||
        !GetU32(info, 1, 32, "objhash: bits must be 1..32", &bits))
      return env.Undefined();
    if (bits == 0) return TypeError(env, "objhash: bits must be 1..32"),
                   env.Undefined();
    uint64_t mult = info[2].ToBoolean().Value() ? OBJHASH_MULT_2009
                                                : OBJHASH_MULT_CURRENT;
    return Napi::Number::New(
        env, static_cast<double>(objhash_hash_long(key, bits, mult)));
  }
};

}  // namespace

NODE_API_ADDON(ObjHashAddon)
