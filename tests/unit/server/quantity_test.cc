#include "ballast/server/quantity.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace ballast::server {
namespace {

struct Case {
  double value;
  const char* want;
};

TEST(FormatQuantity, CanonicalDecimalForms) {
  const Case cases[] = {
      // The protocol file's examples.
      {1.5, "1500m"},
      {2000, "2k"},
      {1500, "1500"},
      {10000, "10k"},
      {0.0005, "500u"},
      {0, "0"},
      {-1.5, "-1500m"},
      // More.
      {1e-9, "1n"},
      {123456789, "123456789"},
      {1.23e9, "1230M"},
      {7, "7"},
      {1, "1"},
      {100, "100"},
      {0.1, "100m"},
      {0.25, "250m"},
      {0.1 + 0.2, "300m"},            // binary noise is rounded away at nano
      {1.0000000004, "1"},            // rounds down to the nano
      {1.0000000006, "1000000001n"},  // rounds up to the nano
      {2.5e-10, "0"},                 // below half a nano
      {6e-10, "1n"},                  // rounds up to one nano
      {-0.0, "0"},
      {1e6, "1M"},
      {1e9, "1G"},
      {1e12, "1T"},
      {1e15, "1P"},
      {1e18, "1E"},
      {1e21, "1000E"},
      {12345.678, "12345678m"},
      {0.000123, "123u"},
      {-2000, "-2k"},
      {42.5e3, "42500"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::string> got = FormatQuantity(c.value);
    ASSERT_TRUE(got.ok()) << c.value << ": " << got.status();
    EXPECT_EQ(*got, c.want) << "value " << c.value;
  }
}

TEST(FormatQuantity, RefusesNonFinite) {
  EXPECT_FALSE(FormatQuantity(std::nan("")).ok());
  EXPECT_FALSE(FormatQuantity(std::numeric_limits<double>::infinity()).ok());
  EXPECT_FALSE(FormatQuantity(-std::numeric_limits<double>::infinity()).ok());
  EXPECT_EQ(FormatQuantity(std::nan("")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ballast::server
