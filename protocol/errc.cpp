#include "protocol/errc.hpp"

namespace kinbox {

std::string_view errc_name(errc code) {
  switch (code) {
#define KINBOX_ERRC_NAME(name, number, retryable, text)                                            \
  case errc::name:                                                                                 \
    return #name;
    KINBOX_ERRC_TABLE(KINBOX_ERRC_NAME)
#undef KINBOX_ERRC_NAME
  }
  return "unknown";
}

std::string_view errc_description(errc code) {
  switch (code) {
#define KINBOX_ERRC_TEXT(name, number, retryable, text)                                            \
  case errc::name:                                                                                 \
    return text;
    KINBOX_ERRC_TABLE(KINBOX_ERRC_TEXT)
#undef KINBOX_ERRC_TEXT
  }
  return "unknown error code";
}

bool errc_retryable(errc code) {
  switch (code) {
#define KINBOX_ERRC_RETRY(name, number, retryable, text)                                           \
  case errc::name:                                                                                 \
    return retryable;
    KINBOX_ERRC_TABLE(KINBOX_ERRC_RETRY)
#undef KINBOX_ERRC_RETRY
  }
  return false;
}

bool errc_known(uint16_t number) {
  switch (number) {
#define KINBOX_ERRC_KNOWN(name, number, retryable, text) case number:
    KINBOX_ERRC_TABLE(KINBOX_ERRC_KNOWN)
#undef KINBOX_ERRC_KNOWN
    return true;
  }
  return false;
}

} // namespace kinbox
