// Status and StatusOr: the one error type used below the framework layer.
//
// Libraries never throw across their boundaries; a fallible call returns a
// Status (no value) or a StatusOr<T> (a value or an error). The framework turns
// a non-OK Status into a Terraform diagnostic; the Ansible runtime turns it into
// a failed result.
#ifndef PROVIDER_BASE_STATUS_H_
#define PROVIDER_BASE_STATUS_H_

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pvek8s {

// The error classes callers branch on. Keep the list short: a caller that needs
// more detail reads the message.
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // The caller's input is malformed.
  kNotFound,            // The named object does not exist.
  kAlreadyExists,       // Creating something that exists.
  kPermissionDenied,    // Authenticated, but not allowed.
  kUnauthenticated,     // Credentials missing or rejected.
  kFailedPrecondition,  // The system is not in a state that allows the call.
  kAborted,             // A conflict (lock, digest mismatch); retrying may work.
  kUnavailable,         // Transient: connection refused or dropped, 5xx.
  kDeadlineExceeded,    // A timeout expired.
  kCancelled,           // The caller asked to stop.
  kUnimplemented,       // Not supported.
  kInternal,            // A bug or an invariant broken.
};

// Returns a stable lower-case name such as "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

// A success, or an error code with a human-readable message.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK.
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "invalid_argument: message", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "prefix: message"; OK stays OK.
  Status WithPrefix(std::string_view prefix) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
inline Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
inline Status AlreadyExistsError(std::string m) {
  return Status(StatusCode::kAlreadyExists, std::move(m));
}
inline Status PermissionDeniedError(std::string m) {
  return Status(StatusCode::kPermissionDenied, std::move(m));
}
inline Status UnauthenticatedError(std::string m) {
  return Status(StatusCode::kUnauthenticated, std::move(m));
}
inline Status FailedPreconditionError(std::string m) {
  return Status(StatusCode::kFailedPrecondition, std::move(m));
}
inline Status AbortedError(std::string m) { return Status(StatusCode::kAborted, std::move(m)); }
inline Status UnavailableError(std::string m) {
  return Status(StatusCode::kUnavailable, std::move(m));
}
inline Status DeadlineExceededError(std::string m) {
  return Status(StatusCode::kDeadlineExceeded, std::move(m));
}
inline Status CancelledError(std::string m) { return Status(StatusCode::kCancelled, std::move(m)); }
inline Status UnimplementedError(std::string m) {
  return Status(StatusCode::kUnimplemented, std::move(m));
}
inline Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

// A value of type T, or a non-OK Status. Constructing one from an OK Status is
// a bug and yields kInternal.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : rep_(std::move(value)) {}        // NOLINT: implicit by design.
  StatusOr(Status status) : rep_(std::move(status)) {  // NOLINT: implicit by design.
    if (std::get<Status>(rep_).ok()) {
      rep_ = InternalError("StatusOr constructed from an OK status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(rep_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<Status>(rep_); }

  // Precondition: ok().
  T& value() & { return std::get<T>(rep_); }
  const T& value() const& { return std::get<T>(rep_); }
  T&& value() && { return std::get<T>(std::move(rep_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  // The value, or `fallback` when this holds an error.
  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<Status, T> rep_;
};

}  // namespace pvek8s

#define PVEK8S_STATUS_CONCAT_INNER(a, b) a##b
#define PVEK8S_STATUS_CONCAT(a, b) PVEK8S_STATUS_CONCAT_INNER(a, b)

// Returns the Status of `expr` from the enclosing function when it is an error.
#define PVEK8S_RETURN_IF_ERROR(expr)          \
  do {                                        \
    ::pvek8s::Status pvek8s_status_ = (expr); \
    if (!pvek8s_status_.ok()) {               \
      return pvek8s_status_;                  \
    }                                         \
  } while (false)

// Evaluates `rexpr` (a StatusOr); returns its error, or moves its value into `lhs`.
#define PVEK8S_ASSIGN_OR_RETURN(lhs, rexpr) \
  PVEK8S_ASSIGN_OR_RETURN_IMPL(PVEK8S_STATUS_CONCAT(pvek8s_statusor_, __LINE__), lhs, rexpr)
// `tmp` is a fresh identifier and `lhs` is often a declaration
// (`Type name`), which parentheses would break.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define PVEK8S_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                 \
  if (!tmp.ok()) {                                    \
    return tmp.status();                              \
  }                                                   \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)

#endif  // PROVIDER_BASE_STATUS_H_
