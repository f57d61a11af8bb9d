#include "berth/util/error.h"

#include <cerrno>
#include <cstring>

namespace berth {

SysError::SysError(const std::string& what, int err)
    : Error(what + ": " + std::strerror(err)), err_(err) {}

void throw_errno(const std::string& what) { throw SysError(what, errno); }

}  // namespace berth
