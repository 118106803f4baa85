#include "modules/ansible/diff.h"

#include <algorithm>
#include <vector>

namespace pvek8s::ansible {
namespace {

// Lines keep their terminating newline so that a missing final newline is a
// difference like any other.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

enum class Op { kKeep, kDelete, kInsert };
struct Edit {
  Op op;
  size_t a;  // index into before (kKeep, kDelete)
  size_t b;  // index into after (kKeep, kInsert)
};

std::vector<Edit> Diff(const std::vector<std::string_view>& a,
                       const std::vector<std::string_view>& b) {
  // Common prefix and suffix first: configuration edits touch few lines.
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) {
    ++suf;
  }
  const size_t n = a.size() - pre - suf;
  const size_t m = b.size() - pre - suf;
  std::vector<Edit> edits;
  for (size_t i = 0; i < pre; ++i) edits.push_back({Op::kKeep, i, i});
  if (n * m > 4'000'000) {
    for (size_t i = 0; i < n; ++i) edits.push_back({Op::kDelete, pre + i, 0});
    for (size_t j = 0; j < m; ++j) edits.push_back({Op::kInsert, 0, pre + j});
  } else {
    // Longest common subsequence table over the middle part.
    std::vector<std::vector<unsigned>> lcs(n + 1, std::vector<unsigned>(m + 1, 0));
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        lcs[i][j] = a[pre + i] == b[pre + j] ? lcs[i + 1][j + 1] + 1
                                             : std::max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        edits.push_back({Op::kKeep, pre + i, pre + j});
        ++i;
        ++j;
      } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
        // Deletions before insertions within a change, as diff -u prints them.
        edits.push_back({Op::kDelete, pre + i, 0});
        ++i;
      } else {
        edits.push_back({Op::kInsert, 0, pre + j});
        ++j;
      }
    }
  }
  for (size_t k = 0; k < suf; ++k) {
    edits.push_back({Op::kKeep, a.size() - suf + k, b.size() - suf + k});
  }
  return edits;
}

void AppendLine(std::string& out, char prefix, std::string_view line) {
  out += prefix;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

std::string Range(size_t start, size_t count) {
  // diff -u numbers an empty range by the line before it.
  size_t first = count == 0 ? start : start + 1;
  if (count == 1) return std::to_string(first);
  return std::to_string(first) + "," + std::to_string(count);
}

}  // namespace

std::string UnifiedDiff(std::string_view before, std::string_view after,
                        std::string_view from_label, std::string_view to_label, int context) {
  if (before == after) return "";
  std::vector<std::string_view> a = SplitLines(before);
  std::vector<std::string_view> b = SplitLines(after);
  std::vector<Edit> edits = Diff(a, b);
  const size_t ctx = static_cast<size_t>(std::max(context, 0));

  std::string out = "--- " + std::string(from_label) + "\n+++ " + std::string(to_label) + "\n";
  size_t k = 0;
  while (k < edits.size()) {
    while (k < edits.size() && edits[k].op == Op::kKeep) ++k;
    if (k == edits.size()) break;
    // A hunk: from ctx lines before this change to ctx lines after the last
    // change that is at most 2*ctx unchanged lines away.
    size_t start = k >= ctx ? k - ctx : 0;
    size_t end = k;
    while (true) {
      while (end < edits.size() && edits[end].op != Op::kKeep) ++end;
      size_t keep_run = end;
      while (keep_run < edits.size() && edits[keep_run].op == Op::kKeep) ++keep_run;
      if (keep_run < edits.size() && keep_run - end <= 2 * ctx) {
        end = keep_run;
        continue;
      }
      end = std::min(end + ctx, edits.size());
      break;
    }
    size_t a_start = 0, b_start = 0, a_count = 0, b_count = 0;
    bool a_set = false, b_set = false;
    // Positions of the first line of each side, for empty ranges too.
    size_t a_pos = 0, b_pos = 0;
    for (size_t e = 0; e < start; ++e) {
      if (edits[e].op != Op::kInsert) ++a_pos;
      if (edits[e].op != Op::kDelete) ++b_pos;
    }
    std::string body;
    for (size_t e = start; e < end; ++e) {
      const Edit& ed = edits[e];
      if (ed.op != Op::kInsert) {
        if (!a_set) a_start = ed.a, a_set = true;
        ++a_count;
      }
      if (ed.op != Op::kDelete) {
        if (!b_set) b_start = ed.b, b_set = true;
        ++b_count;
      }
      if (ed.op == Op::kKeep) AppendLine(body, ' ', a[ed.a]);
      if (ed.op == Op::kDelete) AppendLine(body, '-', a[ed.a]);
      if (ed.op == Op::kInsert) AppendLine(body, '+', b[ed.b]);
    }
    if (!a_set) a_start = a_pos;
    if (!b_set) b_start = b_pos;
    out += "@@ -" + Range(a_start, a_count) + " +" + Range(b_start, b_count) + " @@\n" + body;
    k = end;
  }
  return out;
}

}  // namespace pvek8s::ansible
