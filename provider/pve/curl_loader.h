// libcurl, loaded on first use. libcurl pulls ~27 shared libraries (GnuTLS,
// Kerberos, LDAP, ...) into the process; most provider processes Terraform
// starts (schema, validate) never call Proxmox and should not pay for them.
#ifndef PROVIDER_PVE_CURL_LOADER_H_
#define PROVIDER_PVE_CURL_LOADER_H_

#include <curl/curl.h>

#include "provider/base/status.h"

namespace pvek8s::pve {

// The libcurl entry points the client uses, resolved with dlopen/dlsym.
struct CurlApi {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  void (*easy_cleanup)(CURL*);
  void (*easy_reset)(CURL*);
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_perform)(CURL*);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
};

// Loads libcurl.so.4 once (thread-safe) and returns its API, or why not.
StatusOr<const CurlApi*> Curl();

}  // namespace pvek8s::pve

#endif  // PROVIDER_PVE_CURL_LOADER_H_
