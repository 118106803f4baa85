#include "provider/pve/curl_loader.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace pvek8s::pve {
namespace {

template <typename F>
bool Resolve(void* lib, const char* name, F*& out) {
  out = reinterpret_cast<F*>(dlsym(lib, name));
  return out != nullptr;
}

}  // namespace

StatusOr<const CurlApi*> Curl() {
  static std::once_flag once;
  static CurlApi api;
  static Status error;
  std::call_once(once, [] {
    void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      error = UnavailableError(std::string("cannot load libcurl.so.4 (install libcurl4): ") +
                               dlerror());
      return;
    }
    bool ok = Resolve(lib, "curl_global_init", api.global_init) &&
              Resolve(lib, "curl_easy_init", api.easy_init) &&
              Resolve(lib, "curl_easy_cleanup", api.easy_cleanup) &&
              Resolve(lib, "curl_easy_reset", api.easy_reset) &&
              Resolve(lib, "curl_easy_setopt", api.easy_setopt) &&
              Resolve(lib, "curl_easy_perform", api.easy_perform) &&
              Resolve(lib, "curl_easy_getinfo", api.easy_getinfo) &&
              Resolve(lib, "curl_easy_strerror", api.easy_strerror) &&
              Resolve(lib, "curl_slist_append", api.slist_append) &&
              Resolve(lib, "curl_slist_free_all", api.slist_free_all);
    if (!ok) {
      error = UnavailableError("libcurl.so.4 lacks a needed function");
      return;
    }
    api.global_init(CURL_GLOBAL_DEFAULT);
  });
  if (!error.ok()) return error;
  return &api;
}

}  // namespace pvek8s::pve
