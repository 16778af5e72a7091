// Each part of the addon registers its exports from its own file, so parts stay independent:
//   static netcon::Registrar reg("crypto", [](Napi::Env env, Napi::Object exports) { ... });
#pragma once
#include <napi.h>
#include <functional>
#include <vector>

namespace netcon {
using InitFn = std::function<void(Napi::Env, Napi::Object)>;
std::vector<std::pair<const char*, InitFn>>& parts();
struct Registrar {
  Registrar(const char* name, InitFn fn) { parts().emplace_back(name, std::move(fn)); }
};
}  // namespace netcon
