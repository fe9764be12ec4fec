#pragma once
// Checkpoints: everything a training run needs to continue exactly where it stopped, in one safetensors file.
//
//   Checkpoint ckpt(model);
//   ckpt.save("run/ckpt.safetensors");       // atomic: a kill during the save leaves the previous file intact
//   ...                                      // (another process, the same program)
//   ckpt.restore("run/ckpt.safetensors");    // weights, optimizer, random generator, model.fit_position
//   model.fit(x, y, {.epochs = 10, .initial_epoch = model.fit_position.epoch,
//                    .initial_step = model.fit_position.step});
//
// or let callbacks::BackupAndRestore do both. A run resumed this way with the same program, data, options and
// thread count ends with bitwise the same weights as one that was never interrupted.
#include <cstdint>
#include <string>
#include <vector>

#include "duet/callbacks.h"
#include "duet/model.h"

namespace duet {

class Checkpoint {
 public:
  // The model's weights, its compiled optimizer's state (iteration count, slots, hyperparameters), the global
  // random generator (dropout, random ops) and model.fit_position. The model must be built.
  explicit Checkpoint(Model& model);
  void save(const std::string& path) const;
  // Checks the whole file against the model (and optimizer) first: on any mismatch it throws and changes
  // nothing. Compile the model with the same optimizer before restoring a checkpoint that has one.
  void restore(const std::string& path);

 private:
  Model* model_;
};

namespace callbacks {

struct ModelCheckpointOptions {
  // Saved every `save_freq` batches (counted over the whole run); 0: at the end of every epoch.
  std::int64_t save_freq = 0;
  // With save_best_only, only when `monitor` improved ("auto": max when it contains "acc", else min).
  std::string monitor = "val_loss";
  std::string mode = "auto";
  bool save_best_only = false;
  // Only the weights (Model::save_weights) instead of a whole Checkpoint.
  bool save_weights_only = false;
  // Files kept (the oldest deleted first); 0 keeps all.
  int max_to_keep = 0;
};
// Saves checkpoints while fit runs. `path` may contain {epoch} (1-based) and {step} (batches so far), e.g.
// "run/ckpt-{epoch}-{step}.safetensors"; without them each save replaces the last.
CallbackPtr ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});

struct BackupAndRestoreOptions {
  // Backed up every `save_freq` batches; 0: at the end of every epoch.
  std::int64_t save_freq = 0;
  // Delete the backup when fit completes (as Keras).
  bool delete_checkpoint = true;
};
// Fault tolerance (Keras's BackupAndRestore): backs the run up into `dir` while fit runs, and when fit starts
// and `dir` holds a backup, restores it and continues from its epoch and batch.
CallbackPtr BackupAndRestore(std::string dir, BackupAndRestoreOptions options = {});

}  // namespace callbacks
}  // namespace duet
