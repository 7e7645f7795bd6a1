// SPDX-License-Identifier: MIT
//
// batch.cc - the calls over typed arrays: one crossing for a whole batch.
//
// Keys come as a BigUint64Array, used in place, or as a Float64Array,
// converted kChunk keys at a time (a key that is not an integer
// 1..MAX_SAFE_INTEGER fails its item with -EINVAL, as in the twin).  For a
// type with a grab callback the adds go one at a time, and the arrays are
// looked at again after every callback: JS may have detached them.  A
// batch stops at the first failure; what it added before stays.

#include <memory>
#include <new>

#include "binding.h"

namespace objhash_binding {

namespace {

// Keys converted per round when a batch comes as a Float64Array.
constexpr size_t kChunk = 2048;

const char kKeysMsg[] = "objhash: keys must be a BigUint64Array or "
                        "Float64Array";
const char kObjrefsMsg[] = "objhash: objrefs must be an Int32Array";

// The keys of a batch: exactly one of @direct and @doubles is set.
struct KeyArray {
  const uint64_t* direct;  // a BigUint64Array
  const double* doubles;   // a Float64Array
  size_t length;
};

bool GetKeyArray(napi_env env, napi_value v, KeyArray* out) {
  TypedArray a;
  if (!GetAnyTypedArray(env, v, kKeysMsg, &a)) return false;
  out->direct = nullptr;
  out->doubles = nullptr;
  out->length = a.length;
  if (a.type == napi_biguint64_array)
    out->direct = static_cast<const uint64_t*>(a.data);
  else if (a.type == napi_float64_array)
    out->doubles = static_cast<const double*>(a.data);
  else
    return ThrowTypeError(env, kKeysMsg);
  return true;
}

// A Float64Array item as a key: false unless an integer 1..MAX_SAFE_INTEGER.
inline bool DoubleToKey(double d, uint64_t* key) {
  if (!(d >= 1 && d <= kMaxSafe) || d != std::floor(d)) return false;
  *key = static_cast<uint64_t>(d);
  return true;
}

// Converts @k's keys [from, from + n) into @buf; returns how many of them,
// from the first, are valid keys.
size_t ConvertKeys(const KeyArray* k, size_t from, size_t n, uint64_t* buf) {
  for (size_t i = 0; i < n; i++)
    if (!DoubleToKey(k->doubles[from + i], &buf[i])) return i;
  return n;
}

// Key @i of @k; false if it is not a valid key.
bool KeyAt(const KeyArray* k, size_t i, uint64_t* key) {
  if (k->direct != nullptr) {
    *key = k->direct[i];
    return true;
  }
  return DoubleToKey(k->doubles[i], key);
}

// A buffer of kChunk keys (too big for the stack of a worker), or nullptr.
std::unique_ptr<uint64_t[]> NewChunk() {
  return std::unique_ptr<uint64_t[]>(new (std::nothrow) uint64_t[kChunk]);
}

// lookupAddMany for a type with a grab callback.
napi_value LookupAddOneByOne(napi_env env, napi_value* argv, Hash* s,
                             uint32_t type, size_t n, bool want_first) {
  int64_t added = 0;
  for (size_t i = 0; i < n; i++) {
    KeyArray keys;
    TypedArray out, first;
    uint64_t key;
    int is_first = 0;
    if (!GetKeyArray(env, argv[1], &keys) ||
        !GetAnyTypedArray(env, argv[3], kObjrefsMsg, &out) ||
        (want_first && !GetAnyTypedArray(env, argv[4], "", &first)))
      return nullptr;
    if (keys.length <= i || out.length <= i ||
        (want_first && first.length <= i) || !KeyAt(&keys, i, &key))
      return Number(env, -OBJHASH_EINVAL);  // detached by a callback
    int ret = objhash_lookup_add(s->core, key, type, &is_first);
    if (ret == kJsThrew) return nullptr;
    if (ret < 0) return Number(env, ret);
    // this callback may have detached them: look again
    if (!GetAnyTypedArray(env, argv[3], kObjrefsMsg, &out) ||
        (want_first && !GetAnyTypedArray(env, argv[4], "", &first)))
      return nullptr;
    if (out.length <= i || (want_first && first.length <= i))
      return Number(env, -OBJHASH_EINVAL);
    static_cast<int32_t*>(out.data)[i] = ret;
    if (want_first) static_cast<uint8_t*>(first.data)[i] = is_first;
    added += is_first;
  }
  return Number(env, static_cast<double>(added));
}

// insertMany for a type with a grab callback.
napi_value InsertOneByOne(napi_env env, napi_value* argv, Hash* s,
                          uint32_t type, size_t n, bool have_keys) {
  for (size_t i = 0; i < n; i++) {
    KeyArray keys;
    TypedArray refs;
    uint64_t key = 0;
    if ((have_keys && !GetKeyArray(env, argv[1], &keys)) ||
        !GetAnyTypedArray(env, argv[2], kObjrefsMsg, &refs))
      return nullptr;
    if (refs.length <= i ||
        (have_keys && (keys.length <= i || !KeyAt(&keys, i, &key))))
      return Number(env, -OBJHASH_EINVAL);
    int ret = objhash_insert(s->core, key,
                             static_cast<const int32_t*>(refs.data)[i], type);
    if (ret == kJsThrew) return nullptr;
    if (ret < 0) return Number(env, ret);
  }
  return Number(env, static_cast<double>(n));
}

}  // namespace

// lookupAddMany(handle, keys, type, objrefs, first|null): the number of
// entries added, or a negative code
napi_value LookupAddMany(napi_env env, napi_callback_info info) {
  napi_value argv[5], early;
  KeyArray keys;
  uint32_t type;
  TypedArray out, first = {napi_uint8_array, 0, nullptr};
  Hash* s = OpenHash(env, info, argv, 5, Access::kAdds, &early);
  if (s == nullptr) return early;
  bool want_first = !IsNullish(env, argv[4]);
  if (!GetKeyArray(env, argv[1], &keys) || !GetTypeId(env, argv[2], &type) ||
      !GetTypedArray(env, argv[3], napi_int32_array, kObjrefsMsg, &out) ||
      (want_first &&
       !GetTypedArray(env, argv[4], napi_uint8_array,
                      "objhash: first must be a Uint8Array", &first)))
    return nullptr;
  size_t n = keys.length;
  if (out.length < n || (want_first && first.length < n))
    return Number(env, -OBJHASH_EINVAL);

  BusyScope busy(s);
  if (TypeFlags(s, type) & OBJHASH_TYPE_GRAB)
    return LookupAddOneByOne(env, argv, s, type, n, want_first);
  std::unique_ptr<uint64_t[]> buf;
  if (keys.direct == nullptr && n > 0 && !(buf = NewChunk()))
    return Number(env, -OBJHASH_ENOMEM);
  int32_t* objrefs = static_cast<int32_t*>(out.data);
  uint8_t* firsts = want_first ? static_cast<uint8_t*>(first.data) : nullptr;
  int64_t added = 0;
  for (size_t at = 0; at < n;) {
    size_t done, m = n - at, valid = m;
    const uint64_t* k = keys.direct ? keys.direct + at : buf.get();
    if (keys.direct == nullptr) {
      m = m < kChunk ? m : kChunk;
      valid = ConvertKeys(&keys, at, m, buf.get());
    }
    int64_t ret = objhash_lookup_add_many(s->core, k, valid, type,
                                          objrefs + at,
                                          firsts ? firsts + at : nullptr,
                                          &done);
    if (ret < 0) return Number(env, static_cast<double>(ret));
    added += ret;
    if (valid < m) return Number(env, -OBJHASH_EINVAL);
    at += m;
  }
  return Number(env, static_cast<double>(added));
}

// addMany(handle, types, n): n entries without keys, of types[0..n), with
// the next objrefs and no grab (the facade grabbed them when it queued
// them).  n, or a negative code.
napi_value AddMany(napi_env env, napi_callback_info info) {
  napi_value argv[3], early;
  TypedArray types;
  uint32_t n;
  Hash* s = OpenHash(env, info, argv, 3, Access::kAdds, &early);
  if (s == nullptr) return early;
  if (!GetTypedArray(env, argv[1], napi_uint16_array,
                     "objhash: types must be a Uint16Array", &types) ||
      !GetUint32(env, argv[2], UINT32_MAX,
                 "objhash: n must be 0..types.length", &n))
    return nullptr;
  if (n > types.length) {
    ThrowTypeError(env, "objhash: n must be 0..types.length");
    return nullptr;
  }
  const uint16_t* t = static_cast<const uint16_t*>(types.data);
  BusyScope busy(s);
  int ret = 0;
  s->skip_grab = true;
  for (uint32_t i = 0; i < n && ret >= 0; i++)
    ret = objhash_add(s->core, 0, t[i]);
  s->skip_grab = false;
  return Number(env, ret < 0 ? static_cast<double>(ret) : n);
}

// insertTyped(handle, objrefs, types, n): n entries without keys, under
// objrefs[0..n) with types[0..n), in that order, with no grab (the facade
// queues only objects of types without one, restored by restart).  n, or
// a negative code (the entries before the one refused stay).
napi_value InsertTyped(napi_env env, napi_callback_info info) {
  napi_value argv[4], early;
  TypedArray refs, types;
  uint32_t n;
  Hash* s = OpenHash(env, info, argv, 4, Access::kAdds, &early);
  if (s == nullptr) return early;
  if (!GetTypedArray(env, argv[1], napi_int32_array, kObjrefsMsg, &refs) ||
      !GetTypedArray(env, argv[2], napi_uint16_array,
                     "objhash: types must be a Uint16Array", &types) ||
      !GetUint32(env, argv[3], UINT32_MAX,
                 "objhash: n must be 0..types.length", &n))
    return nullptr;
  if (n > types.length || n > refs.length) {
    ThrowTypeError(env, "objhash: n must be 0..types.length");
    return nullptr;
  }
  const int32_t* r = static_cast<const int32_t*>(refs.data);
  const uint16_t* t = static_cast<const uint16_t*>(types.data);
  BusyScope busy(s);
  int ret = 0;
  s->skip_grab = true;
  for (uint32_t i = 0; i < n && ret >= 0; i++)
    ret = objhash_insert(s->core, 0, r[i], t[i]);
  s->skip_grab = false;
  return Number(env, ret < 0 ? static_cast<double>(ret) : n);
}

// insertMany(handle, keys|null, objrefs, type): n, or a negative code
napi_value InsertMany(napi_env env, napi_callback_info info) {
  napi_value argv[4], early;
  KeyArray keys = {nullptr, nullptr, 0};
  TypedArray refs;
  uint32_t type;
  Hash* s = OpenHash(env, info, argv, 4, Access::kAdds, &early);
  if (s == nullptr) return early;
  bool have_keys = !IsNullish(env, argv[1]);
  if ((have_keys && !GetKeyArray(env, argv[1], &keys)) ||
      !GetTypedArray(env, argv[2], napi_int32_array, kObjrefsMsg, &refs) ||
      !GetTypeId(env, argv[3], &type))
    return nullptr;
  size_t n = refs.length;
  if (have_keys && keys.length < n) return Number(env, -OBJHASH_EINVAL);

  BusyScope busy(s);
  if (TypeFlags(s, type) & OBJHASH_TYPE_GRAB)
    return InsertOneByOne(env, argv, s, type, n, have_keys);
  std::unique_ptr<uint64_t[]> buf;
  if (have_keys && keys.direct == nullptr && n > 0 && !(buf = NewChunk()))
    return Number(env, -OBJHASH_ENOMEM);
  const int32_t* objrefs = static_cast<const int32_t*>(refs.data);
  for (size_t at = 0; at < n;) {
    size_t done, m = n - at, valid = m;
    const uint64_t* k = nullptr;
    if (keys.direct != nullptr) {
      k = keys.direct + at;
    } else if (have_keys) {
      m = m < kChunk ? m : kChunk;
      valid = ConvertKeys(&keys, at, m, buf.get());
      k = buf.get();
    }
    int64_t ret =
        objhash_insert_many(s->core, k, objrefs + at, valid, type, &done);
    if (ret < 0) return Number(env, static_cast<double>(ret));
    if (valid < m) return Number(env, -OBJHASH_EINVAL);
    at += m;
  }
  return Number(env, static_cast<double>(n));
}

// fetchMany(handle, objrefs, type, keysOut|null, indexOut|null): 0, or a
// negative code
napi_value FetchMany(napi_env env, napi_callback_info info) {
  napi_value argv[5], early;
  TypedArray refs, keys = {napi_biguint64_array, 0, nullptr},
                   index = {napi_int32_array, 0, nullptr};
  uint32_t type;
  Hash* s = OpenHash(env, info, argv, 5, Access::kReads, &early);
  if (s == nullptr) return early;
  bool want_keys = !IsNullish(env, argv[3]);
  bool want_index = !IsNullish(env, argv[4]);
  if (!GetTypedArray(env, argv[1], napi_int32_array, kObjrefsMsg, &refs) ||
      !GetTypeId(env, argv[2], &type) ||
      (want_keys &&
       !GetAnyTypedArray(env, argv[3],
                         "objhash: keysOut must be a BigUint64Array or "
                         "Float64Array", &keys)) ||
      (want_index &&
       !GetTypedArray(env, argv[4], napi_int32_array,
                      "objhash: indexOut must be an Int32Array", &index)))
    return nullptr;
  if (keys.type != napi_biguint64_array && keys.type != napi_float64_array) {
    ThrowTypeError(env, "objhash: keysOut must be a BigUint64Array or "
                        "Float64Array");
    return nullptr;
  }
  size_t n = refs.length, done;
  if ((want_keys && keys.length < n) || (want_index && index.length < n))
    return Number(env, -OBJHASH_EINVAL);
  const int32_t* objrefs = static_cast<const int32_t*>(refs.data);
  uint32_t* idx = want_index ? static_cast<uint32_t*>(index.data) : nullptr;
  if (!want_keys || keys.type == napi_biguint64_array)
    return Number(env, static_cast<double>(objhash_fetch_many(
                           s->core, objrefs, n, type,
                           static_cast<uint64_t*>(keys.data), idx, &done)));

  // Float64Array out: fetch a chunk into a buffer, then convert.
  std::unique_ptr<uint64_t[]> buf;
  if (n > 0 && !(buf = NewChunk())) return Number(env, -OBJHASH_ENOMEM);
  double* out = static_cast<double*>(keys.data);
  for (size_t at = 0; at < n;) {
    size_t m = n - at < kChunk ? n - at : kChunk;
    int64_t ret = objhash_fetch_many(s->core, objrefs + at, m, type,
                                     buf.get(), idx ? idx + at : nullptr,
                                     &done);
    if (ret < 0) return Number(env, static_cast<double>(ret));
    for (size_t i = 0; i < m; i++) {
      if (buf[i] > static_cast<uint64_t>(kMaxSafe))
        return Number(env, -OBJHASH_EINVAL);
      out[at + i] = static_cast<double>(buf[i]);
    }
    at += m;
  }
  return Number(env, 0);
}

}  // namespace objhash_binding
