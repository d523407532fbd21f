// The multi-process Distributed implementation over c10d process groups.
#ifndef RAT_TRAINER_DISTRIBUTED_C10D_H_
#define RAT_TRAINER_DISTRIBUTED_C10D_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/distributed.h"

namespace rat {

// Joins the c10d group described by `options` (already validated, with
// world_size > 1). See Distributed::Create for the errors.
absl::StatusOr<std::unique_ptr<Distributed>> CreateC10dDistributed(
    const DistributedOptions& options, const std::string& device);

}  // namespace rat

#endif  // RAT_TRAINER_DISTRIBUTED_C10D_H_
