#pragma once
// libarchive converts entry names between the archive and the thread's
// locale. The plugin runs in the "C" locale, where a name flagged UTF-8
// cannot be converted (the entry comes back without a name) and the zip
// writer never flags one. Inside this scope the thread uses C.UTF-8 for
// character types only: names pass through as the bytes they are, flagged
// UTF-8 when they are not ASCII. Held around every resume of a zip fiber,
// so no other code on the thread sees the change.

#include <locale.h>
#include <clocale>

namespace nomad_iis::files {

class utf8_names {
 public:
  utf8_names() {
    static const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    if (utf8) previous_ = ::uselocale(utf8);
  }
  ~utf8_names() {
    if (previous_) ::uselocale(previous_);
  }
  utf8_names(const utf8_names&) = delete;
  utf8_names& operator=(const utf8_names&) = delete;

 private:
  locale_t previous_{};
};

}  // namespace nomad_iis::files
