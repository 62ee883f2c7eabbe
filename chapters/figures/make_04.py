"""Write the diagrams of chapter 04 (Bahdanau vs Luong) into chapters/figures/.

* ``04_decoder_placement.svg``: one decoder step of each placement with the shapes of its
  tensors: Bahdanau (query s_{t-1}, context into the RNN step) beside Luong (query s_t after
  the RNN, attentional state h~_t = tanh(W_c [c_t; s_t]), optional input feeding).
* ``04_local_window.svg``: which source positions global, local-m and local-p attention read
  for one output step.

Run from the repository root: ``python chapters/figures/make_04.py``. Plain text SVG, no
dependencies, so the figures render in JupyterLab and on GitHub and can be edited here.
"""
from math import exp
from pathlib import Path

ENC, DEC, ATT, OUT, GREY = "#4c72b0", "#55a868", "#dd8452", "#8172b3", "#666666"
COLORS = {"e": ENC, "d": DEC, "a": ATT, "o": OUT, "g": GREY}
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

    def box(self, x, y, w, h, kind, label, sub=None, fill="white", dashed=False):
        color = COLORS[kind]
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{color}" '
                          f'stroke-width="2"{dash}/>')
        ty = y + h / 2 if sub is None else y + h / 2 - 7
        self.parts.append(f'<text x="{x + w / 2}" y="{ty}" text-anchor="middle" dominant-baseline="middle" '
                          f'fill="{color}">{label}</text>')
        if sub is not None:
            self.parts.append(f'<text x="{x + w / 2}" y="{y + h / 2 + 11}" text-anchor="middle" '
                              f'dominant-baseline="middle" font-size="11.5" fill="{GREY}">{sub}</text>')

    def arrow(self, points, kind="g", dashed=False, width=1.8):
        color = COLORS[kind]
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        path = " ".join(f"{x},{y}" for x, y in points)
        self.parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="{width}"{dash} '
                          f'marker-end="url(#arrow-{kind})"/>')

    def text(self, x, y, content, kind="g", size=13, anchor="start", weight="normal", color=None):
        fill = color or COLORS[kind]
        self.parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
                          f'font-weight="{weight}">{content}</text>')

    def rect(self, x, y, w, h, fill, stroke="none", opacity=1.0):
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" stroke="{stroke}" '
                          f'fill-opacity="{opacity}"/>')

    def save(self, name: str) -> None:
        (HERE / name).write_text("\n".join(self.parts + ["</svg>"]) + "\n", encoding="utf-8")


def encoder_strip(d: Drawing, x, y, label="encoder states h_0 .. h_{S-1}"):
    """The encoder states as a row of small boxes, shape (batch, S, D_enc); 0-based, as in the code."""
    for j in range(5):
        d.box(x + j * 38, y, 32, 30, "e", f"h{j}")
    d.box(x + 5 * 38, y, 48, 30, "e", "h_S-1")
    d.text(x, y + 48, f"{label}: (batch, S, D_enc)", "e", size=12)


def decoder_placement() -> None:
    d = Drawing(1220, 700, "Where attention sits: one decoder step of each placement, with shapes")
    # ------------------------------------------------------------------ Bahdanau (left)
    L = 30
    d.text(L, 70, "Bahdanau et al. (2015): attend, then step", "a", size=16, weight="bold")
    d.text(L, 90, "query = s_{t-1}, the state BEFORE this step; the context enters the RNN", size=12.5)
    encoder_strip(d, L + 300, 560)
    d.box(L, 540, 150, 50, "d", "s_{t-1}", "(batch, H)")
    d.box(L, 620, 150, 44, "g", "embed(y_{t-1})", "(batch, E)")
    d.box(L + 250, 400, 290, 62, "a", "e_tj = vᵀ tanh(W s_{t-1} + U h_j)", "scores (batch, S); a_t = softmax_j e_tj")
    d.box(L + 300, 300, 190, 50, "a", "c_t = Σ_j a_tj h_j", "(batch, D_enc)")
    d.box(L, 300, 240, 60, "d", "s_t = RNN([y_{t-1}; c_t], s_{t-1})", "(batch, H)")
    d.box(L, 160, 230, 56, "o", "logits = W_o [s_t; c_t] + b", "(batch, V)")
    d.arrow([(L + 150, 565), (L + 220, 565), (L + 220, 431), (L + 250, 431)], "d")  # s_{t-1} -> score
    d.arrow([(L + 395, 560), (L + 395, 462)], "e")  # keys -> score
    d.arrow([(L + 395, 400), (L + 395, 350)], "a")  # weights -> context
    d.arrow([(L + 480, 560), (L + 480, 520), (L + 520, 520), (L + 520, 325), (L + 490, 325)], "e", dashed=True)
    d.arrow([(L + 300, 325), (L + 240, 325)], "a")  # context -> RNN input
    d.arrow([(L + 60, 540), (L + 60, 360)], "d")  # s_{t-1} -> RNN
    d.arrow([(L + 150, 642), (L + 200, 642), (L + 200, 380), (L + 120, 380), (L + 120, 360)], "g")  # y -> RNN
    d.arrow([(L + 60, 300), (L + 60, 216)], "d")  # s_t -> out
    d.arrow([(L + 330, 300), (L + 330, 190), (L + 230, 190)], "a")  # c_t -> out
    d.text(L, 120, "Step t needs s_{t-1} for its query, so the steps run one after another,", "a", size=12.5)
    d.text(L, 138, "even under teacher forcing: T small RNN calls and T attention calls.", "a", size=12.5)
    d.text(L + 250, 280, "keys are also the values", "e", size=11)
    # ------------------------------------------------------------------ Luong (right)
    R = 650
    d.text(R, 70, "Luong et al. (2015): step, then attend", "d", size=16, weight="bold")
    d.text(R, 90, "query = s_t, the state AFTER this step; the context goes to the output side", size=12.5)
    encoder_strip(d, R + 300, 560)
    d.box(R, 560, 200, 50, "g", "embed(y_0 .. y_{T-1})", "(batch, T, E)")
    d.box(R, 440, 200, 56, "d", "s_1 .. s_T = RNN(y, s_0)", "(batch, T, H): one call")
    d.box(R + 250, 400, 290, 62, "a", "e_tj = score(s_t, h_j)", "(batch, T, S): one batched product")
    d.box(R + 300, 300, 190, 50, "a", "c_t = Σ_j a_tj h_j", "(batch, T, D_enc)")
    d.box(R, 290, 230, 62, "o", "h̃_t = tanh(W_c [c_t; s_t])", "attentional state (batch, T, H)")
    d.box(R, 160, 230, 56, "o", "logits = W_s h̃_t + b", "(batch, T, V)")
    d.arrow([(R + 100, 560), (R + 100, 496)], "g")
    d.arrow([(R + 200, 468), (R + 230, 468), (R + 230, 431), (R + 250, 431)], "d")  # s -> score
    d.arrow([(R + 395, 560), (R + 395, 462)], "e")
    d.arrow([(R + 395, 400), (R + 395, 350)], "a")
    d.arrow([(R + 300, 325), (R + 230, 325)], "a")  # c -> h~
    d.arrow([(R + 60, 440), (R + 60, 352)], "d")  # s -> h~
    d.arrow([(R + 115, 290), (R + 115, 216)], "o")
    # input feeding: h~_{t-1} -> next RNN input (dashed)
    d.arrow([(R + 5, 321), (R - 20, 321), (R - 20, 530), (R + 40, 530), (R + 40, 496)], "o", dashed=True)
    d.text(R - 15, 628, "dashed: input feeding, RNN([y_{t-1}; h̃_{t-1}], s_{t-1}):", "o", size=12)
    d.text(R - 15, 646, "the steps are sequential again", "o", size=12)
    d.text(R, 120, "Without input feeding nothing in the RNN depends on attention: under teacher", "d", size=12.5)
    d.text(R, 138, "forcing it runs over all T steps at once and attention is one batched product.", "d", size=12.5)
    d.text(R + 250, 280, "keys are also the values", "e", size=11)
    d.parts.append(f'<line x1="615" y1="60" x2="615" y2="680" stroke="{GREY}" stroke-width="1" stroke-dasharray="3,4"/>')
    d.save("04_decoder_placement.svg")


def local_window() -> None:
    S, D, cell = 16, 2, 34
    x0, width = 300, S * 34
    d = Drawing(x0 + width + 40, 430, "Which source positions does output step t read? (S = 16, D = 2)")
    rows = [
        ("global (any score)", "every position j = 0 .. S-1", None, None),
        ("local-m", "p_t = t = 6: |j - p_t| ≤ D, 2D + 1 = 5 positions", 6.0, False),
        ("local-p", "p_t = (S-1)·σ(v_pᵀ tanh(W_p s_t)) = 10.4:", 10.4, True),
    ]
    for r, (name, note, centre, gaussian) in enumerate(rows):
        y = 80 + r * 110
        d.text(20, y + 22, name, "a" if r else "d", size=15, weight="bold")
        d.text(20, y + 42, note, size=11.5)
        if gaussian:
            d.text(20, y + 58, "|j - p_t| ≤ D: 4 positions here (p_t is not whole),", size=11.5)
            d.text(20, y + 74, "weights × Gaussian, σ = D/2", size=11.5)
        for j in range(S):
            inside = centre is None or abs(j - centre) <= D
            weight = 1.0 if centre is None or not gaussian else exp(-((j - centre) ** 2) / (2 * (D / 2) ** 2))
            fill = (ATT if r else DEC) if inside else "#f0f0f0"
            d.rect(x0 + j * cell, y, cell - 4, 36, fill, stroke=GREY, opacity=0.25 + 0.65 * weight if inside else 1)
            d.text(x0 + j * cell + (cell - 4) / 2, y + 23, f"h{j}" if inside else "0", "g", size=11, anchor="middle",
                   color="black" if inside else "#999999")
        if centre is not None:
            cx = x0 + centre * cell + (cell - 4) / 2
            d.parts.append(f'<line x1="{cx}" y1="{y - 8}" x2="{cx}" y2="{y}" stroke="black" stroke-width="2"/>')
            d.parts.append(f'<line x1="{cx}" y1="{y + 36}" x2="{cx}" y2="{y + 46}" stroke="black" stroke-width="2"/>')
            d.text(cx, y - 12, "p_t", "g", size=11, anchor="middle", color="black")
    d.text(x0, 410, "source position j →   (grey '0': weight exactly 0; shade: the weight's Gaussian factor)", size=12)
    d.save("04_local_window.svg")


if __name__ == "__main__":
    decoder_placement()
    local_window()
