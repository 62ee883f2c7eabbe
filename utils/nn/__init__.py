"""The PyTorch family: the same ideas as :mod:`utils.scratch`, batched and trained with autograd."""
from .attention import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .seq2seq import *  # noqa: F401,F403
