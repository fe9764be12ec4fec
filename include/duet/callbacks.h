#pragma once
// Callbacks for fit: hooks at the start and end of training, epochs and batches.
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace duet {

class Model;
using Logs = std::map<std::string, double>;

namespace callbacks {
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin(Model&) {}
  virtual void on_train_end(Model&) {}
  virtual void on_epoch_begin(Model&, int) {}
  virtual void on_epoch_end(Model&, int, const Logs&) {}
  virtual void on_batch_begin(Model&, int) {}
  virtual void on_batch_end(Model&, int, const Logs&) {}
};
using CallbackPtr = std::shared_ptr<Callback>;

// "auto": "max" when the monitored name contains "acc", else "min".
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";
  bool restore_best_weights = false;
};
// Stops when `monitor` has not improved by min_delta for `patience` epochs; can restore the best weights.
CallbackPtr EarlyStopping(EarlyStoppingOptions options = {});

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;  // new rate = rate * factor
  int patience = 10;    // epochs without improvement before reducing
  double min_delta = 1e-4;
  int cooldown = 0;  // epochs to wait after a reduction before counting again
  double min_lr = 0.0;
  std::string mode = "auto";
};
// Multiplies the optimizer's learning rate by `factor` when `monitor` stops improving (Keras's callback). The
// compiled train step reads the new rate at once (it is a hyperparameter, not a traced constant).
CallbackPtr ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});

// Stops training at the end of the first batch whose loss is NaN or infinite, with a warning naming the
// epoch and batch (fit adds it unless FitOptions::terminate_on_nan is false).
CallbackPtr TerminateOnNaN();

struct LambdaCallbackFns {
  std::function<void(Model&, int)> on_epoch_begin;
  std::function<void(Model&, int, const Logs&)> on_epoch_end;
  std::function<void(Model&, int, const Logs&)> on_batch_end;
};
CallbackPtr LambdaCallback(LambdaCallbackFns fns);
}  // namespace callbacks

}  // namespace duet
