"""Exercise checkers: one module per chapter on a small shared core (:mod:`.core`)."""
from .core import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .seq2seq import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
