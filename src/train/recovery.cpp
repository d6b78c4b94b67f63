// Implements the trainer's side of Note [In-memory snapshots] (checkpoint/snapshots.h): each
// node leader's store, the snapshot steps and their automatic cadence, the choice of the newest
// state among every node's snapshot and rank 0's last.pt at a --resume auto start (broadcast by
// the rank that holds it), and the report of a recovery in log.txt, train_log.jsonl and
// TensorBoard.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "comm/replicas.h"
#include "common/check.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/log.h"
#include "train/trainer_impl.h"

namespace nxt {
namespace trainer_detail {
namespace {

// Auto cadence: the snapshot's cost on the training thread (the host copy, the totals'
// all-reduce) under this share of the steps' time, and never more often than every kMin steps,
// the first after kMin steps (past the first steps' warm-up).
constexpr double kAutoCostShare = 0.01;
constexpr int64_t kMinAutoInterval = 50;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string env_text(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

// Not collective: a node whose folder cannot be used goes without snapshots (with a warning),
// and the others keep theirs; no collective depends on having a store.
void Trainer::open_snapshots(const std::string& resume) {
  if (config_.train.snapshot_every_steps == 0 || !data_->node_leader()) return;
  // One folder per run: the run folder's path, as every rank's config names it.
  std::string name = config_.run.name;
  for (char& c : name)
    if (c == '/') c = '_';
  const std::string folder = SnapshotStore::folder_for(
      config_.train.snapshot_dir, name + "-" + Fnv1a64().add(run_dir_).hex().substr(0, 8),
      data_->host_names()[static_cast<size_t>(place_.rank)]);
  try {
    snapshots_ = std::make_unique<SnapshotStore>(folder);
    if (resume == "auto") return;
    // A fresh start (or one from a named file): what an earlier run of this name left is not
    // this run's state, and must not win a later --resume auto.
    snapshots_->remove_all();
    snapshots_ = std::make_unique<SnapshotStore>(folder);
  } catch (const std::exception& e) {
    snapshots_.reset();
    log::all() << "WARNING: no in-memory snapshots on this node: " << e.what()
               << " (a lost node then costs more steps: train.snapshot_dir)";
  }
}

std::optional<ResumePoint> Trainer::read_newest_state() {
  const int world = place_.world_size;
  const std::string last_path = run_file("last.pt");
  // Slots, summed over ranks: [r] rank r's snapshot step + 1 (0: none); [world] last.pt's
  // step + 1 (rank 0; 0: none); [world + 1] 1 when rank 0 could not read its last.pt.
  std::vector<int64_t> steps(static_cast<size_t>(world) + 2, 0);
  std::optional<std::vector<char>> held;  // this rank's candidate's bytes
  std::string held_path;
  std::string last_error;
  std::optional<Checkpoint> last_checkpoint;  // rank 0: last.pt, parsed once (for its step)
  // On every rank, through the gathering all-reduce below: rank 0 reads a large file on a
  // slow file system meanwhile (Note [Watchdog] in comm/communicator.h).
  const Communicator::Rank0Phase rank0_phase(*comm_);
  if (is_rank0()) {
    try {
      if (std::filesystem::exists(last_path)) {
        held = read_file_bytes(last_path);
        held_path = last_path;
        last_checkpoint = parse_checkpoint(*held, last_path);
        steps[static_cast<size_t>(world)] = last_checkpoint->position.global_step + 1;
      }
    } catch (const std::exception& e) {
      last_error = e.what();
      held.reset();
      last_checkpoint.reset();
      steps[static_cast<size_t>(world) + 1] = 1;
    }
  }
  if (snapshots_) {
    std::vector<std::string> skipped;
    std::optional<StoredSnapshot> newest = snapshots_->newest(&skipped);
    for (const std::string& why : skipped)
      log::all() << "--resume auto: " << why << "; passed over";
    const int64_t last_step = steps[static_cast<size_t>(world)] - 1;
    if (newest && newest->step > last_step) {  // else rank 0's last.pt is as new
      steps[static_cast<size_t>(place_.rank)] = newest->step + 1;
      held = std::move(newest->bytes);
      held_path = data_->host_names()[static_cast<size_t>(place_.rank)] + ":" + newest->path;
    } else if (newest) {
      steps[static_cast<size_t>(place_.rank)] = newest->step + 1;
    }
  }
  steps = comm_->all_reduce_integers(steps, ReduceOp::kSum);
  // The newest: last.pt on a tie (rank 0 holds both), else the lowest rank's snapshot.
  int64_t best = steps[static_cast<size_t>(world)];
  int holder = 0;
  for (int r = 0; r < world; ++r)
    if (steps[static_cast<size_t>(r)] > best) best = steps[static_cast<size_t>(r)], holder = r;
  const bool last_unreadable = steps[static_cast<size_t>(world) + 1] != 0;
  if (best == 0) {
    if (last_unreadable)  // as before snapshots: an unreadable last.pt with nothing else fails
      throw Error("rank 0: " + (is_rank0() ? last_error : std::string("cannot read ") + last_path));
    log::info() << "--resume auto: no " << last_path << " on rank 0 and no in-memory snapshot on "
                << "any node, starting fresh";
    return std::nullopt;
  }
  const int64_t step = best - 1;
  const bool from_last = holder == 0 && steps[static_cast<size_t>(world)] == best;
  if (is_rank0()) {
    auto line = log::info();
    line << "--resume auto: the newest state is step " << step << ", ";
    if (from_last)
      line << last_path;
    else
      line << "the in-memory snapshot on " << data_->host_names()[static_cast<size_t>(holder)]
           << " (rank " << holder << ")";
    for (int r = 0; r < world; ++r) {
      const int64_t other = steps[static_cast<size_t>(r)] - 1;
      if (other >= 0 && other < step)
        line << "; passed over: the older snapshot of step " << other << " on "
             << data_->host_names()[static_cast<size_t>(r)];
    }
    const int64_t last_step = steps[static_cast<size_t>(world)] - 1;
    if (last_step >= 0 && last_step < step)
      line << "; passed over: " << last_path << " of step " << last_step << " (older)";
    if (last_unreadable) line << "; passed over: " << last_path << " (" << last_error << ")";
  }
  // The holder names its file; its bytes go to every rank.
  std::vector<char> path_bytes(held_path.begin(), held_path.end());
  path_bytes = broadcast_bytes(path_bytes, holder, *comm_, device_);
  const std::string path(path_bytes.begin(), path_bytes.end());
  const std::vector<char> bytes =
      broadcast_bytes(place_.rank == holder ? *held : std::vector<char>(), holder, *comm_, device_);
  // Rank 0 parsed last.pt already (for its step): not a second time when it won.
  ResumePoint point{
      from_last && last_checkpoint ? std::move(*last_checkpoint) : parse_checkpoint(bytes, path),
      path};

  // A start after a failure: the nodes' records of the step reached (the folder goes when a
  // run ends, so a record means the job step before this one did not end).
  std::vector<double> reached{0, 0};
  if (snapshots_) {
    const ReachedStep mine = snapshots_->reached();
    reached = {static_cast<double>(mine.step), mine.unix_seconds};
  }
  reached = comm_->all_reduce_scalars(reached, ReduceOp::kMax);
  if (reached[0] > 0) {
    const std::string restart = env_text("NXT_RESTART");
    recovery_ = RecoveryFacts{step,
                              path,
                              static_cast<int64_t>(reached[0]),
                              reached[1],
                              env_text("NXT_LOST_NODES"),
                              restart.empty() ? 0 : std::atoll(restart.c_str())};
  }
  return point;
}

bool Trainer::snapshot_due() const {
  if (!is_rank0() || !snapshots_) return false;
  const int64_t step = position_.global_step + 1;  // the step being agreed on
  const int64_t every =
      config_.train.snapshot_every_steps.value_or(std::max(snapshot_interval_, kMinAutoInterval));
  return step - last_snapshot_step_ >= every;
}

void Trainer::save_snapshot() {
  const auto start = Clock::now();
  const MetricTotals totals = epoch_totals_.summed_over_ranks(*comm_);
  const int64_t step = position_.global_step;
  if (snapshots_ && snapshots_->busy()) {  // checked before the copy, which would be wasted
    if (!std::exchange(snapshot_skip_logged_, true))
      log::all() << "WARNING: step " << step << ": the previous in-memory snapshot is still "
                 << "being written on this node; snapshots due meanwhile are skipped here (Note "
                 << "[In-memory snapshots]; said once: a larger train.snapshot_every_steps "
                 << "avoids it)";
  } else if (snapshots_) {
    snapshots_->save(mid_epoch_checkpoint(totals), step);
  }
  if (!is_rank0()) return;
  // Auto cadence: the steps since the last snapshot, and this one's cost on this thread.
  const auto now = Clock::now();
  const int64_t steps = std::max<int64_t>(1, step - last_snapshot_step_);
  const double cost = std::chrono::duration<double>(now - start).count();
  const double step_seconds = std::chrono::duration<double>(start - last_snapshot_time_).count() /
                              static_cast<double>(steps);
  // Also no sooner than the last write took (its serialisation and write, in the background):
  // a snapshot due while one is written would be skipped.
  const double write_seconds = snapshots_ ? snapshots_->last_write_seconds() : 0;
  if (step_seconds > 0)
    snapshot_interval_ = static_cast<int64_t>(
        std::ceil(std::max(cost / (kAutoCostShare * step_seconds), write_seconds / step_seconds)));
  if (snapshots_taken_++ == 0)  // the first of the job step: its cost, once
    log::info() << "snapshot of step " << step << ": " << std::lround(cost * 1e4) / 10.0
                << " ms on the training thread (host copy, totals) against "
                << std::lround(step_seconds * 1e4) / 10.0 << " ms per step"
                << (config_.train.snapshot_every_steps
                        ? ""
                        : "; auto: the next in " +
                              std::to_string(std::max(snapshot_interval_, kMinAutoInterval)) +
                              " steps");
  last_snapshot_step_ = step;
  last_snapshot_time_ = now;
}

void Trainer::after_step_recorded() {
  const int64_t step = position_.global_step;
  if (snapshots_) snapshots_->mark_reached(step);
  if (!recovery_) return;
  const RecoveryFacts facts = *std::exchange(recovery_, std::nullopt);
  if (!is_rank0()) return;
  const int64_t lost = std::max<int64_t>(0, facts.reached_step - facts.resumed_step);
  const double seconds = unix_now() - facts.failed_unix_seconds;
  log::info() << "recovery: the job had reached step " << facts.reached_step
              << " when it failed; resumed at step " << facts.resumed_step << " from "
              << facts.source << " (" << lost << " step(s) lost); lost node(s): "
              << (!facts.lost_nodes.empty() ? facts.lost_nodes
                  : facts.restart > 0       ? "none (every node answered the launcher's probe)"
                                            : "unknown (not started again by launch/recovery.sh)")
              << (facts.restart > 0 ? "; restart " + std::to_string(facts.restart) : "")
              << "; step " << step << " done " << std::lround(seconds * 10) / 10.0
              << " s after the last step before the failure";
  reports_->on_recovery({step, facts.resumed_step, facts.reached_step, lost, seconds, facts.source,
                         facts.lost_nodes, facts.restart});
}

void Trainer::remove_snapshots() {
  if (snapshots_) snapshots_->remove_all();
  snapshots_.reset();
}

}  // namespace trainer_detail
}  // namespace nxt
