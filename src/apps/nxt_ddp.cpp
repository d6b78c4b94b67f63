// nxt_ddp: the data-parallel trainer's entry point. Parses the command line and config, and
// either prints the model summary (no dataset, no MPI) or starts the distributed job: training,
// an evaluation of a checkpoint, or the cluster preflight (--preflight).
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>

#include "common/check.h"
#include "common/config.h"
#include "common/config_schema.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mpi_env.h"
#include "model/resnext.h"
#include "model/summary.h"
#include "preflight/preflight.h"
#include "train/trainer.h"

namespace {

struct CommandLine {
  std::string config_path;
  std::vector<std::string> overrides;
  std::string resume;
  std::string evaluate;
  std::string write_config_path;
  bool summary = false;
  bool print_config = false;
  bool list_keys = false;
  bool keys_markdown = false;
  bool preflight = false;
  double preflight_seconds = nxt::kDefaultPreflightSeconds;
};

// Without a dataset, `auto` classes fall back to ImageNet's 1000 for the summary.
int64_t summary_classes(const nxt::Config& config) {
  return config.model.num_classes.value_or(1000);
}

int print_summary(const nxt::Config& config) {
  nxt::ResNeXt model(nxt::resnext_spec_from_config(config.model, summary_classes(config)));
  const nxt::ModelSummary summary = nxt::summarize(model, config.data.image_size);
  const std::string title = std::string(nxt::name_of(config.model.arch, nxt::kArchNames)) + " (" +
                            std::to_string(summary_classes(config)) + " classes)";
  nxt::log::print_out(nxt::format_summary(summary, title));
  return 0;
}

int list_keys() {
  std::string text;
  for (const auto& [key, help] : nxt::config_key_help()) text += key + "\t" + help + "\n";
  nxt::log::print_out(text);
  return 0;
}

// NXT_EXIT_STATUS_FILE: rank 0 leaves its exit status there, so a batch script decides on a
// requeue (75) from what rank 0 did, not from how the launcher reports many ranks' exits.
// Not written when rank 0 is killed (by a peer's MPI_Abort, for one): no file means failure.
void write_exit_status(const nxt::MpiSession& mpi, int code) {
  const char* path = std::getenv("NXT_EXIT_STATUS_FILE");
  if (mpi.rank() != 0 || !path || !*path) return;
  try {
    nxt::write_file_atomic(path, std::to_string(code) + "\n");
  } catch (const std::exception& e) {
    nxt::log::warn() << "NXT_EXIT_STATUS_FILE: " << e.what();
  }
}

int run_job(int argc, char** argv, const CommandLine& cli) {
  nxt::MpiSession mpi(&argc, &argv);
  try {
    const nxt::Config config = nxt::load_config(cli.config_path, cli.overrides);
    nxt::log::info() << "resolved config:\n" << nxt::to_yaml(config);
    const int code = cli.preflight ? nxt::run_preflight(config, {cli.preflight_seconds}, mpi)
                     : cli.evaluate.empty() ? nxt::run_training(config, cli.resume, mpi)
                                            : nxt::evaluate_checkpoint(config, cli.evaluate, mpi);
    write_exit_status(mpi, code);
    return code;
  } catch (...) {
    write_exit_status(mpi, 1);
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return nxt::run_guarded([&] {
    CommandLine cli;
    CLI::App app{"nxt_ddp: data-parallel ResNeXt training (run under mpirun, one rank per GPU)"};
    app.add_option("--config", cli.config_path, "YAML config file")->check(CLI::ExistingFile);
    app.add_option("--set", cli.overrides, "override a config key: section.key=value (repeatable)");
    app.add_option("--resume", cli.resume, "auto | PATH: continue from a checkpoint");
    app.add_option("--evaluate", cli.evaluate,
                   "evaluate a checkpoint (best.pt, last.pt) on the val split and exit");
    app.add_flag("--summary", cli.summary, "print the model summary and exit (no dataset, no MPI)");
    app.add_flag("--print-config", cli.print_config, "print the resolved config and exit");
    app.add_option("--write-config", cli.write_config_path,
                   "write the resolved config to FILE and exit");
    app.add_flag("--keys", cli.list_keys, "list every config key with its meaning and exit");
    app.add_flag("--keys-markdown", cli.keys_markdown,
                 "print the config reference, docs/config.md, and exit");
    CLI::Option* preflight =
        app.add_flag("--preflight", cli.preflight,
                     "check every node's compute, reads, intra-node all-reduce and links (under "
                     "mpirun, as training), print one row per node and exit: 0 all within 80% of "
                     "the median, 3 not");
    app.add_option("--preflight-seconds", cli.preflight_seconds,
                   "seconds per preflight measurement (5 of them)")
        ->check(CLI::Range(0.01, nxt::kMaxPreflightSeconds))
        ->needs(preflight);
    preflight->excludes("--resume", "--evaluate");
    CLI11_PARSE(app, argc, argv);

    if (cli.list_keys) return list_keys();
    if (cli.keys_markdown) {
      std::cout << nxt::config_reference_markdown();
      return 0;
    }
    if (cli.summary || cli.print_config || !cli.write_config_path.empty()) {
      const nxt::Config config = nxt::load_config(cli.config_path, cli.overrides);
      if (cli.print_config) nxt::log::print_out(nxt::to_yaml(config));
      if (!cli.write_config_path.empty())
        nxt::write_file_atomic(cli.write_config_path, nxt::to_yaml(config));
      return cli.summary ? print_summary(config) : 0;
    }
    return run_job(argc, argv, cli);
  });
}
