// The embedded templates' revisions (templates/embedded.hpp): one per top-level folder, so that
// editing one target's templates leaves the cache records of the others valid.
#include "templates/embedded.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

namespace {

TEST(TemplateRevision, OnePerFolderOfSixteenHexDigits) {
  const auto& all = qk::templates::revisions();
  ASSERT_FALSE(all.empty());
  for (const auto& r : all) {
    EXPECT_EQ(r.revision.size(), 16u) << r.folder;
    EXPECT_EQ(r.revision.find_first_not_of("0123456789abcdef"), std::string_view::npos);
    EXPECT_EQ(qk::templates::revision(r.folder), r.revision);
    // Every folder is the first component of some embedded file's path.
    EXPECT_TRUE(
        std::any_of(qk::templates::files().begin(), qk::templates::files().end(),
                    [&](const auto& f) { return f.path.substr(0, f.path.find('/')) == r.folder; }))
        << r.folder;
  }
  EXPECT_FALSE(qk::templates::revision("cpu").empty());
  EXPECT_TRUE(qk::templates::revision("no-such-folder").empty());
}

}  // namespace
