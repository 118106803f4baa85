#include "modules/ansible/diff.h"

#include <doctest/doctest.h>

#include <algorithm>

namespace pvek8s::ansible {
namespace {

TEST_CASE("equal texts give no diff") { CHECK(UnifiedDiff("a\nb\n", "a\nb\n", "x", "y") == ""); }

TEST_CASE("a changed line in the middle, with context, as diff -u prints it") {
  std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  std::string after = "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n";
  CHECK(UnifiedDiff(before, after, "a", "b") ==
        "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n");
}

TEST_CASE("creating and deleting a whole file") {
  CHECK(UnifiedDiff("", "x\ny\n", "a", "b") == "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n");
  CHECK(UnifiedDiff("x\n", "", "a", "b") == "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n");
}

TEST_CASE("appending a line and a missing final newline") {
  CHECK(UnifiedDiff("a\nb\n", "a\nb\nc\n", "a", "b") ==
        "--- a\n+++ b\n@@ -1,2 +1,3 @@\n a\n b\n+c\n");
  CHECK(UnifiedDiff("a", "a\n", "a", "b") ==
        "--- a\n+++ b\n@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+a\n");
}

TEST_CASE("distant changes make separate hunks, close ones merge") {
  std::string before, after;
  for (int i = 1; i <= 20; ++i) {
    before += std::to_string(i) + "\n";
    after += (i == 2 || i == 18 ? "x" : std::to_string(i)) + "\n";
  }
  std::string d = UnifiedDiff(before, after, "a", "b", 1);
  CHECK(d ==
        "--- a\n+++ b\n@@ -1,3 +1,3 @@\n 1\n-2\n+x\n 3\n@@ -17,3 +17,3 @@\n 17\n-18\n+x\n 19\n");
  std::string merged = UnifiedDiff(before, after, "a", "b", 8);
  CHECK(std::count(merged.begin(), merged.end(), '@') == 4);  // One hunk header.
}

}  // namespace
}  // namespace pvek8s::ansible
