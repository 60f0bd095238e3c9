"""Stand-in for the parts of PyTorch NVIDIA's launch uses: only torch.distributed.run.

PyTorch (CUDA builds of several GB) cannot be installed here; the training stand-in does not
import it. See torch/distributed/run.py.
"""
