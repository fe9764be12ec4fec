#pragma once
// GradientTape records the op calls made while it is alive (on this thread) and computes gradients by
// walking them backwards, calling each op's gradient. Gradients are built from public ops, so a tape
// around a tape gives second-order gradients, and a tape inside a traced function gives a gradient graph.
#include <initializer_list>
#include <memory>
#include <vector>

#include "duet/tensor.h"
#include "duet/variable.h"

namespace duet {

// What gradient() returns for a source the target does not depend on.
enum class UnconnectedGradients {
  None,  // an undefined Tensor (check with .defined()); TensorFlow's default
  Zero,  // zeros shaped like the source
};

struct TapeOptions {
  // A persistent tape allows several gradient() calls; otherwise the second call throws StateError.
  bool persistent = false;
  // Record reads of trainable variables without an explicit watch().
  bool watch_accessed_variables = true;
};

struct GradientOptions {
  UnconnectedGradients unconnected = UnconnectedGradients::None;
  // Initial gradient of the target (default: ones shaped like the target).
  Tensor output_gradient;
};

// A gradient source: a tensor (which must be watched) or a variable.
struct Source {
  // NOLINTNEXTLINE(google-explicit-constructor): implicit by design
  Source(const Tensor& t) : tensor(t) {}
  // NOLINTNEXTLINE(google-explicit-constructor): same
  Source(const Variable& v) : variable(v) {}
  Tensor tensor;
  Variable variable;
};

class GradientTape {
 public:
  explicit GradientTape(TapeOptions options = {});
  ~GradientTape();
  GradientTape(const GradientTape&) = delete;
  GradientTape& operator=(const GradientTape&) = delete;

  // Records ops that depend on t (tensors are not watched automatically).
  void watch(const Tensor& t);
  void watch(const Variable& v);

  // d target / d source for each source. target is usually a scalar loss; a non-scalar target is
  // summed (its gradient is ones unless options.output_gradient is given).
  std::vector<Tensor> gradient(const Tensor& target, const std::vector<Source>& sources,
                               const GradientOptions& options = {});
  // A braced list, even of one source ({w}), gives a vector (without this overload {w} would be ambiguous).
  std::vector<Tensor> gradient(const Tensor& target, std::initializer_list<Source> sources,
                               const GradientOptions& options = {}) {
    return gradient(target, std::vector<Source>(sources), options);
  }
  Tensor gradient(const Tensor& target, const Source& source, const GradientOptions& options = {});

  // Variables read while recording (in first-read order).
  std::vector<Variable> watched_variables() const;

  // Stops recording for good: the tape leaves this thread's recording (the destructor does the same), keeps
  // what it recorded, and gradient() still works. For owners that may destroy the tape on another thread
  // than the one it records on (a Python `with GradientTape()` block ends on its thread; the object may be
  // collected elsewhere). Call it on the recording thread.
  void close();

  // While the returned guard lives, this tape records nothing.
  class Pause {
   public:
    explicit Pause(GradientTape& t);
    ~Pause();
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    GradientTape& tape_;
    bool was_paused_;
  };
  Pause stop_recording() { return Pause(*this); }

 private:
  struct Impl;
  friend struct TapeInternals;
  std::unique_ptr<Impl> impl_;
};

}  // namespace duet
