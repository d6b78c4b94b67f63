// A stable 64-bit FNV-1a hash for fingerprints (dataset identity in checkpoints): the same
// bytes give the same value on every platform and build, unlike std::hash.
#pragma once
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>

namespace nxt {

class Fnv1a64 {
 public:
  Fnv1a64& add(const void* data, size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) state_ = (state_ ^ bytes[i]) * 0x100000001b3ULL;
    return *this;
  }
  Fnv1a64& add(const std::string& text) { return add(text.data(), text.size() + 1); }
  template <class T>
  Fnv1a64& add_value(const T& value) {
    return add(&value, sizeof value);
  }
  uint64_t value() const { return state_; }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(state_));
    return text;
  }

 private:
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

// SplitMix64: a tiny seeded generator whose sequence is fixed by its definition, so shuffles
// and splits repeat across platforms (std::shuffle's algorithm is implementation-defined).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) (bound > 0), with negligible modulo bias for our sizes.
  uint64_t below(uint64_t bound) { return next() % bound; }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)

 private:
  uint64_t state_;
};

// One well-mixed seed from several values, e.g. (seed, epoch, rank, step): nearby tuples give
// unrelated streams.
inline uint64_t mix_seed(std::initializer_list<uint64_t> values) {
  uint64_t state = 0x243f6a8885a308d3ULL;
  for (uint64_t v : values) state = SplitMix64(state ^ v).next();
  return state;
}

template <class Vector>
void seeded_shuffle(Vector& items, SplitMix64& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

}  // namespace nxt
