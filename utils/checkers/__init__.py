"""Exercise checkers: one module per chapter on a small shared core (:mod:`.core`).

=====================  =========  ====================================================
module                 chapter    checkers
=====================  =========  ====================================================
``getting_started``    00         ``check_stable_softmax``
``rnn``                01         ``check_gru_step``, ``check_lstm_step``, ``check_rnn_step_backward``
``seq2seq``            02         ``check_masked_cross_entropy``, ``check_greedy_decode``
``rnn_backward``       01         ``check_lstm_step_backward``
``seq2seq_scratch``    02         ``check_context_gradient``
``attention``          03         ``check_attention_weight_forward``, ``..._backward``, ``check_weighted_sum_backward``
``scores``             04         ``check_general_score``, ``..._backward``, ``check_local_p_weights``
``masking``            05         ``check_padding_mask``, ``check_causal_mask``, ``check_mlm_mask``
``bidirectional``      06         ``check_reverse_within_lengths``, ``check_bidirectional_backward``
``deep``               07         ``check_residual_backward``, ``check_beam_step``, ``check_length_normalisation``
=====================  =========  ====================================================
"""
from .attention import *  # noqa: F401,F403
from .bidirectional import *  # noqa: F401,F403
from .core import *  # noqa: F401,F403
from .deep import *  # noqa: F401,F403
from .getting_started import *  # noqa: F401,F403
from .masking import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .rnn_backward import *  # noqa: F401,F403
from .scores import *  # noqa: F401,F403
from .seq2seq import *  # noqa: F401,F403
from .seq2seq_scratch import *  # noqa: F401,F403
