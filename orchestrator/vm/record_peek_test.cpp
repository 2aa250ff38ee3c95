#include "vm/record_peek.h"

#include <gtest/gtest.h>

namespace foliolab::vm {
namespace {

TEST(RecordPeek, ReadsTopLevelTypeStepAndDeadline) {
  auto p = peek_record(R"({"type":"step-begin","t":1.5,"step":"collapse","workload":"w","argv":["/w"],"deadline_s":120})");
  EXPECT_EQ(p.type, "step-begin");
  EXPECT_EQ(p.step, "collapse");
  ASSERT_TRUE(p.deadline_s);
  EXPECT_DOUBLE_EQ(*p.deadline_s, 120);
}

TEST(RecordPeek, IgnoresNestedMembersOfTheSameName) {
  auto p = peek_record(R"({"values":{"type":"evil","deadline_s":1,"step":"x"},"type":"sample","step":"s"})");
  EXPECT_EQ(p.type, "sample");
  EXPECT_EQ(p.step, "s");
  EXPECT_FALSE(p.deadline_s);
}

TEST(RecordPeek, NonRecordsHaveNoType) {
  EXPECT_EQ(peek_record("").type, "");
  EXPECT_EQ(peek_record("hello").type, "");
  EXPECT_EQ(peek_record(R"(["type","hello"])").type, "");
  EXPECT_EQ(peek_record(R"({"type":"hello")").type, "");  // truncated
  EXPECT_EQ(peek_record(R"({"type":"hello"} trailing)").type, "");
  EXPECT_EQ(peek_record(R"({"type":7})").type, "");
  EXPECT_EQ(peek_record(std::string("{\"type\":\"he\xff\xfe\"}")).type, "");  // not UTF-8
}

TEST(RecordPeek, DeepNestingCostsNothing) {
  std::string deep(256 * 1024, '[');
  EXPECT_EQ(peek_record(deep).type, "");
  std::string nested = "{\"type\":\"done\",\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(peek_record(nested).type, "done");
}

}  // namespace
}  // namespace foliolab::vm
