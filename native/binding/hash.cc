// SPDX-License-Identifier: MIT
//
// hash.cc - a hash's life (create, free, garbage collection), the grab and
// drop trampolines into JS, and the per-item calls.

#include <cstdlib>
#include <new>

#include "binding.h"

namespace objhash_binding {

namespace {

// Calls @fn(type, key, index); returns whether it returned normally.
// Raw napi_ref and napi_call_function, not Napi::FunctionReference::Call:
// with C++ exceptions off, Call takes the pending exception (or, if there
// is none, makes an Error from the last status) into a Napi::Error and
// throws that, when all the trampoline needs is "did it return normally".
// Here the exception stays pending untouched, and a call that failed
// because the worker is being terminated (no exception, none can be made)
// just unwinds the core.
bool CallJs(Hash* s, napi_ref fn, uint64_t key, uint32_t type,
              uint32_t index) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value f, recv, argv[3], result;
  bool pending = false;

  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  argv[0] = Number(env, type);
  argv[1] = KeyValue(env, key);
  argv[2] = Number(env, index);
  napi_status status = napi_get_reference_value(env, fn, &f);
  if (status == napi_ok && f == nullptr) {
    // collected: its hash was dropped unfreed (no call can reach here then)
    napi_close_handle_scope(env, scope);
    return true;
  }
  if (status == napi_ok) status = napi_get_undefined(env, &recv);
  if (status == napi_ok)
    status = napi_call_function(env, recv, f, 3, argv, &result);
  napi_is_exception_pending(env, &pending);
  napi_close_handle_scope(env, scope);
  return status == napi_ok && !pending;
}

int GrabTrampoline(void* priv, uint64_t key, uint32_t type, int32_t objref,
                   uint32_t index) {
  Hash* s = static_cast<Hash*>(priv);
  (void)objref;
  if (!(TypeFlags(s, type) & OBJHASH_TYPE_GRAB) || !s->grab ||
      s->finalizing || s->skip_grab)
    return 0;
  return CallJs(s, s->grab, key, type, index) ? 0 : kJsThrew;
}

// Every object is dropped even when some drops throw; the first exception
// is kept, and free() throws it after the last drop.  It may be any value
// (throw 42) and Node-API 8 references only objects, so it is kept in a
// one-element array.
void DropTrampoline(void* priv, uint64_t key, uint32_t type, int32_t objref,
                    uint32_t index) {
  Hash* s = static_cast<Hash*>(priv);
  napi_value e, box;
  bool pending = false;
  (void)objref;
  if (!(TypeFlags(s, type) & OBJHASH_TYPE_DROP) || !s->drop ||
      s->finalizing)
    return;
  if (CallJs(s, s->drop, key, type, index)) return;
  napi_is_exception_pending(s->env, &pending);
  if (!pending || napi_get_and_clear_last_exception(s->env, &e) != napi_ok)
    return;
  if (s->drop_error == nullptr &&
      napi_create_array_with_length(s->env, 1, &box) == napi_ok &&
      napi_set_element(s->env, box, 0, e) == napi_ok)
    napi_create_reference(s->env, box, 1, &s->drop_error);
}

const struct objhash_ops kOps = {GrabTrampoline, DropTrampoline};

void DeleteRef(napi_env env, napi_ref* ref) {
  if (*ref != nullptr) napi_delete_reference(env, *ref);
  *ref = nullptr;
}

void DeleteHash(napi_env env, Hash* s) {
  objhash_free(s->core);
  s->core = nullptr;
  ReportMemory(s);
  DeleteRef(env, &s->grab);
  DeleteRef(env, &s->drop);
  DeleteRef(env, &s->drop_error);
  std::free(s->type_flags);
  delete s;
}

// Collected without free(): release the memory, but no JS can run here,
// so drop callbacks are skipped (documented: call free() or `using`).
void FinalizeHash(napi_env env, void* data, void* hint) {
  Hash* s = static_cast<Hash*>(data);
  (void)hint;
  s->finalizing = true;
  DeleteHash(env, s);
}

// A grab or drop argument: a function, or null/undefined (*out nullptr).
bool GetCallback(napi_env env, napi_value v, napi_value* out) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  *out = t == napi_function ? v : nullptr;
  if (t == napi_function || t == napi_undefined || t == napi_null)
    return true;
  return ThrowTypeError(env,
                        "objhash: grab/drop must be functions or undefined");
}

}  // namespace

// create(nbits, flags, maxLoad, grab, drop): a handle, or a negative code
napi_value Create(napi_env env, napi_callback_info info) {
  napi_value argv[5], grab, drop, ext;
  uint32_t nbits, flags, max_load;
  GetArgs(env, info, argv, 5);
  if (!GetUint32(env, argv[0], 64, "objhash: nbits must be an integer",
                 &nbits) ||
      !GetUint32(env, argv[1], UINT32_MAX, "objhash: flags must be an integer",
                 &flags) ||
      !GetUint32(env, argv[2], UINT32_MAX,
                 "objhash: maxLoad must be an integer", &max_load) ||
      !GetCallback(env, argv[3], &grab) || !GetCallback(env, argv[4], &drop))
    return nullptr;

  Hash* s = new (std::nothrow) Hash();
  if (s == nullptr) return Number(env, -OBJHASH_ENOMEM);
  s->env = env;
  struct objhash_config cfg = {};
  cfg.nbits = nbits;
  cfg.max_load = max_load;
  cfg.flags = flags;
  cfg.ops = &kOps;
  cfg.priv = s;
  int ret = objhash_alloc(&s->core, &cfg);
  if (ret < 0) {
    DeleteHash(env, s);
    return Number(env, ret);
  }
  // Weak: the caller keeps the callbacks as long as the handle (ObjHash
  // holds both).  A strong reference would be a root, and the callbacks
  // close over the ObjHash that holds the handle: a hash dropped without
  // free() could then never be collected, nor its finalizer run.
  if ((grab != nullptr &&
       napi_create_reference(env, grab, 0, &s->grab) != napi_ok) ||
      (drop != nullptr &&
       napi_create_reference(env, drop, 0, &s->drop) != napi_ok) ||
      napi_create_external(env, s, FinalizeHash, nullptr, &ext) != napi_ok) {
    DeleteHash(env, s);
    return Number(env, -OBJHASH_ENOMEM);
  }
  // untagged, the External is never used and its finalizer frees the hash
  if (napi_type_tag_object(env, ext, &kHashTag) != napi_ok)
    return Number(env, -OBJHASH_ENOMEM);
  ReportMemory(s);
  return ext;
}

// free(handle): drops every entry once, in insertion order, and throws the
// first exception a drop threw.  A no-op once freed; -EBUSY from a callback.
napi_value Free(napi_env env, napi_callback_info info) {
  napi_value argv[1], e;
  Hash* s = nullptr;
  GetArgs(env, info, argv, 1);
  if (!GetHandle(env, argv[0], &s)) return nullptr;
  if (!IsLive(s)) return Undefined(env);
  if (s->busy) return Number(env, -OBJHASH_EBUSY);
  s->freeing = true;
  objhash_free(s->core);
  s->core = nullptr;
  ReportMemory(s);
  DeleteRef(env, &s->grab);
  DeleteRef(env, &s->drop);
  if (s->drop_error != nullptr) {
    napi_value box;
    napi_get_reference_value(env, s->drop_error, &box);
    napi_get_element(env, box, 0, &e);
    DeleteRef(env, &s->drop_error);
    napi_throw(env, e);
    return nullptr;
  }
  return Undefined(env);
}

// setTypeFlags(handle, type, flags): 0, or -ENOMEM
napi_value SetTypeFlags(napi_env env, napi_callback_info info) {
  napi_value argv[3], early;
  uint32_t type, flags;
  Hash* s = OpenHash(env, info, argv, 3, Access::kReads, &early);
  if (s == nullptr) return early;
  if (!GetTypeId(env, argv[1], &type) ||
      !GetUint32(env, argv[2], OBJHASH_TYPE_GRAB | OBJHASH_TYPE_DROP,
                 "objhash: type flags must be 0..3", &flags))
    return nullptr;
  if (type >= s->ntypes) {
    void* p = std::realloc(s->type_flags, type + 1);
    if (p == nullptr) return Number(env, -OBJHASH_ENOMEM);
    s->type_flags = static_cast<uint8_t*>(p);
    for (uint32_t t = s->ntypes; t <= type; t++) s->type_flags[t] = 0;
    s->ntypes = type + 1;
  }
  s->type_flags[type] = static_cast<uint8_t>(flags);
  return Number(env, 0);
}

// ---- per item: raw napi_callbacks, on the hot path ----

napi_value Lookup(napi_env env, napi_callback_info info) {
  napi_value argv[3], early;
  uint64_t key;
  uint32_t type;
  Hash* s = OpenHash(env, info, argv, 3, Access::kReads, &early);
  if (s == nullptr) return early;
  if (!GetKey(env, argv[1], &key) || !GetTypeId(env, argv[2], &type))
    return nullptr;
  return Number(env, objhash_lookup(s->core, key, type));
}

// objref * 2 + first, or a negative code
napi_value LookupAdd(napi_env env, napi_callback_info info) {
  napi_value argv[3], early;
  uint64_t key;
  uint32_t type;
  int first = 0, ret;
  Hash* s = OpenHash(env, info, argv, 3, Access::kAdds, &early);
  if (s == nullptr) return early;
  if (!GetKey(env, argv[1], &key) || !GetTypeId(env, argv[2], &type))
    return nullptr;
  {
    BusyScope busy(s);
    ret = objhash_lookup_add(s->core, key, type, &first);
  }
  if (ret == kJsThrew) return nullptr;
  if (ret < 0) return Number(env, ret);
  return Number(env, static_cast<double>(ret) * 2 + first);
}

napi_value Add(napi_env env, napi_callback_info info) {
  napi_value argv[3], early;
  uint64_t key;
  uint32_t type;
  int ret;
  Hash* s = OpenHash(env, info, argv, 3, Access::kAdds, &early);
  if (s == nullptr) return early;
  if (!GetKey(env, argv[1], &key) || !GetTypeId(env, argv[2], &type))
    return nullptr;
  {
    BusyScope busy(s);
    ret = objhash_add(s->core, key, type);
  }
  return ret == kJsThrew ? nullptr : Number(env, ret);
}

napi_value Insert(napi_env env, napi_callback_info info) {
  napi_value argv[4], early;
  uint64_t key;
  int32_t objref;
  uint32_t type;
  int ret;
  Hash* s = OpenHash(env, info, argv, 4, Access::kAdds, &early);
  if (s == nullptr) return early;
  if (!GetKey(env, argv[1], &key) || !GetObjref(env, argv[2], &objref) ||
      !GetTypeId(env, argv[3], &type))
    return nullptr;
  {
    BusyScope busy(s);
    ret = objhash_insert(s->core, key, objref, type);
  }
  return ret == kJsThrew ? nullptr : Number(env, ret);
}

// entry index, or a negative code
napi_value Fetch(napi_env env, napi_callback_info info) {
  napi_value argv[3], early;
  int32_t objref;
  uint32_t type;
  Hash* s = OpenHash(env, info, argv, 3, Access::kReads, &early);
  if (s == nullptr) return early;
  if (!GetObjref(env, argv[1], &objref) || !GetTypeId(env, argv[2], &type))
    return nullptr;
  return Number(env, static_cast<double>(
                         objhash_fetch(s->core, objref, type, nullptr)));
}

// the key of entry @index (0 for none), or a negative code
napi_value EntryKey(napi_env env, napi_callback_info info) {
  napi_value argv[2], early;
  uint32_t index;
  uint64_t key = 0;
  Hash* s = OpenHash(env, info, argv, 2, Access::kReads, &early);
  if (s == nullptr) return early;
  if (!GetUint32(env, argv[1], UINT32_MAX, "objhash: index must be a uint32",
                 &index))
    return nullptr;
  int ret = objhash_entry(s->core, index, &key, nullptr, nullptr);
  return ret < 0 ? Number(env, ret) : KeyValue(env, key);
}

}  // namespace objhash_binding
