// terraform-provider-proxmox: Terraform starts this binary; see README.md.
#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "provider/framework/server.h"
#include "provider/plugin/log_level.h"
#include "provider/plugin/serve.h"
#include "provider/resources/proxmox_provider.h"

int main(int argc, char** argv) {
  pvek8s::plugin::ServeOptions options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--debug") == 0) {
      options.debug = true;
    } else if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("terraform-provider-proxmox %s\n", pvek8s::resources::kProviderVersion);
      return 0;
    } else {
      std::fprintf(stderr, "usage: %s [--debug | --version]\n", argv[0]);
      return 2;
    }
  }
  // Each call of Terraform's allocates and frees a few hundred small objects
  // on one of gRPC's threads: without these, glibc gives threads arenas of
  // their own and hands freed memory back to the kernel (munmap, madvise),
  // which cost more CPU than the calls (bench/README.md, provider CPU).
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
  pvek8s::log::SetMinLevel(
      pvek8s::plugin::LogLevelFromEnv(std::getenv("TF_LOG_PROVIDER"), std::getenv("TF_LOG")));
  pvek8s::framework::Server server(pvek8s::resources::NewProxmoxProvider());
  return pvek8s::plugin::Serve(&server, options);
}
