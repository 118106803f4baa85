// Must NOT compile: generated protobuf headers are private to provider/tfplugin
// (and provider/plugin for go-plugin's). The layering_check test builds this
// file and passes only when the include below is not found.
#include "proto/tfplugin6.pb.h"
