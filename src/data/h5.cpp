// Implements the HDF5 handle and attribute/string helpers.
#include "data/h5.h"

#include <filesystem>

#include "common/check.h"

namespace nxt::h5 {
namespace {

Handle checked(hid_t id, herr_t (*closer)(hid_t), const std::string& what) {
  if (id < 0) throw Error("HDF5: cannot " + what);
  return Handle(id, closer);
}

Handle string_type() {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

template <class T>
void write_numeric_attribute(hid_t object, const std::string& name, const std::vector<T>& values,
                             hid_t file_type, hid_t memory_type) {
  const hsize_t count = values.size();
  Handle space = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, "create dataspace");
  Handle attr =
      checked(H5Acreate2(object, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose, "create attribute '" + name + "'");
  NXT_H5_CHECK(H5Awrite(attr, memory_type, values.data()), "attribute ", name);
}

template <class T>
std::vector<T> read_numeric_attribute(hid_t object, const std::string& name, hid_t memory_type) {
  Handle attr = checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose,
                        "open attribute '" + name + "'");
  Handle space(H5Aget_space(attr), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space);
  std::vector<T> values(static_cast<size_t>(std::max<hssize_t>(count, 0)));
  if (H5Aread(attr, memory_type, values.data()) < 0)
    throw Error("HDF5: attribute '" + name + "' is not numeric");
  return values;
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && closer_) closer_(id_);
  id_ = -1;
}

std::mutex& library_mutex() {
  static std::mutex mutex;
  return mutex;
}

void silence_library_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Handle create_file(const std::string& path) {
  silence_library_errors();
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  // Page-aligned large objects: each image chunk starts on a 4 KiB boundary.
  H5Pset_alignment(access, 64 * 1024, 4096);
  return checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access), H5Fclose,
                 "create '" + path + "'");
}

std::string library_error_text() {
  std::string text;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* error, void* out) -> herr_t {
        auto& joined = *static_cast<std::string*>(out);
        if (error->desc && *error->desc)
          joined += (joined.empty() ? "" : "; ") + std::string(error->desc);
        return 0;
      },
      &text);
  return text.empty() ? "no detail from HDF5" : text;
}

// Read-only opens take no file lock: a lock fails on Lustre, GPFS and NFS mounts without flock,
// and many ranks only read the file anyway.
Handle open_file_readonly(const std::string& path) {
  silence_library_errors();
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
#if (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7) || \
    (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 12 && H5_VERS_RELEASE >= 1) || \
    (H5_VERS_MAJOR == 1 && H5_VERS_MINOR > 12) || H5_VERS_MAJOR > 1
  H5Pset_file_locking(access, /*use_file_locking=*/false, /*ignore_when_disabled=*/true);
#else
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", /*overwrite=*/0);
#endif
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, access);
  if (id < 0) {
    const std::string detail = library_error_text();  // before any other HDF5 call clears it
    std::error_code error;
    if (!std::filesystem::exists(path, error))
      throw Error("'" + path + "' does not exist (data.path or the file name is wrong, or this " +
                  "node does not see that file system)");
    if (H5Fis_hdf5(path.c_str()) <= 0)
      throw Error("'" + path + "' is unreadable or not an HDF5 file (HDF5: " + detail + ")");
    throw Error("cannot open HDF5 file '" + path + "' (HDF5: " + detail + ")");
  }
  return Handle(id, H5Fclose);
}

Handle create_group(hid_t parent, const std::string& name) {
  return checked(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                 "create group '" + name + "'");
}

bool exists(hid_t parent, const std::string& path) {
  // H5Lexists needs each intermediate link to exist, so walk the path.
  size_t start = 0;
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const std::string prefix = path.substr(0, slash);
    if (H5Lexists(parent, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
  return true;
}

Handle open_dataset(hid_t parent, const std::string& name, const std::string& file_for_errors) {
  if (!exists(parent, name))
    throw Error("'" + file_for_errors + "': dataset '/" + name + "' is missing");
  return checked(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), H5Dclose,
                 "open dataset '/" + name + "' in '" + file_for_errors + "'");
}

bool has_attribute(hid_t object, const std::string& name) {
  return H5Aexists(object, name.c_str()) > 0;
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type = string_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr = checked(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                        H5Aclose, "create attribute '" + name + "'");
  const char* text = value.c_str();
  NXT_H5_CHECK(H5Awrite(attr, type, &text), "attribute ", name);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<double>& values) {
  write_numeric_attribute(object, name, values, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<int64_t>& values) {
  write_numeric_attribute(object, name, values, H5T_STD_I64LE, H5T_NATIVE_INT64);
}

std::string read_string_attribute(hid_t object, const std::string& name) {
  Handle attr = checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose,
                        "open attribute '" + name + "'");
  Handle file_type(H5Aget_type(attr), H5Tclose);
  if (H5Tget_class(file_type) != H5T_STRING)
    throw Error("attribute '" + name + "' is not a string");
  if (H5Tis_variable_str(file_type) > 0) {
    Handle type = string_type();
    char* text = nullptr;
    NXT_H5_CHECK(H5Aread(attr, type, &text), "attribute ", name);
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(file_type), '\0');
  NXT_H5_CHECK(H5Aread(attr, file_type, value.data()), "attribute ", name);
  return value.substr(0, value.find('\0'));
}

std::vector<double> read_double_attribute(hid_t object, const std::string& name) {
  return read_numeric_attribute<double>(object, name, H5T_NATIVE_DOUBLE);
}

std::vector<int64_t> read_int_attribute(hid_t object, const std::string& name) {
  return read_numeric_attribute<int64_t>(object, name, H5T_NATIVE_INT64);
}

void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  Handle type = string_type();
  const hsize_t count = values.size();
  Handle space = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, "create dataspace");
  Handle dataset =
      checked(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose, "create dataset '" + name + "'");
  std::vector<const char*> pointers;
  for (const auto& v : values) pointers.push_back(v.c_str());
  if (count > 0)
    NXT_H5_CHECK(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), name);
}

std::vector<std::string> read_strings(hid_t dataset) {
  Handle type = string_type();
  const std::vector<hsize_t> shape = shape_of(dataset);
  if (shape.size() != 1) throw Error("HDF5: string dataset is not 1-D");
  std::vector<char*> pointers(shape[0], nullptr);
  if (shape[0] > 0 && H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
    throw Error("HDF5: dataset does not hold variable-length strings");
  std::vector<std::string> values;
  for (char* p : pointers) {
    values.emplace_back(p ? p : "");
    H5free_memory(p);
  }
  return values;
}

void write_int32s(hid_t parent, const std::string& name, const std::vector<int32_t>& values) {
  const hsize_t count = values.size();
  Handle space = checked(H5Screate_simple(1, &count, nullptr), H5Sclose, "create dataspace");
  Handle dataset = checked(
      H5Dcreate2(parent, name.c_str(), H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose, "create dataset '" + name + "'");
  if (count > 0)
    NXT_H5_CHECK(H5Dwrite(dataset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()),
                 name);
}

std::vector<int32_t> read_int32s(hid_t dataset) {
  const std::vector<hsize_t> shape = shape_of(dataset);
  if (shape.size() != 1) throw Error("HDF5: integer dataset is not 1-D");
  std::vector<int32_t> values(shape[0]);
  if (shape[0] > 0 &&
      H5Dread(dataset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw Error("HDF5: dataset does not hold integers");
  return values;
}

std::vector<hsize_t> shape_of(hid_t dataset) {
  Handle space(H5Dget_space(dataset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw Error("HDF5: cannot read a dataset's shape");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return dims;
}

}  // namespace nxt::h5
