// Must NOT compile: go-plugin's generated headers are private to
// provider/plugin. See the layering_check_goplugin test.
#include "proto/grpc_controller.pb.h"
