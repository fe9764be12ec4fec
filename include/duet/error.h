#pragma once
// Every error duet raises derives from duet::Error. Messages start with the op or layer in brackets,
// name the shapes/dtypes involved and say what to do: "[matmul] inner dimensions differ: (2, 3) vs (4, 5)".
#include <stdexcept>
#include <string>

namespace duet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // Throws an error of this same class whose message is `context` followed by this one's (used to add
  // where an error happened, e.g. the graph node, without losing its type).
  [[noreturn]] virtual void rethrow_with_context(const std::string& context) const { throw Error(context + what()); }
};

namespace internal {
template <class Self, class Base = Error>
class ErrorKind : public Base {
 public:
  using Base::Base;
  [[noreturn]] void rethrow_with_context(const std::string& context) const override {
    throw Self(context + this->what());
  }
};
}  // namespace internal

// Incompatible or invalid shapes (broadcasting, reshape sizes, ranks, axes).
class ShapeError : public internal::ErrorKind<ShapeError> {
 public:
  using ErrorKind::ErrorKind;
};

// A dtype an op does not accept, or two dtypes that do not combine.
class DTypeError : public internal::ErrorKind<DTypeError> {
 public:
  using ErrorKind::ErrorKind;
};

// An argument with a bad value (negative depth, unknown name, index out of range, ...).
class ValueError : public internal::ErrorKind<ValueError> {
 public:
  using ErrorKind::ErrorKind;
};

// Reading the value of a symbolic tensor (while tracing or building a functional model).
class SymbolicValueError : public internal::ErrorKind<SymbolicValueError> {
 public:
  using ErrorKind::ErrorKind;
};

// A traced function had to retrace while retracing was forbidden.
class RetraceError : public internal::ErrorKind<RetraceError> {
 public:
  using ErrorKind::ErrorKind;
};

// Files: missing, truncated, wrong format.
class IOError : public internal::ErrorKind<IOError> {
 public:
  using ErrorKind::ErrorKind;
};

// The program used the API in the wrong order (gradient twice on a non-persistent tape, ...).
class StateError : public internal::ErrorKind<StateError> {
 public:
  using ErrorKind::ErrorKind;
};

// Memory could not be allocated (the message names the op and the bytes asked for).
class ResourceExhaustedError : public internal::ErrorKind<ResourceExhaustedError> {
 public:
  using ErrorKind::ErrorKind;
};

// A compiled function gave a different answer than the same code run eagerly (FunctionOptions::check_eager).
class EagerMismatchError : public internal::ErrorKind<EagerMismatchError> {
 public:
  using ErrorKind::ErrorKind;
};

// A value that must be finite was NaN or infinite (check_numerics, config::enable_check_numerics).
class NumericsError : public internal::ErrorKind<NumericsError> {
 public:
  using ErrorKind::ErrorKind;
};

// A collective across processes failed (duet::distributed): the ranks disagree on what they reduce, or MPI
// reported an error.
class DistributedError : public internal::ErrorKind<DistributedError> {
 public:
  using ErrorKind::ErrorKind;
};

}  // namespace duet
