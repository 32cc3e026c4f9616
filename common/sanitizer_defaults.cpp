// Linked into every executable of the sanitizer build: sanitizer errors stop
// the process (a test cannot pass over one), and the known third-party
// report in tests/ubsan.supp is suppressed without weakening checks on ours.

extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1:suppressions=" NOMAD_IIS_UBSAN_SUPPRESSIONS;
}

extern "C" const char* __asan_default_options() {
  return "detect_leaks=1:abort_on_error=1";
}
