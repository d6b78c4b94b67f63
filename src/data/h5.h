// Thin RAII and helpers over the HDF5 C API: owned handles, typed attributes, string datasets.
// HDF5's own error-stack printing is turned off; failures throw nxt::Error naming the object.
#pragma once
#include <hdf5.h>

#include <mutex>
#include <string>
#include <vector>

namespace nxt::h5 {

// An owned hid_t, closed with the matching H5*close on destruction.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  ~Handle() { reset(); }
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  void reset();

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// The HDF5 library (Debian's build) is not thread-safe: threads that call it take this lock.
std::mutex& library_mutex();

// Silences HDF5's default error printing for the process (we report errors ourselves).
void silence_library_errors();

Handle create_file(const std::string& path);
// Without file locking (see h5.cpp); errors name the file and keep HDF5's own reason.
Handle open_file_readonly(const std::string& path);
// HDF5's error stack of the last failed call on this thread, as one line.
std::string library_error_text();
Handle create_group(hid_t parent, const std::string& name);
Handle open_dataset(hid_t parent, const std::string& name, const std::string& file_for_errors);
bool exists(hid_t parent, const std::string& path);

void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, const std::vector<double>& values);
void write_attribute(hid_t object, const std::string& name, const std::vector<int64_t>& values);
std::string read_string_attribute(hid_t object, const std::string& name);
std::vector<double> read_double_attribute(hid_t object, const std::string& name);
std::vector<int64_t> read_int_attribute(hid_t object, const std::string& name);
bool has_attribute(hid_t object, const std::string& name);

// Variable-length UTF-8 string datasets (h5py: .asstr()), and 1-D int32 datasets.
void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values);
std::vector<std::string> read_strings(hid_t dataset);
void write_int32s(hid_t parent, const std::string& name, const std::vector<int32_t>& values);
std::vector<int32_t> read_int32s(hid_t dataset);

// Dimensions of a dataset's dataspace.
std::vector<hsize_t> shape_of(hid_t dataset);

}  // namespace nxt::h5
