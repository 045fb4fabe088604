// NCCL all-to-all and point-to-point between the GPUs of this machine (single process, one communicator per GPU).
// Recorded for the network model's calibration (dispatch/combine are timed there, not by the cost model).
#pragma once
#include <string>
#include <vector>

#include "calibration/profile.hpp"

namespace cs::kern {

std::string nccl_version();
// Checks each transfer's contents, then times it (median/p10/p90 over `reps`, the slowest GPU's CUDA-event time).
// Records: kernel nccl_alltoall / nccl_p2p, shape m = n = GPUs, bytes = bytes each GPU sends. Empty with < 2 GPUs.
std::vector<KernelRecord> run_nccl(int reps, int warmup, int device_sms, std::vector<std::string>& notes);

}  // namespace cs::kern
