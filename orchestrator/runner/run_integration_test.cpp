#include <gtest/gtest.h>
TEST(RunIntegration, Placeholder) {}
