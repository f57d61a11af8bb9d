#pragma once
// SHA-256 digests as the image world spells them ("sha256:<64 hex>").
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "berth/util/sha256.h"

namespace berth::image {

// The hashing itself is util's (berth::Sha256); the image world's digest spelling is here.
using berth::Sha256;
using berth::sha256_hex;
std::string sha256_digest(std::string_view data);  // "sha256:<hex>"

bool is_digest(std::string_view s);                 // "sha256:" + 64 lowercase hex
std::string digest_hex(const std::string& digest);  // strips "sha256:"; throws Error if malformed

// ChainID of a stack of layers (image-spec config.md): ChainID(L0) = DiffID(L0),
// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). One entry per layer, bottom
// first.
std::vector<std::string> chain_ids(const std::vector<std::string>& diff_ids);

}  // namespace berth::image
