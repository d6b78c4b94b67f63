// The --inspect report of a packed dataset (format version 1 or 2): classes and counts per split,
// size, mean/std, version 2's storage (max side, storage, stream size and bytes per image, share
// stored as JPEG per split), and a full check that labels are in range, version 2's records lie
// back to back filling the stream, and every image reads back (JPEG records decoded).
#pragma once
#include <ostream>
#include <string>

namespace nxt {

// Prints the report to `out`; returns the number of problems found (0 = healthy).
int inspect_dataset(const std::string& path, std::ostream& out);

}  // namespace nxt
