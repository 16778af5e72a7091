#include "registry.h"

namespace netcon {
std::vector<std::pair<const char*, InitFn>>& parts() {
  static std::vector<std::pair<const char*, InitFn>> list;
  return list;
}
}  // namespace netcon

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& [name, fn] : netcon::parts()) {
    Napi::Object part = Napi::Object::New(env);
    fn(env, part);
    exports.Set(name, part);
  }
  return exports;
}

NODE_API_MODULE(netcon_native, Init)
