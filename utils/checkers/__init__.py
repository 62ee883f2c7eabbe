"""Exercise checkers: one module per chapter on a small shared core (:mod:`.core`).

=====================  =========  ====================================================
module                 chapter    checkers
=====================  =========  ====================================================
``getting_started``    00         ``check_stable_softmax``
``rnn``                01         ``check_gru_step``, ``check_lstm_step``, ``check_rnn_step_backward``
``seq2seq``            02         ``check_masked_cross_entropy``, ``check_greedy_decode``
``attention``          03         ``check_attention_weight_forward``, ``..._backward``, ``check_weighted_sum_backward``
=====================  =========  ====================================================
"""
from .attention import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .getting_started import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .seq2seq import *  # noqa: F401,F403
