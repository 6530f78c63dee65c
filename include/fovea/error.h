// Errors thrown at the door of every public operation. Messages name the operation, the
// argument, what was expected and what was given:
//   conv2d: weight expects 4 input channels per group, input has 3
#pragma once

#include <stdexcept>
#include <string>

namespace fovea {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A tensor has the wrong rank or sizes for the operation.
class ShapeError : public Error {
 public:
  using Error::Error;
};

// An argument has a value outside its domain (zero stride, negative padding, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};

// A file could not be read or written, or its contents are not what the format says.
class IoError : public Error {
 public:
  using Error::Error;
};

// A well-formed request that Fovea does not implement (yet).
class UnsupportedError : public Error {
 public:
  using Error::Error;
};

}  // namespace fovea
