// expect_error<E>(fn, parts): the checker the *_errors_test.cpp files share. Runs fn, expects
// it to throw E, and expects the message to contain every part (the op, the argument, the
// value given...).
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fovea::testing {

template <class E, class Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string_view> parts) {
  try {
    fn();
  } catch (const E& e) {
    const std::string message = e.what();
    for (std::string_view part : parts)
      EXPECT_NE(message.find(part), std::string::npos)
          << "message \"" << message << "\" lacks \"" << part << "\"";
    return;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw the wrong type: " << e.what();
    return;
  }
  ADD_FAILURE() << "did not throw";
}

}  // namespace fovea::testing
