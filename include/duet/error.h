#pragma once
// Every error duet raises derives from duet::Error. Messages start with the op or layer in brackets,
// name the shapes/dtypes involved and say what to do: "[matmul] inner dimensions differ: (2, 3) vs (4, 5)".
#include <stdexcept>
#include <string>

namespace duet {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Incompatible or invalid shapes (broadcasting, reshape sizes, ranks, axes).
class ShapeError : public Error {
 public:
  using Error::Error;
};

// A dtype an op does not accept, or two dtypes that do not combine.
class DTypeError : public Error {
 public:
  using Error::Error;
};

// An argument with a bad value (negative depth, unknown name, index out of range, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};

// Reading the value of a symbolic tensor (while tracing or building a functional model).
class SymbolicValueError : public Error {
 public:
  using Error::Error;
};

// A traced function had to retrace while retracing was forbidden.
class RetraceError : public Error {
 public:
  using Error::Error;
};

// Files: missing, truncated, wrong format.
class IOError : public Error {
 public:
  using Error::Error;
};

// The program used the API in the wrong order (gradient twice on a non-persistent tape, ...).
class StateError : public Error {
 public:
  using Error::Error;
};

}  // namespace duet
