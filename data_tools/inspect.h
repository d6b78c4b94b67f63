// The --inspect report of a packed dataset: classes and counts per split, size, mean/std, and a
// full check that labels are in range and every image reads back.
#pragma once
#include <ostream>
#include <string>

namespace nxt {

// Prints the report to `out`; returns the number of problems found (0 = healthy).
int inspect_dataset(const std::string& path, std::ostream& out);

}  // namespace nxt
