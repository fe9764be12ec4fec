#pragma once
// Loaders build layers whose every weight they assign from a file right after: while a SkipInitializers
// lives on this thread, add_weight fills new weights with zeros instead of running their initializers (no
// work wasted on values that are overwritten, and no random numbers drawn from the user's generator).

namespace duet::internal {

class SkipInitializers {
 public:
  SkipInitializers();
  ~SkipInitializers();
  SkipInitializers(const SkipInitializers&) = delete;
  SkipInitializers& operator=(const SkipInitializers&) = delete;

 private:
  bool saved_;
};
bool initializers_skipped();

}  // namespace duet::internal
