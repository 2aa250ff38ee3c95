#include "report/escape.h"

#include <gtest/gtest.h>

namespace foliolab::report {
namespace {

TEST(Escape, HtmlMakesMarkupInert) {
  EXPECT_EQ(html_escape("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
  EXPECT_EQ(html_escape("a\nb", true), "a\nb");
  EXPECT_EQ(html_escape("a\nb", false), "a\xEF\xBF\xBD" "b");
}

TEST(Escape, InvalidUtf8AndControlsBecomeReplacementCharacters) {
  EXPECT_EQ(clean_text("ok\x1b[31mred"), "ok\xEF\xBF\xBD[31mred");
  EXPECT_EQ(clean_text("\xff\xfe"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(clean_text("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(clean_text("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(clean_text("line\r\n", true), "line\n");
  EXPECT_EQ(clean_text(std::string(100, 'a'), false, 10), std::string(10, 'a') + "\xE2\x80\xA6");
}

TEST(Escape, MarkdownCells) {
  EXPECT_EQ(markdown_escape("a|b <i>*x*</i>"), "a\\|b &lt;i&gt;\\*x\\*&lt;/i&gt;");
}

}  // namespace
}  // namespace foliolab::report
