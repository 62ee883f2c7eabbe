"""One peephole-LSTM step worked out by hand, shared by the NumPy and torch tests.

Both implementations are checked against these numbers, so neither is checked only
against the other.
"""
import math


def _s(a):  # the logistic sigmoid, written out for the hand computations below
    return 1.0 / (1.0 + math.exp(-a))


# One peephole-LSTM step worked by hand. Every weight is 0 except the candidate's bias,
# atanh(0.6), so g = 0.6 and, without peepholes, f = i = o = sigmoid(0) = 0.5. The previous
# cell is c_{t-1} = (2, -1), and one peephole vector is (1, 0.5). Expected (h_t, c_t) per unit:
C_PREV, PEEP, G = (2.0, -1.0), (1.0, 0.5), 0.6
PEEPHOLE_BY_HAND = {
    # o reads the NEW cell: c_t = 0.5 * c_{t-1} + 0.5 * 0.6 = (1.3, -0.2), o = sigmoid(w_co * c_t)
    "w_co": ([_s(1.0 * 1.3) * math.tanh(1.3), _s(0.5 * -0.2) * math.tanh(-0.2)], [1.3, -0.2]),
    # f reads the OLD cell: f = sigmoid(w_cf * c_{t-1}) = (s(2), s(-0.5)), c_t = f * c_{t-1} + 0.3
    "w_cf": ([0.5 * math.tanh(_s(2.0) * 2.0 + 0.3), 0.5 * math.tanh(_s(-0.5) * -1.0 + 0.3)],
             [_s(2.0) * 2.0 + 0.3, _s(-0.5) * -1.0 + 0.3]),
    # i reads the OLD cell: i = sigmoid(w_ci * c_{t-1}), c_t = 0.5 * c_{t-1} + i * 0.6
    "w_ci": ([0.5 * math.tanh(1.0 + _s(2.0) * 0.6), 0.5 * math.tanh(-0.5 + _s(-0.5) * 0.6)],
             [1.0 + _s(2.0) * 0.6, -0.5 + _s(-0.5) * 0.6]),
}
# What o would be if it read the OLD cell instead (the mistake the w_co case rules out).
O_READING_OLD_CELL_H = [_s(1.0 * 2.0) * math.tanh(1.3), _s(0.5 * -1.0) * math.tanh(-0.2)]
