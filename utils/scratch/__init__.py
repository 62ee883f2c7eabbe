"""The from-scratch family: NumPy layers with hand-written backward passes.

Each layer is a small class with ``params``, ``grads``, ``forward`` and ``backward`` (the
textbook's style); :mod:`.gradcheck` verifies every backward pass numerically.
"""
from .attention import *  # noqa: F401,F403
from .gradcheck import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
