// The tfplugin6.Provider gRPC service: converts protobuf messages to and from
// the framework's wire structs. This folder is the only code that sees the
// generated tfplugin6 headers.
#ifndef PROVIDER_TFPLUGIN_PROVIDER_SERVICE_H_
#define PROVIDER_TFPLUGIN_PROVIDER_SERVICE_H_

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "provider/framework/server.h"

namespace pvek8s::tfplugin {

// A service answering every tfplugin6 RPC Terraform 1.11 calls, backed by
// `server`, which must outlive it. Thread-safe as far as `server` is.
std::unique_ptr<grpc::Service> NewProviderService(framework::Server* server);

}  // namespace pvek8s::tfplugin

#endif  // PROVIDER_TFPLUGIN_PROVIDER_SERVICE_H_
