// Early-return helpers for absl::Status and absl::StatusOr.
#ifndef RAT_CORE_COMMON_STATUS_MACROS_H_
#define RAT_CORE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RAT_CONCAT_INNER(a, b) a##b
#define RAT_CONCAT(a, b) RAT_CONCAT_INNER(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the calling function
// when it is not OK.
#define RAT_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    const ::absl::Status rat_status_ = (expr);     \
    if (!rat_status_.ok()) return rat_status_;     \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, else
// moves the value into `lhs`, which may be a declaration.
#define RAT_ASSIGN_OR_RETURN(lhs, rexpr) \
  RAT_ASSIGN_OR_RETURN_IMPL(RAT_CONCAT(rat_statusor_, __LINE__), lhs, rexpr)

#define RAT_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // RAT_CORE_COMMON_STATUS_MACROS_H_
