#pragma once
// Image references in Docker's rules: "busybox" is "busybox:latest"; "docker.io/library/busybox"
// is shown as "busybox"; a first component with '.' or ':' or "localhost" is a registry host.
#include <string>

namespace berth::image {

struct Reference {
  std::string domain;  // "" for Docker Hub (familiar form), e.g. "127.0.0.1:5000"
  std::string path;    // "busybox", "library/x" (only with a domain), "user/app"
  std::string tag;     // "latest" unless a digest is given without a tag
  std::string digest;  // "sha256:<hex>" from "name@sha256:<hex>", else ""
  std::string repository() const { return domain.empty() ? path : domain + "/" + path; }
  std::string str() const;  // repository[:tag][@digest]
};

// Parses and validates; throws berth::Error (exit 125) that says what is wrong.
Reference parse_reference(const std::string& ref);

// "busybox" -> "busybox:latest"; "docker.io/library/busybox:1" -> "busybox:1". Throws on invalid.
std::string normalize_ref(const std::string& ref);

// A full or partial image id: "sha256:" optional, then >= 4 lowercase hex digits.
bool looks_like_id_prefix(const std::string& s);

}  // namespace berth::image
