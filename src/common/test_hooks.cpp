// Implements the test hooks' strict reading and their warning (common/test_hooks.h).
#include "common/test_hooks.h"

#include <cerrno>
#include <cstdlib>

#include "common/check.h"
#include "common/log.h"

namespace nxt {

std::optional<long long> test_hook(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  NXT_CHECK(errno == 0 && *end == '\0', "test hook ", name, "='", text,
            "' is not an integer (unset it: it is for nxt's tests)");
  log::warn() << "test hook " << name << "=" << value
              << " is set: this run will misbehave on purpose (unset it unless this is a test)";
  return value;
}

}  // namespace nxt
