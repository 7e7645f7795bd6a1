// SPDX-License-Identifier: MIT
//
// module.cc - the addon's exports: the Backend functions, `codes` and
// `limits` (the numbers of objhash.h and binding.h, by name: the same
// table as lib/backend/codes.ts, which scripts/gen-codes.js writes from
// the same headers), and the two functions that need no hash.

#include "binding.h"

namespace objhash_binding {

namespace {

struct NamedNumber {
  const char* name;
  double value;
};

#define OBJHASH_NAMED(x) \
  { #x, static_cast<double>(OBJHASH_##x) }

// lib/backend/codes.ts ERRNO
const NamedNumber kCodes[] = {
    OBJHASH_NAMED(EIO),    OBJHASH_NAMED(E2BIG),  OBJHASH_NAMED(EBADF),
    OBJHASH_NAMED(ENOMEM), OBJHASH_NAMED(EBUSY),  OBJHASH_NAMED(EEXIST),
    OBJHASH_NAMED(EINVAL), OBJHASH_NAMED(EPIPE),  OBJHASH_NAMED(ELOOP),
    OBJHASH_NAMED(ENOMSG), OBJHASH_NAMED(EBADMSG),
};

// lib/backend/codes.ts LIMITS
const NamedNumber kLimits[] = {
    OBJHASH_NAMED(DEFAULT_NBITS),    OBJHASH_NAMED(MIN_NBITS),
    OBJHASH_NAMED(MAX_NBITS),        OBJHASH_NAMED(DEFAULT_MAX_LOAD),
    OBJHASH_NAMED(MAX_LOAD),         OBJHASH_NAMED(MAX_OBJREF),
    OBJHASH_NAMED(MAX_TYPE_ID),      OBJHASH_NAMED(FIXED),
    OBJHASH_NAMED(MULT_OLD),         OBJHASH_NAMED(TYPE_GRAB),
    OBJHASH_NAMED(TYPE_DROP),
};

#undef OBJHASH_NAMED

// A frozen object { name: value, ... }, or nullptr.
template <size_t N>
napi_value NewTable(napi_env env, const NamedNumber (&table)[N]) {
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return nullptr;
  for (const NamedNumber& e : table)
    if (napi_set_named_property(env, obj, e.name, Number(env, e.value)) !=
        napi_ok)
      return nullptr;
  return napi_object_freeze(env, obj) == napi_ok ? obj : nullptr;
}

// crc32c(bytes, crc): the CRC-32C of @bytes, extending @crc (0 to start)
napi_value Crc32c(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  TypedArray bytes;
  uint32_t crc = 0;
  const char msg[] = "objhash: crc32c needs a Uint8Array";
  GetArgs(env, info, argv, 2);
  if (!GetAnyTypedArray(env, argv[0], msg, &bytes)) return nullptr;
  if (bytes.type != napi_uint8_array &&
      bytes.type != napi_uint8_clamped_array) {
    ThrowTypeError(env, msg);
    return nullptr;
  }
  if (!IsNullish(env, argv[1]) &&
      !GetUint32(env, argv[1], UINT32_MAX, "objhash: crc must be a uint32",
                 &crc))
    return nullptr;
  return Number(env, objhash_crc32c(crc, bytes.data, bytes.length));
}

// hashLong(key, bits, mult2009): the bucket of @key among 2^bits
napi_value HashLong(napi_env env, napi_callback_info info) {
  napi_value argv[3], old;
  uint64_t key;
  uint32_t bits;
  bool mult_2009 = false;
  GetArgs(env, info, argv, 3);
  if (!GetKey(env, argv[0], &key) ||
      !GetUint32(env, argv[1], 32, "objhash: bits must be 1..32", &bits))
    return nullptr;
  if (bits == 0) {
    ThrowTypeError(env, "objhash: bits must be 1..32");
    return nullptr;
  }
  if (napi_coerce_to_bool(env, argv[2], &old) == napi_ok)
    napi_get_value_bool(env, old, &mult_2009);
  return Number(env, static_cast<double>(objhash_hash_long(
                         key, bits,
                         mult_2009 ? OBJHASH_MULT_2009 : OBJHASH_MULT_CURRENT)));
}

}  // namespace

}  // namespace objhash_binding

// Every export is a plain data property, as on the twin's object.
NAPI_MODULE_INIT() {
  using namespace objhash_binding;
  napi_value name, hw, codes = NewTable(env, kCodes),
                       limits = NewTable(env, kLimits);
  if (codes == nullptr || limits == nullptr ||
      napi_create_string_utf8(env, "native", NAPI_AUTO_LENGTH, &name) !=
          napi_ok ||
      napi_get_boolean(env, objhash_crc32c_hw() != 0, &hw) != napi_ok)
    return nullptr;

  constexpr napi_property_attributes kData = napi_default_jsproperty;
#define VALUE(n, v) {n, nullptr, nullptr, nullptr, nullptr, v, kData, nullptr}
#define FUNCTION(n, f) \
  {n, nullptr, f, nullptr, nullptr, nullptr, kData, nullptr}
  const napi_property_descriptor props[] = {
      VALUE("name", name),
      VALUE("crc32cHardware", hw),
      VALUE("codes", codes),
      VALUE("limits", limits),
      FUNCTION("create", Create),
      FUNCTION("setTypeFlags", SetTypeFlags),
      FUNCTION("lookup", Lookup),
      FUNCTION("lookupAdd", LookupAdd),
      FUNCTION("add", Add),
      FUNCTION("addMany", AddMany),
      FUNCTION("insert", Insert),
      FUNCTION("fetch", Fetch),
      FUNCTION("entryKey", EntryKey),
      FUNCTION("reserve", (HashNumber<objhash_reserve, Access::kAdds>)),
      FUNCTION("size", HashNumber<objhash_count>),
      FUNCTION("nextObjref", HashNumber<objhash_next_objref>),
      FUNCTION("buckets", HashNumber<objhash_nbuckets>),
      FUNCTION("memory", HashNumber<objhash_memory>),
      FUNCTION("free", Free),
      FUNCTION("lookupAddMany", LookupAddMany),
      FUNCTION("insertMany", InsertMany),
      FUNCTION("fetchMany", FetchMany),
      FUNCTION("crc32c", Crc32c),
      FUNCTION("hashLong", HashLong),
  };
#undef VALUE
#undef FUNCTION
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]),
                             props) != napi_ok)
    return nullptr;
  return exports;
}
