// Writes a synthetic packed dataset (nxt-images version 1, docs/hdf5-format.md) with the HDF5 C
// API alone, for the GPU device check (tests/gpu/check.sh), which compiles it with one compiler
// call against the HDF5 it builds nxt with. Neither h5py nor image decoders are needed: the
// device machine is not known to have h5py, and its nxt is built without OpenCV's image codecs,
// so pack_hdf5 could not read image files there.
//
// Images: smooth stripes whose angle depends on the class, plus uniform noise (a model can learn
// a little), one image per chunk, the layout pack_hdf5 --size writes. Deterministic (seed 0).
//
//   make_packed OUT.h5 --train N --val M --size S [--classes C]
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "make_packed: %s\n", what.c_str());
  std::exit(1);
}

hid_t check(hid_t id, const char* what) {
  if (id < 0) die(std::string("HDF5 failed: ") + what);
  return id;
}

// Variable-length UTF-8 strings, as h5py and pack_hdf5 write them.
hid_t string_type() {
  const hid_t type = check(H5Tcopy(H5T_C_S1), "H5Tcopy");
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

void string_attribute(hid_t object, const char* name, const std::string& value) {
  const hid_t type = string_type();
  const hid_t space = check(H5Screate(H5S_SCALAR), "H5Screate");
  const hid_t attr = check(H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT), name);
  const char* text = value.c_str();
  check(H5Awrite(attr, type, &text), name);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
}

template <typename T>
void numeric_attribute(hid_t object, const char* name, const std::vector<T>& values,
                       hid_t file_type, hid_t memory_type) {
  const hsize_t count = values.size();
  const hid_t space = check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
  const hid_t attr =
      check(H5Acreate2(object, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT), name);
  check(H5Awrite(attr, memory_type, values.data()), name);
  H5Aclose(attr);
  H5Sclose(space);
}
void attribute(hid_t object, const char* name, const std::vector<int64_t>& values) {
  numeric_attribute(object, name, values, H5T_STD_I64LE, H5T_NATIVE_INT64);
}
void attribute(hid_t object, const char* name, const std::vector<double>& values) {
  numeric_attribute(object, name, values, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE);
}

void strings(hid_t parent, const char* name, const std::vector<std::string>& values) {
  const hid_t type = string_type();
  const hsize_t count = values.size();
  const hid_t space = check(H5Screate_simple(1, &count, nullptr), "H5Screate_simple");
  const hid_t set =
      check(H5Dcreate2(parent, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), name);
  std::vector<const char*> texts;
  for (const std::string& v : values) texts.push_back(v.c_str());
  if (!texts.empty()) check(H5Dwrite(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()), name);
  H5Dclose(set);
  H5Sclose(space);
  H5Tclose(type);
}

struct Options {
  std::string output;
  int64_t train = -1, val = -1, size = 224, classes = 4;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&]() -> int64_t {
      if (i + 1 >= argc) die("missing value after " + arg);
      return std::atoll(argv[++i]);
    };
    if (arg == "--train")
      o.train = number();
    else if (arg == "--val")
      o.val = number();
    else if (arg == "--size")
      o.size = number();
    else if (arg == "--classes")
      o.classes = number();
    else if (o.output.empty() && arg.rfind("--", 0) != 0)
      o.output = arg;
    else
      die("unknown argument " + arg);
  }
  if (o.output.empty() || o.train < 1 || o.val < 0 || o.size < 8 || o.classes < 2)
    die("usage: make_packed OUT.h5 --train N --val M --size S [--classes C]");
  return o;
}

// Image i of a split: class i % classes, stripes at the class's angle, noise in [-40, 40).
void draw(int64_t label, const Options& o, std::mt19937& rng, std::vector<uint8_t>& pixels) {
  const double pi = 3.14159265358979323846;
  const double phase = 2 * pi * static_cast<double>(label) / static_cast<double>(o.classes);
  std::uniform_int_distribution<int> noise(-40, 39);
  size_t k = 0;
  for (int64_t y = 0; y < o.size; ++y)
    for (int64_t x = 0; x < o.size; ++x) {
      const double u = static_cast<double>(x) / o.size, v = static_cast<double>(y) / o.size;
      const double base =
          127 + 100 * std::sin(6 * (u * std::cos(phase) + v * std::sin(phase)) + phase);
      for (int c = 0; c < 3; ++c)
        pixels[k++] =
            static_cast<uint8_t>(std::lround(std::fmin(255, std::fmax(0, base + noise(rng)))));
    }
}

// Writes /<name>/images, labels and paths; adds the per-channel sums of pixels / 255 (and of
// their squares) for the train split's statistics.
void write_split(hid_t file, const char* name, int64_t count, const Options& o, std::mt19937& rng,
                 double sums[3], double squares[3]) {
  const hid_t group = check(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), name);
  const hsize_t shape[4] = {static_cast<hsize_t>(count), static_cast<hsize_t>(o.size),
                            static_cast<hsize_t>(o.size), 3};
  const hsize_t chunk[4] = {1, shape[1], shape[2], 3};
  const hid_t space = check(H5Screate_simple(4, shape, nullptr), "H5Screate_simple");
  const hid_t layout = check(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate");
  H5Pset_chunk(layout, 4, chunk);
  const hid_t images = check(
      H5Dcreate2(group, "images", H5T_STD_U8LE, space, H5P_DEFAULT, layout, H5P_DEFAULT), "images");
  const hid_t one = check(H5Screate_simple(4, chunk, nullptr), "H5Screate_simple");
  std::vector<uint8_t> pixels(o.size * o.size * 3);
  std::vector<int32_t> labels(count);
  std::vector<std::string> paths(count);
  for (int64_t i = 0; i < count; ++i) {
    labels[i] = static_cast<int32_t>(i % o.classes);
    draw(labels[i], o, rng, pixels);
    for (size_t k = 0; k < pixels.size(); ++k) {
      const double p = pixels[k] / 255.0;
      sums[k % 3] += p;
      squares[k % 3] += p * p;
    }
    const hsize_t start[4] = {static_cast<hsize_t>(i), 0, 0, 0};
    H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, chunk, nullptr);
    check(H5Dwrite(images, H5T_NATIVE_UINT8, one, space, H5P_DEFAULT, pixels.data()), "image");
    char path[64];
    std::snprintf(path, sizeof path, "synthetic/%s/%06lld.png", name, static_cast<long long>(i));
    paths[i] = path;
  }
  const hsize_t n = count;
  const hid_t label_space = check(H5Screate_simple(1, &n, nullptr), "H5Screate_simple");
  const hid_t label_set = check(H5Dcreate2(group, "labels", H5T_STD_I32LE, label_space, H5P_DEFAULT,
                                           H5P_DEFAULT, H5P_DEFAULT),
                                "labels");
  if (count > 0)
    check(H5Dwrite(label_set, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels.data()),
          "labels");
  strings(group, "paths", paths);
  H5Dclose(label_set);
  H5Sclose(label_space);
  H5Sclose(one);
  H5Dclose(images);
  H5Pclose(layout);
  H5Sclose(space);
  H5Gclose(group);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  // Written under a temporary name and renamed: a run cut short leaves no half file behind.
  const std::string tmp = o.output + ".tmp";
  const hid_t file =
      check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), tmp.c_str());
  std::mt19937 rng(0);
  double sums[3] = {}, squares[3] = {}, ignored[6] = {};
  write_split(file, "train", o.train, o, rng, sums, squares);
  write_split(file, "val", o.val, o, rng, ignored, ignored + 3);
  const double pixels = static_cast<double>(o.train) * o.size * o.size;
  std::vector<double> mean(3), std_dev(3);
  for (int c = 0; c < 3; ++c) {
    mean[c] = sums[c] / pixels;
    std_dev[c] = std::sqrt(std::fmax(0, squares[c] / pixels - mean[c] * mean[c]));
  }
  string_attribute(file, "format", "nxt-images");
  attribute(file, "format_version", std::vector<int64_t>{1});
  attribute(file, "image_size", std::vector<int64_t>{o.size, o.size});
  attribute(file, "channels", std::vector<int64_t>{3});
  string_attribute(file, "layout", "NHWC");
  attribute(file, "mean", mean);
  attribute(file, "std", std_dev);
  attribute(file, "seed", std::vector<int64_t>{0});
  attribute(file, "val_fraction", std::vector<double>{-1.0});
  string_attribute(file, "source", "synthetic");
  string_attribute(file, "val_source", "synthetic");
  string_attribute(file, "resize_mode", "stretch");
  char fingerprint[17];
  std::snprintf(fingerprint, sizeof fingerprint, "%08llx%08llx", static_cast<long long>(o.train),
                static_cast<long long>(o.size));
  string_attribute(file, "fingerprint", fingerprint);
  std::vector<std::string> classes;
  for (int64_t c = 0; c < o.classes; ++c) classes.push_back("pattern" + std::to_string(c));
  strings(file, "classes", classes);
  const hid_t skipped =
      check(H5Gcreate2(file, "skipped", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "skipped");
  strings(skipped, "paths", {});
  strings(skipped, "reasons", {});
  H5Gclose(skipped);
  if (H5Fclose(file) < 0) die("cannot close " + tmp);
  if (std::rename(tmp.c_str(), o.output.c_str()) != 0)
    die("cannot rename " + tmp + " to " + o.output);
  std::printf("make_packed: %s: %lld train + %lld val images, %lldpx, %lld classes\n",
              o.output.c_str(), static_cast<long long>(o.train), static_cast<long long>(o.val),
              static_cast<long long>(o.size), static_cast<long long>(o.classes));
  return 0;
}
