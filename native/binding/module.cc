// SPDX-License-Identifier: MIT
//
// module.cc - the addon: a node-addon-api Napi::Addon (one instance per
// environment, so per worker_thread) whose constructor builds the exports:
// the Backend functions, `codes` and `limits` (the numbers of objhash.h
// and binding.h, by name: the same table as lib/backend/codes.ts, which
// scripts/gen-codes.js writes from the same headers), and the two
// functions that need no hash.
//
// node-addon-api does the registration, the instance data and the
// exports; the functions stay raw napi_callbacks (binding.h says why).

#include <napi.h>

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

// A frozen object { name: value, ... }.  A failure leaves an exception
// pending (C++ exceptions are off), and loading the addon throws it.
template <size_t N>
Napi::Object NewTable(Napi::Env env, const NamedNumber (&table)[N]) {
  Napi::Object obj = Napi::Object::New(env);
  for (const NamedNumber& e : table) obj.Set(e.name, e.value);
  obj.Freeze();
  return obj;
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

// The addon instance: node-addon-api creates one per environment (the main
// thread and each worker), keeps it as the environment's instance data and
// deletes it when the environment goes away.  It is each function's `data`,
// so per-environment state has a home without statics; the functions need
// none today (a hash's state is its own, struct Hash), so they never read
// it and pay nothing for it.
class ObjHashAddon : public Napi::Addon<ObjHashAddon> {
 public:
  ObjHashAddon(Napi::Env env, Napi::Object exports) {
    // every export is a plain data property, as on the twin's object
    constexpr napi_property_attributes kData = napi_default_jsproperty;
    DefineAddon(
        exports,
        {
            InstanceValue("name", Napi::String::New(env, "native"), kData),
            InstanceValue("crc32cHardware",
                          Napi::Boolean::New(env, objhash_crc32c_hw() != 0),
                          kData),
            InstanceValue("codes", NewTable(env, kCodes), kData),
            InstanceValue("limits", NewTable(env, kLimits), kData),
            RawFunction("create", Create),
            RawFunction("setTypeFlags", SetTypeFlags),
            RawFunction("lookup", Lookup),
            RawFunction("lookupAdd", LookupAdd),
            RawFunction("add", Add),
            RawFunction("addMany", AddMany),
            RawFunction("insert", Insert),
            RawFunction("fetch", Fetch),
            RawFunction("entryKey", EntryKey),
            RawFunction("reserve", HashNumber<objhash_reserve, Access::kAdds>),
            RawFunction("size", HashNumber<objhash_count>),
            RawFunction("nextObjref", HashNumber<objhash_next_objref>),
            RawFunction("buckets", HashNumber<objhash_nbuckets>),
            RawFunction("memory", HashNumber<objhash_memory>),
            RawFunction("free", Free),
            RawFunction("lookupAddMany", LookupAddMany),
            RawFunction("insertMany", InsertMany),
            RawFunction("insertTyped", InsertTyped),
            RawFunction("fetchMany", FetchMany),
            RawFunction("crc32c", Crc32c),
            RawFunction("hashLong", HashLong),
        });
  }

 private:
  // A raw napi_callback as a data property, with this instance as its data
  // (not an InstanceMethod, which would wrap it in a Napi::CallbackInfo).
  AddonProp RawFunction(const char* name, napi_callback cb) {
    return napi_property_descriptor{name,    nullptr, cb,    nullptr,
                                    nullptr, nullptr, napi_default_jsproperty,
                                    this};
  }
};

}  // namespace objhash_binding

using objhash_binding::ObjHashAddon;
NODE_API_ADDON(ObjHashAddon)
