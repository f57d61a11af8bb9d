#pragma once
#include "berth/util/file_lock.h"

namespace berth::engine {
using StoreLock = berth::FileLock;
}
