// terraform-provider-proxmox: Terraform starts this binary; see README.md.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "provider/framework/server.h"
#include "provider/plugin/log_level.h"
#include "provider/plugin/serve.h"
#include "provider/resources/proxmox_provider.h"

namespace {

// Exit codes, as Terraform's own providers and most CLIs use them: 0 for
// --help and --version, 1 when started by hand without --debug (go-plugin
// providers refuse the same way), 2 for an argument it does not know.
constexpr int kExitUsage = 2;

void PrintUsage(std::FILE* out) {
  std::fputs(
      "usage: terraform-provider-proxmox [--debug | --version | --help]\n"
      "\n"
      "The gcid/proxmox Terraform provider. Terraform starts it; declare it with\n"
      "  terraform { required_providers { proxmox = { source = \"gcid/proxmox\" } } }\n"
      "and run terraform init, plan and apply (README.md, examples/lab/README.md).\n"
      "\n"
      "  --debug    serve in the foreground for a debugger and print the\n"
      "             TF_REATTACH_PROVIDERS value to give terraform\n"
      "  --version  print the version and exit\n"
      "  --help     print this help and exit\n"
      "\n"
      "Exit status: 0 after --help or --version, 1 when started by hand without\n"
      "--debug, 2 for an unknown argument.\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  pvek8s::plugin::ServeOptions options;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--debug") == 0) {
      options.debug = true;
    } else if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("terraform-provider-proxmox %s\n", pvek8s::resources::kProviderVersion);
      return 0;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      PrintUsage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "terraform-provider-proxmox: unknown argument \"%s\"\n", argv[i]);
      PrintUsage(stderr);
      return kExitUsage;
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
