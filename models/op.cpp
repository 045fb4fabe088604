#include "models/op.hpp"

namespace cs {

const char* to_string(OpKind k) {
  switch (k) {
    case OpKind::gemm: return "gemm";
    case OpKind::attention: return "attention";
    case OpKind::norm: return "norm";
    case OpKind::rope: return "rope";
    case OpKind::router: return "router";
    case OpKind::quantize: return "quantize";
    case OpKind::swiglu: return "swiglu";
    case OpKind::elementwise: return "elementwise";
    case OpKind::embedding: return "embedding";
    case OpKind::loss: return "loss";
    case OpKind::dispatch: return "dispatch";
    case OpKind::combine: return "combine";
  }
  return "?";
}

const char* to_string(Pass p) {
  switch (p) {
    case Pass::forward: return "forward";
    case Pass::backward_input: return "backward_input";
    case Pass::backward_weight: return "backward_weight";
  }
  return "?";
}

const char* to_string(Part p) {
  switch (p) {
    case Part::attention: return "attention";
    case Part::dispatch: return "dispatch";
    case Part::mlp: return "mlp";
    case Part::combine: return "combine";
    case Part::embedding: return "embedding";
    case Part::head: return "head";
    case Part::mtp: return "mtp";
  }
  return "?";
}

const char* to_string(Precision p) {
  switch (p) {
    case Precision::fp8: return "fp8";
    case Precision::bf16: return "bf16";
    case Precision::fp32: return "fp32";
  }
  return "?";
}

}  // namespace cs
