// Unified diffs of text, for results and messages that show a change.
#ifndef MODULES_ANSIBLE_DIFF_H_
#define MODULES_ANSIBLE_DIFF_H_

#include <string>
#include <string_view>

namespace pvek8s::ansible {

// A unified diff ("--- from", "+++ to", "@@ -a,b +c,d @@" hunks with `context`
// lines around each change) that turns `before` into `after`, as `diff -u` and
// Python's difflib print it. A last line without a newline is marked with
// "\ No newline at end of file". Returns "" when the texts are equal.
// Inputs are compared line by line; very large inputs (more than 4 million
// line pairs) are shown as a whole-file replacement.
std::string UnifiedDiff(std::string_view before, std::string_view after,
                        std::string_view from_label, std::string_view to_label, int context = 3);

}  // namespace pvek8s::ansible

#endif  // MODULES_ANSIBLE_DIFF_H_
