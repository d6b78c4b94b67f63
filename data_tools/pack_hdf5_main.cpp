// pack_hdf5: converts an ImageFolder into one preprocessed HDF5 dataset, or inspects one.
// Run from the repository root as data_tools/pack_hdf5 (a wrapper around build/bin/nxt_pack_hdf5).
#include <CLI/CLI.hpp>

#include <csignal>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/check.h"
#include "common/log.h"
#include "common/process_tuning.h"
#include "inspect.h"
#include "packer.h"

namespace {

std::atomic<bool> g_cancel{false};

void on_signal(int) {
  if (g_cancel.exchange(true)) std::_Exit(130);  // a second Ctrl-C: leave now
}

// "224" or "HxW".
void parse_size(const std::string& text, int* height, int* width) {
  const size_t x = text.find('x');
  try {
    *height = std::stoi(text.substr(0, x));
    *width = x == std::string::npos ? *height : std::stoi(text.substr(x + 1));
  } catch (const std::exception&) {
    throw nxt::Error("--size: expected N or HxW, got '" + text + "'");
  }
  if (*height < 1 || *width < 1) throw nxt::Error("--size must be positive, got '" + text + "'");
}

// Each block is built whole and written at once (Note [Output arrives whole] in common/log.h).
void print_report(const nxt::PackReport& report, const std::string& output) {
  std::string skipped_lines;
  for (const auto& skipped : report.skipped)
    skipped_lines += "pack_hdf5: skipped '" + skipped.relative + "': " + skipped.reason + "\n";
  nxt::log::print_err(skipped_lines);
  std::ostringstream out;
  out << "pack_hdf5: wrote " << output << ": " << report.classes.size() << " classes, "
      << report.train_images << " train + " << report.val_images << " val";
  if (report.has_test) out << " + " << report.test_images << " test";
  const size_t images = report.train_images + report.val_images + report.test_images;
  out << " images, " << report.skipped.size() << " skipped, in " << report.seconds << " s ("
      << images / std::max(report.seconds, 1e-9) << " img/s)\n";
  out << "pack_hdf5: train mean " << report.mean[0] << " " << report.mean[1] << " "
      << report.mean[2] << ", std " << report.stddev[0] << " " << report.stddev[1] << " "
      << report.stddev[2] << "\n";
  if (report.stored_bytes > 0)
    out << "pack_hdf5: stored " << report.stored_bytes / 1e6 << " MB of images, "
        << report.stored_bytes / 1e3 / std::max<size_t>(images, 1) << " KB per image, "
        << report.jpeg_images << " as JPEG\n";
  nxt::log::print_out(out.str());
}

// The flags that exclude each other on the command line (pack_image_folder checks the rest:
// ranges, --compress and --store against the version). `given` tells whether a flag was typed.
void check_flag_combinations(const std::function<bool(const char*)>& given) {
  if (!given("--max-side")) {
    for (const char* flag : {"--store", "--jpeg-quality", "--jpeg-share"})
      if (given(flag))
        throw nxt::Error(std::string(flag) +
                         " needs --max-side (format version 2); --size writes raw squares");
    return;
  }
  if (given("--size"))
    throw nxt::Error(
        "--size and --max-side exclude each other: --size N writes fixed N x N squares (format "
        "version 1), --max-side N keeps each image's aspect ratio, longer side <= N (version 2)");
  if (given("--resize"))
    throw nxt::Error(
        "--resize does not go with --max-side: version 2 keeps each image's aspect ratio (the "
        "longer side fitted to --max-side), so there is nothing to stretch, crop or pad");
}

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    nxt::PackOptions options;
    options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::string size = "224", resize = "stretch", store = "raw", inspect_path;
    bool quiet = false;
    CLI::App app{"pack_hdf5: pack an ImageFolder (root/<class>/<image>) into one HDF5 dataset"};
    app.add_option("--input", options.input, "image folder, one sub-folder per class");
    app.add_option("--output", options.output, "HDF5 file to write (atomically)");
    app.add_option("--size", size, "N or HxW (default 224)");
    app.add_option("--resize", resize,
                   "stretch (default), crop (shorter side + centre crop) or pad")
        ->check(CLI::IsMember(nxt::names_of(nxt::resize_mode_names())));
    app.add_option("--max-side", options.max_side,
                   "format version 2: keep each image's aspect ratio, longer side <= N (never "
                   "enlarged); not with --size or --resize")
        ->check(CLI::PositiveNumber);
    app.add_option("--store", store,
                   "with --max-side: raw (default) pixels, jpeg (re-encoded), or mixed (a "
                   "--jpeg-share of the images as JPEG, picked by a seeded hash of the path)")
        ->check(CLI::IsMember(nxt::names_of(nxt::store_mode_names())));
    app.add_option("--jpeg-quality", options.jpeg_quality,
                   "JPEG quality of --store jpeg and mixed, 1 to 100 (default 90)");
    app.add_option("--jpeg-share", options.jpeg_share,
                   "--store mixed: the share of images stored as JPEG, 0 to 1 (default 0.5)");
    app.add_option("--val-fraction", options.val_fraction,
                   "validation share per class (default 0.2)");
    app.add_option("--val-dir", options.val_dir, "separate validation folder (same classes)");
    app.add_option("--test-fraction", options.test_fraction,
                   "held-out test share per class, drawn after val (default 0: no test split)");
    app.add_option("--test-dir", options.test_dir,
                   "separate held-out test folder (same classes); not with --test-fraction");
    app.add_option("--seed", options.seed, "seed of the val and test split (default 0)");
    app.add_option("--threads", options.threads, "decode threads (default: all cores)")
        ->check(CLI::PositiveNumber);
    app.add_flag("--compress", options.compress,
                 "gzip the images (smaller, slower reads); not with --max-side");
    app.add_flag("--strict", options.strict, "fail if any file is skipped");
    app.add_flag("--quiet", quiet, "no progress output");
    app.add_option("--inspect", inspect_path, "print a packed file's summary and check it");
    CLI11_PARSE(app, argc, argv);

    if (!inspect_path.empty()) return nxt::inspect_dataset(inspect_path, std::cout) == 0 ? 0 : 1;
    if (options.input.empty() || options.output.empty())
      throw nxt::Error("--input and --output are required (or --inspect FILE)");
    check_flag_combinations([&](const char* flag) { return app.count(flag) > 0; });
    parse_size(size, &options.height, &options.width);
    options.resize = nxt::parse_resize_mode(resize);
    options.store = nxt::enum_from_name(store, nxt::store_mode_names(), "--store");
    options.progress = !quiet;
    options.cancel = &g_cancel;
    nxt::single_threaded_opencv();
    nxt::keep_large_buffers_for_reuse();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    const nxt::PackReport report = nxt::pack_image_folder(options);
    print_report(report, options.output);
    return 0;
  });
}
