// Where `--data` points: the name fashion-mnist (Debian's dataset-fashion-mnist), an IDX
// directory, or an image folder with train/ and test/ (or val/) class sub-folders.
#pragma once

#include <string>

#include "fovea/data/dataset.h"

namespace fovea::cli {

struct DataSplits {
  data::Dataset train, test;
  std::string name;  // as given, recorded in checkpoints
};

// Loads both splits; `limit_train`/`limit_test` > 0 keep only that many examples. Throws
// IoError with a hint for a missing data set.
DataSplits load_data(const std::string& source, int64_t limit_train = 0, int64_t limit_test = 0);
// Only the test split (for `fovea eval`).
data::Dataset load_test_data(const std::string& source, int64_t limit = 0);

}  // namespace fovea::cli
