// The one boundary where LibTorch exceptions become absl statuses.
#ifndef RAT_CORE_COMMON_TORCH_STATUS_H_
#define RAT_CORE_COMMON_TORCH_STATUS_H_

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include <c10/util/Exception.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace rat {

// Keeps the first line of a LibTorch message: the rest is a C++ backtrace
// that means nothing to the caller.
std::string FirstLine(const std::string& message);

// Runs `fn` and converts a c10::Error or std::exception into an
// INTERNAL status (INVALID_ARGUMENT for c10::ValueError/IndexError) whose
// message starts with `context`. Returns fn's result otherwise. `fn` returns
// either void, absl::Status, absl::StatusOr<T> or a plain value T.
template <typename Fn>
auto CallTorch(const std::string& context, Fn&& fn) {
  using Result = std::invoke_result_t<Fn>;
  using Returned =
      std::conditional_t<std::is_void_v<Result>, absl::Status,
                         std::conditional_t<std::is_same_v<Result, absl::Status>,
                                            absl::Status,
                                            absl::StatusOr<Result>>>;
  try {
    if constexpr (std::is_void_v<Result>) {
      std::forward<Fn>(fn)();
      return Returned(absl::OkStatus());
    } else {
      return Returned(std::forward<Fn>(fn)());
    }
  } catch (const c10::ValueError& e) {
    return Returned(absl::InvalidArgumentError(
        absl::StrCat(context, ": ", FirstLine(e.what_without_backtrace()))));
  } catch (const c10::IndexError& e) {
    return Returned(absl::InvalidArgumentError(
        absl::StrCat(context, ": ", FirstLine(e.what_without_backtrace()))));
  } catch (const c10::Error& e) {
    return Returned(absl::InternalError(
        absl::StrCat(context, ": ", FirstLine(e.what_without_backtrace()))));
  } catch (const std::exception& e) {
    return Returned(
        absl::InternalError(absl::StrCat(context, ": ", FirstLine(e.what()))));
  }
}

}  // namespace rat

#endif  // RAT_CORE_COMMON_TORCH_STATUS_H_
