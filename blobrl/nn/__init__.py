"""Policy-value networks over the information state, and their evaluator for the search."""

from blobrl.nn.base import BlobNet, masked_logits
from blobrl.nn.config import NetworkConfig
from blobrl.nn.evaluator import TorchEvaluator
from blobrl.nn.factory import (
    build_network,
    forward_evals_per_s,
    forward_vs_gemm,
    matmul_flops_per_row,
    param_count,
)
from blobrl.nn.serialize import bytes_to_state_dict, state_dict_to_bytes

__all__ = [
    "BlobNet",
    "NetworkConfig",
    "TorchEvaluator",
    "build_network",
    "bytes_to_state_dict",
    "forward_evals_per_s",
    "forward_vs_gemm",
    "masked_logits",
    "matmul_flops_per_row",
    "param_count",
    "state_dict_to_bytes",
]
