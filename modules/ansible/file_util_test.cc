#include "modules/ansible/file_util.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "modules/ansible/testing.h"

namespace pvek8s::ansible {
namespace {

using testing::Exists;
using testing::ReadText;
using testing::TempDir;
using testing::WriteText;

mode_t ModeOf(const std::string& p) {
  struct stat st {};
  ::lstat(p.c_str(), &st);
  return st.st_mode & 07777;
}

size_t EntryCount(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST_CASE("read: missing is not an error, a directory is") {
  TempDir d;
  auto missing = ReadFileIfExists(d / "nope");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  WriteText(d / "f", "hello\n");
  CHECK(ReadFileIfExists(d / "f")->value() == "hello\n");
  CHECK_FALSE(ReadFileIfExists(d.path()).ok());
}

TEST_CASE("atomic write creates with the given mode and replaces keeping the mode") {
  TempDir d;
  REQUIRE(AtomicWriteFile(d / "new.conf", "a\n", 0640).ok());
  CHECK(ReadText(d / "new.conf") == "a\n");
  CHECK(ModeOf(d / "new.conf") == 0640);
  WriteText(d / "old.conf", "x\n", 0600);
  REQUIRE(AtomicWriteFile(d / "old.conf", "y\n").ok());
  CHECK(ReadText(d / "old.conf") == "y\n");
  CHECK(ModeOf(d / "old.conf") == 0600);
  CHECK(EntryCount(d.path()) == 2);  // No temporary file left behind.
}

TEST_CASE("atomic write keeps the owner of the file it replaces") {
  if (::geteuid() != 0) return;  // Only root can give a file away.
  TempDir d;
  WriteText(d / "owned", "x\n", 0644);
  REQUIRE(::chown((d / "owned").c_str(), 4242, 4343) == 0);
  REQUIRE(AtomicWriteFile(d / "owned", "y\n").ok());
  struct stat st {};
  REQUIRE(::stat((d / "owned").c_str(), &st) == 0);
  CHECK(st.st_uid == 4242u);
  CHECK(st.st_gid == 4343u);
}

TEST_CASE("a symlink inside the directory is followed, one leaving it is refused") {
  TempDir d;
  WriteText(d / "etc/real.conf", "old\n");
  WriteText(d / "outside.conf", "outside\n");
  REQUIRE(::symlink("real.conf", (d / "etc/link.conf").c_str()) == 0);
  REQUIRE(::symlink("../outside.conf", (d / "etc/escape.conf").c_str()) == 0);
  REQUIRE(::symlink((d / "outside.conf").c_str(), (d / "etc/abs.conf").c_str()) == 0);

  REQUIRE(AtomicWriteFile(d / "etc/link.conf", "new\n").ok());
  CHECK(ReadText(d / "etc/real.conf") == "new\n");
  CHECK(std::filesystem::is_symlink(d / "etc/link.conf"));

  auto escape = AtomicWriteFile(d / "etc/escape.conf", "evil\n");
  CHECK(escape.code() == StatusCode::kPermissionDenied);
  CHECK(escape.message().find("symlink") != std::string::npos);
  CHECK(AtomicWriteFile(d / "etc/abs.conf", "evil\n").code() == StatusCode::kPermissionDenied);
  CHECK(ReadText(d / "outside.conf") == "outside\n");

  REQUIRE(::symlink("loop2", (d / "etc/loop1").c_str()) == 0);
  REQUIRE(::symlink("loop1", (d / "etc/loop2").c_str()) == 0);
  CHECK_FALSE(AtomicWriteFile(d / "etc/loop1", "x").ok());
}

TEST_CASE("atomic write fails on a missing directory and on a non-regular file") {
  TempDir d;
  CHECK(AtomicWriteFile(d / "no/such/dir/f", "x").code() == StatusCode::kNotFound);
  std::filesystem::create_directories(d / "adir");
  CHECK_FALSE(AtomicWriteFile(d / "adir", "x").ok());
}

TEST_CASE("remove deletes a link, never its target, and tolerates absence") {
  TempDir d;
  WriteText(d / "target", "keep\n");
  REQUIRE(::symlink("target", (d / "link").c_str()) == 0);
  CHECK(RemoveFile(d / "link").ok());
  CHECK_FALSE(Exists(d / "link"));
  CHECK(ReadText(d / "target") == "keep\n");
  CHECK(RemoveFile(d / "link").ok());
}

TEST_CASE("SplitPath") {
  CHECK(SplitPath("/a/b") == std::pair<std::string, std::string>{"/a", "b"});
  CHECK(SplitPath("/b") == std::pair<std::string, std::string>{"/", "b"});
  CHECK(SplitPath("b") == std::pair<std::string, std::string>{".", "b"});
}

}  // namespace
}  // namespace pvek8s::ansible
