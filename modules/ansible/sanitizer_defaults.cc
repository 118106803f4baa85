// Sanitizer defaults for module binaries, linked in sanitizer builds only
// (modules/CMakeLists.txt). The binaries run on the test hosts through ssh, so
// the test run's ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS do not reach them,
// and Ansible ignores a module's stderr and exit code once it printed its JSON
// result: a leak report at exit would go unseen. These defaults write every
// report into the build's report directory (PVEK8S_SANITIZER_LOG_PATH, a path
// prefix; the runtime appends the pid), which .ci/sanitize checks after the
// suite. Options in the environment still take precedence.

#ifndef PVEK8S_SANITIZER_LOG_PATH
#error "PVEK8S_SANITIZER_LOG_PATH must name the report path prefix"
#endif

extern "C" {

// Called by the sanitizer runtimes before they read the environment.
const char* __asan_default_options() { return "log_path=" PVEK8S_SANITIZER_LOG_PATH; }
const char* __ubsan_default_options() {
  return "log_path=" PVEK8S_SANITIZER_LOG_PATH ":print_stacktrace=1";
}
const char* __lsan_default_options() { return "log_path=" PVEK8S_SANITIZER_LOG_PATH; }

}  // extern "C"
