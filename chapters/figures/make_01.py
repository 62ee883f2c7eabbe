"""Write the diagrams of chapter 01 (RNN basics) into chapters/figures/.

* ``01_unrolled_rnn.svg``: the vanilla RNN rolled up (one cell with a loop) and unrolled over
  T steps, with the shapes of x_t, h_t and the shared W_x, W_h, b (``utils.scratch.RNN``).
* ``01_lstm_cell.svg``: one LSTM step, gates f, i, g, o, the cell path c_{t-1} -> c_t, and the
  peephole connections w_cf, w_ci (from c_{t-1}) and w_co (from c_t) dashed
  (``utils.scratch.rnn._lstm_step_with_gates``).
* ``01_gru_cell.svg``: one GRU step in torch's variant, r applied to W_hn h_{t-1} + b_hn
  (``utils.scratch.rnn._gru_step_with_gates``).

Symbols and shapes are those of the chapter and of utils/scratch/rnn.py: batch first, x_t is
(batch, D), h_t and c_t are (batch, H), W_x* is (H, D), W_h* is (H, H).

Run from the repository root: ``python chapters/figures/make_01.py``. Plain text SVG, no
dependencies, so the figures render in JupyterLab and on GitHub and can be edited here.
"""
from pathlib import Path

# Colours: inputs, hidden state, cell state, gates (sigmoid), tanh / candidate, grey.
X, HID, CELL, GATE, CAND, GREY, PEEP = "#4c72b0", "#55a868", "#c44e52", "#dd8452", "#8172b3", "#666666", "#937860"
COLORS = {"x": X, "h": HID, "c": CELL, "s": GATE, "t": CAND, "g": GREY, "p": PEEP}
HERE = Path(__file__).resolve().parent


class Drawing:
    def __init__(self, width: int, height: int, title: str):
        self.width, self.height = width, height
        self.parts = [
            (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="14">'),
            "<defs>",
            *(f'<marker id="arrow-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
              f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
              for k, c in COLORS.items()),
            "</defs>",
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="20" y="32" font-size="18" font-weight="bold">{title}</text>',
        ]

    def box(self, x, y, w, h, kind, label, sub=None, fill="white", dashed=False, rx=6):
        color = COLORS[kind]
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" '
                          f'stroke="{color}" stroke-width="2"{dash}/>')
        ty = y + h / 2 if sub is None else y + h / 2 - 7
        self.parts.append(f'<text x="{x + w / 2}" y="{ty}" text-anchor="middle" dominant-baseline="middle" '
                          f'fill="{color}">{label}</text>')
        if sub is not None:
            self.parts.append(f'<text x="{x + w / 2}" y="{y + h / 2 + 11}" text-anchor="middle" '
                              f'dominant-baseline="middle" font-size="11.5" fill="{GREY}">{sub}</text>')

    def op(self, x, y, symbol, kind="g", r=13):
        """A small circle holding an element-wise operation (⊙, +, 1−)."""
        color = COLORS[kind]
        self.parts.append(f'<circle cx="{x}" cy="{y}" r="{r}" fill="white" stroke="{color}" stroke-width="2"/>')
        self.parts.append(f'<text x="{x}" y="{y + 1}" text-anchor="middle" dominant-baseline="middle" '
                          f'font-size="15" fill="{color}">{symbol}</text>')

    def arrow(self, points, kind="g", dashed=False, width=1.8):
        color = COLORS[kind]
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        path = " ".join(f"{x},{y}" for x, y in points)
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}"{dash} '
                          f'marker-end="url(#arrow-{kind})"/>')

    def text(self, x, y, content, kind="g", size=13, anchor="start", weight="normal"):
        self.parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" '
                          f'fill="{COLORS[kind]}" font-weight="{weight}">{content}</text>')

    def save(self, name: str) -> None:
        (HERE / name).write_text("\n".join(self.parts + ["</svg>"]) + "\n", encoding="utf-8")


def unrolled_rnn() -> None:
    d = Drawing(1100, 400, "The vanilla RNN, rolled up and unrolled: the same W_x, W_h, b at every step")
    # rolled up
    d.box(30, 170, 200, 60, "h", "h_t = tanh(a_t)", "a_t = W_x x_t + W_h h_{t-1} + b")
    d.arrow([(130, 300), (130, 230)], "x")
    d.text(130, 318, "x_t  (batch, D)", "x", anchor="middle")
    d.arrow([(130, 170), (130, 105)], "h")
    d.text(130, 95, "h_t  (batch, H)", "h", anchor="middle")
    d.arrow([(230, 190), (250, 190), (250, 140), (15, 140), (15, 215), (30, 215)], "h")
    d.text(180, 160, "h_{t-1}", "h", size=12)
    d.text(258, 205, "=", size=28)
    # unrolled
    left, step = 300, 190
    labels = ["1", "2", "3", "T"]
    d.box(left - 10, 178, 60, 44, "h", "h_0", "zeros")
    for k, t in enumerate(labels):
        x = left + 90 + k * step
        if t == "T":
            d.text(x - 50, 205, "⋯", size=22, anchor="middle")
        d.box(x, 170, 110, 60, "h", "tanh", "W_x, W_h, b")
        d.arrow([(x + 55, 300), (x + 55, 230)], "x")
        d.text(x + 55, 318, f"x_{t}", "x", anchor="middle")
        d.arrow([(x + 55, 170), (x + 55, 105)], "h")
        d.text(x + 55, 95, f"h_{t}", "h", anchor="middle")
        start = left + 50 if k == 0 else x - step + 110
        if t != "T":
            d.arrow([(start, 200), (x, 200)], "h")
        else:
            d.arrow([(x - 30, 200), (x, 200)], "h")
    d.text(left, 350, "x: (batch, T, D), x[:, t-1] is x_t  ·  hs: (batch, T, H), hs[:, t-1] is h_t  ·  "
           "W_x: (H, D)  ·  W_h: (H, H)  ·  b: (H,)", size=12.5)
    d.text(left, 372, "return_sequences=True returns every h_t (batch, T, H); False returns only h_T (batch, H)",
           size=12.5)
    d.text(left, 60, "backward (section 3): δh_t = dL/dh_t + W_hᵀ δa_{t+1} flows right to left, "
           "the weight gradients are sums over t", "g", size=12.5)
    d.save("01_unrolled_rnn.svg")


def lstm_cell() -> None:
    d = Drawing(1000, 570, "One LSTM step, with the peephole connections (dashed) of PeepholeLSTM")
    # frame of the cell
    d.parts.append(f'<rect x="150" y="90" width="640" height="380" rx="14" fill="#f7f7f7" stroke="{GREY}"/>')
    # cell path along the top
    d.text(40, 135, "c_{t-1}", "c", weight="bold")
    d.text(40, 152, "(batch, H)", "g", size=11)
    d.arrow([(100, 140), (293, 140)], "c", width=2.6)
    d.op(308, 140, "⊙", "c")
    d.arrow([(321, 140), (493, 140)], "c", width=2.6)
    d.op(508, 140, "+", "c")
    d.arrow([(521, 140), (880, 140)], "c", width=2.6)
    d.text(890, 135, "c_t", "c", weight="bold")
    d.text(890, 152, "(batch, H)", "g", size=11)
    # gates row
    gy = 330
    gates = [("f", "f_t = σ(a_f)", "s", 230), ("i", "i_t = σ(a_i)", "s", 360), ("g", "g_t = tanh(a_g)", "t", 480),
             ("o", "o_t = σ(a_o)", "s", 640)]
    for name, label, kind, x in gates:
        d.box(x - 55, gy, 110, 46, kind, label)
    # inputs: x_t and h_{t-1} feed every gate
    d.text(40, 505, "h_{t-1}", "h", weight="bold")
    d.text(40, 522, "(batch, H)", "g", size=11)
    d.text(100, 545, "x_t (batch, D)", "x", weight="bold")
    d.arrow([(100, 500), (640, 500)], "h")
    d.arrow([(200, 530), (200, 510), (640, 510)], "x")
    for _, _, _, x in gates:
        d.arrow([(x, 510), (x, gy + 46)], "g")  # from both buses: x_t and h_{t-1}
    d.text(420, 530, "every gate reads x_t and h_{t-1}: a_f = W_xf x_t + W_hf h_{t-1} + b_f, likewise a_i, a_g, a_o",
           "g", size=11.5)
    d.text(420, 547, "W_x*: (H, D) · W_h*: (H, H) · b_*: (H,) · all gates and states: (batch, H)", "g", size=11.5)
    # f -> ⊙ on the cell path
    d.arrow([(230, gy), (230, 200), (308, 200), (308, 153)], "s")
    # i ⊙ g -> +
    d.op(420, 250, "⊙", "t")
    d.arrow([(360, gy), (360, 250), (407, 250)], "s")
    d.arrow([(480, gy), (480, 250), (433, 250)], "t")
    d.arrow([(420, 237), (420, 210), (508, 210), (508, 153)], "t")
    # output: tanh(c_t) ⊙ o -> h_t
    d.box(600, 190, 80, 36, "t", "tanh")
    d.arrow([(640, 140), (640, 190)], "c")
    d.op(720, 250, "⊙", "h")
    d.arrow([(640, 226), (640, 250), (707, 250)], "t")
    d.arrow([(640, gy), (640, 290), (720, 290), (720, 263)], "s")
    d.arrow([(733, 250), (880, 250)], "h", width=2.4)
    d.text(890, 246, "h_t", "h", weight="bold")
    d.text(890, 263, "(batch, H)", "g", size=11)
    d.text(745, 240, "h_t = o_t ⊙ tanh(c_t)", "h", size=11.5)
    d.text(330, 128, "c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t", "c", size=12)
    # peepholes (dashed): c_{t-1} -> f, i ; c_t -> o
    d.arrow([(170, 140), (170, 352), (175, 352)], "p", dashed=True)
    d.text(156, 300, "w_cf", "p", size=11.5, anchor="end")
    d.arrow([(260, 140), (260, 170), (330, 170), (330, 330)], "p", dashed=True)
    d.text(334, 185, "w_ci", "p", size=11.5)
    d.arrow([(560, 140), (560, 310), (600, 310), (600, 330)], "p", dashed=True)
    d.text(566, 276, "w_co (new c_t)", "p", size=11.5)
    d.text(160, 80, "dashed, PeepholeLSTM only: a_f += w_cf ⊙ c_{t-1}, a_i += w_ci ⊙ c_{t-1}, "
           "a_o += w_co ⊙ c_t · w_c*: (H,)", "p", size=12)
    d.save("01_lstm_cell.svg")


def gru_cell() -> None:
    d = Drawing(980, 530, "One GRU step (torch's variant: r_t multiplies W_hn h_{t-1} + b_hn)")
    d.parts.append(f'<rect x="150" y="80" width="630" height="360" rx="14" fill="#f7f7f7" stroke="{GREY}"/>')
    # state path on top: h_{t-1} -> z ⊙ h_{t-1} -> + -> h_t
    d.text(40, 125, "h_{t-1}", "h", weight="bold")
    d.text(40, 142, "(batch, H)", "g", size=11)
    d.arrow([(100, 130), (393, 130)], "h", width=2.6)
    d.op(408, 130, "⊙", "h")
    d.arrow([(421, 130), (593, 130)], "h", width=2.6)
    d.op(608, 130, "+", "h")
    d.arrow([(621, 130), (860, 130)], "h", width=2.6)
    d.text(870, 125, "h_t", "h", weight="bold")
    d.text(870, 142, "(batch, H)", "g", size=11)
    d.text(630, 112, "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}", "h", size=12)
    gy = 320
    d.box(185, gy, 120, 46, "s", "r_t = σ(a_r)")
    d.box(345, gy, 120, 46, "s", "z_t = σ(a_z)")
    d.box(520, gy - 90, 200, 56, "t", "n_t = tanh(W_xn x_t + b_xn", "+ r_t ⊙ hn)")
    d.box(540, gy + 10, 190, 40, "g", "hn = W_hn h_{t-1} + b_hn")
    # inputs: r and z read x_t and h_{t-1}; the candidate reads x_t and (through hn) h_{t-1}
    d.text(40, 465, "h_{t-1}", "h", weight="bold")
    d.text(40, 482, "(batch, H)", "g", size=11)
    d.text(100, 505, "x_t  (batch, D)", "x", weight="bold")
    d.arrow([(100, 460), (635, 460)], "h")
    d.arrow([(200, 490), (200, 470), (760, 470), (760, 262), (720, 262)], "x")
    for x in (245, 405):
        d.arrow([(x, 470), (x, gy + 46)], "g")  # from both buses: x_t and h_{t-1}
    d.arrow([(635, 460), (635, gy + 50)], "h")
    d.arrow([(635, gy + 10), (635, gy - 34)], "g")
    d.text(645, gy - 4, "hn", "g", size=11.5)
    # r -> candidate
    d.arrow([(245, gy), (245, 255), (520, 255)], "s")
    d.text(330, 248, "r_t gates hn inside the tanh", "s", size=11.5)
    # z -> ⊙ with h_{t-1}; (1 - z) ⊙ n -> +
    d.arrow([(405, gy), (405, 143)], "s")
    d.op(500, 190, "1−", "s", r=15)
    d.arrow([(405, 190), (485, 190)], "s")
    d.op(560, 190, "⊙", "t")
    d.arrow([(515, 190), (547, 190)], "s")
    d.arrow([(600, gy - 90), (600, 210), (573, 196)], "t")
    d.arrow([(560, 177), (560, 160), (608, 160), (608, 143)], "t")
    d.text(300, 500, "a_r = W_xr x_t + W_hr h_{t-1} + b_r, a_z likewise · W_x*: (H, D) · W_h*: (H, H) · "
           "b_*: (H,)", "g", size=11.5)
    d.text(300, 517, "r_t, z_t, n_t, hn: (batch, H)", "g", size=11.5)
    d.text(160, 70, "z_t ≈ 1 copies h_{t-1}: the GRU's shortcut, like the LSTM's f_t ≈ 1", "g", size=12.5)
    d.save("01_gru_cell.svg")


if __name__ == "__main__":
    unrolled_rnn()
    lstm_cell()
    gru_cell()
