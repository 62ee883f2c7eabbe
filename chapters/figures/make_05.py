"""Write the two diagrams of chapter 05 (masking) as plain-text SVG.

Run from the repository root: ``python chapters/figures/make_05.py``. No dependencies, so the
figures render in JupyterLab and on GitHub and can be edited here.

* ``05_masks.svg``: a padded batch, its padding mask, the masked score matrix, and the causal mask;
* ``05_self_vs_cross_attention.svg``: where Q, K and V come from, with their shapes.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLUE, ORANGE, GREEN, GREY, RED = "#4c72b0", "#dd8452", "#55a868", "#666666", "#c44e52"
LIGHT_BLUE, LIGHT_ORANGE, LIGHT_GREEN, LIGHT_GREY = "#dde6f3", "#fbe3d4", "#dcefe0", "#eeeeee"


class Svg:
    def __init__(self, width: int, height: int, title: str):
        self.parts = [
            (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="14">'),
            "<defs>",
            *(f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
              f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
              for name, color in (("grey", GREY), ("blue", BLUE), ("orange", ORANGE), ("green", GREEN))),
            "</defs>",
            f'<rect width="{width}" height="{height}" fill="white"/>',
        ]
        self.text(20, 30, title, size=18, weight="bold")

    def text(self, x, y, content, color="black", size=14, anchor="start", weight="normal", family=None):
        font = f' font-family="{family}"' if family else ""
        self.parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
                          f'font-weight="{weight}"{font}>{content}</text>')

    def rect(self, x, y, w, h, stroke, fill="white", rx=0, width=1.5, dash=None):
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" '
                          f'stroke="{stroke}" stroke-width="{width}"{dashed}/>')

    def arrow(self, x1, y1, x2, y2, color="grey", dash=None):
        stroke = {"grey": GREY, "blue": BLUE, "orange": ORANGE, "green": GREEN}[color]
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        self.parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{stroke}" stroke-width="1.8"'
                          f'{dashed} marker-end="url(#arrow-{color})"/>')

    def cell(self, x, y, size, label, fill, stroke=GREY, color="black", font=13):
        self.rect(x, y, size, size, stroke, fill)
        self.text(x + size / 2, y + size / 2 + 5, label, color=color, size=font, anchor="middle")

    def write(self, name: str) -> None:
        (HERE / name).write_text("\n".join(self.parts + ["</svg>"]) + "\n", encoding="utf-8")


# ------------------------------------------------------------------ 05_masks.svg
def masks() -> None:
    svg = Svg(1000, 430, "Two masks, one rule: True = may attend; a masked score becomes −inf, its weight exactly 0")
    C = 30  # cell size
    # Panel A: a padded batch and its padding mask.
    svg.text(20, 70, "A. A padded batch (batch = 3, max_len = 5)", weight="bold")
    words = ["cat", "horse", "ox"]
    x0, y0 = 40, 95
    for b, word in enumerate(words):
        y = y0 + b * (C + 8)
        svg.text(x0 - 10, y + 20, f"b={b}", color=GREY, size=12, anchor="end")
        for j in range(5):
            real = j < len(word)
            svg.cell(x0 + j * C, y, C, word[j] if real else "pad", LIGHT_BLUE if real else LIGHT_GREY,
                     color="black" if real else GREY, font=13 if real else 10)
        svg.text(x0 + 5 * C + 12, y + 20, f"length {len(word)}", color=GREY, size=12)
    svg.text(40, y0 + 3 * (C + 8) + 22, "padding_mask(lengths=[3, 5, 2], max_len=5): (batch, max_len)", size=12)
    ym = y0 + 3 * (C + 8) + 35
    for b, word in enumerate(words):
        y = ym + b * C
        for j in range(5):
            real = j < len(word)
            svg.cell(x0 + j * C, y, C, "T" if real else "F", LIGHT_GREEN if real else "white",
                     color=GREEN if real else RED)
    svg.text(40, ym + 3 * C + 22, "True at real tokens (j &lt; length), False at padding", color=GREY, size=12)
    svg.text(40, ym + 3 * C + 40, "as keys: mask[:, None, :], shape (batch, 1, n_keys)", color=GREY, size=12)

    # Panel B: the scores of sequence b=2 ("ox"), a query per row, keys per column.
    svg.text(360, 70, "B. Scores of 'ox' (b=2): 2 real queries, 5 keys", weight="bold")
    xb, yb = 420, 120
    keys = ["o", "x", "pad", "pad", "pad"]
    for j, key in enumerate(keys):
        svg.text(xb + j * C + C / 2, yb - 8, key, color=GREY if key == "pad" else "black", size=12, anchor="middle")
    values = [["1.2", "0.3"], ["-0.4", "2.1"]]
    for i, query in enumerate(["o", "x"]):
        svg.text(xb - 10, yb + i * C + 20, f"q: {query}", size=12, anchor="end")
        for j in range(5):
            if j < 2:
                svg.cell(xb + j * C, yb + i * C, C, values[i][j], LIGHT_BLUE, font=10)
            else:
                svg.cell(xb + j * C, yb + i * C, C, "−inf", LIGHT_GREY, color=RED, font=10)
    svg.text(xb + 2.5 * C, yb + 2 * C + 22, "e = q·k / √d_k, masked keys → −inf", size=12, anchor="middle")
    svg.arrow(xb + 2.5 * C, yb + 2 * C + 32, xb + 2.5 * C, yb + 2 * C + 62)
    yw = yb + 2 * C + 70
    weights = [["0.71", "0.29"], ["0.08", "0.92"]]
    for i in range(2):
        for j in range(5):
            label = weights[i][j] if j < 2 else "0"
            svg.cell(xb + j * C, yw + i * C, C, label, LIGHT_GREEN if j < 2 else "white", font=10,
                     color="black" if j < 2 else RED)
    svg.text(xb + 2.5 * C, yw + 2 * C + 22, "a = softmax(e): each row sums to 1 over real keys", size=12,
             anchor="middle")
    svg.text(xb + 2.5 * C, yw + 2 * C + 40, "a row with every key masked → all zeros (not NaN)", size=12,
             anchor="middle", color=GREY)

    # Panel C: the causal mask.
    svg.text(700, 70, "C. Causal mask for self-attention (n = 5)", weight="bold")
    xc, yc = 760, 120
    for j in range(5):
        svg.text(xc + j * C + C / 2, yc - 8, f"k{j}", color=GREY, size=12, anchor="middle")
    for i in range(5):
        svg.text(xc - 10, yc + i * C + 20, f"q{i}", color=GREY, size=12, anchor="end")
        for j in range(5):
            allowed = j <= i
            svg.cell(xc + j * C, yc + i * C, C, "T" if allowed else "F", LIGHT_GREEN if allowed else "white",
                     color=GREEN if allowed else RED)
    svg.rect(xc, yc, 5 * C, 5 * C, BLUE, fill="none", width=2)
    svg.text(xc + 2.5 * C, yc + 5 * C + 22, "causal_mask(5): lower triangle WITH the diagonal", size=12,
             anchor="middle")
    svg.text(xc + 2.5 * C, yc + 5 * C + 40, "query i sees keys j ≤ i: itself and the past", size=12,
             anchor="middle", color=GREY)
    svg.text(xc + 2.5 * C, yc + 5 * C + 58, "padding and causal masks combine with AND", size=12,
             anchor="middle", color=GREY)
    svg.text(20, 415, "Rows are queries (what is computed), columns are keys (what may be read). A mask masks columns "
             "for padding, the upper triangle for the future.", size=13, color=GREY)
    svg.write("05_masks.svg")


# ------------------------------------------------------------------ 05_self_vs_cross_attention.svg
def self_vs_cross() -> None:
    svg = Svg(1000, 520, "Where do queries, keys and values come from? Self-attention vs cross-attention")

    def block(x, y, w, h, color, fill, label, sub):
        svg.rect(x, y, w, h, color, fill, rx=6, width=2)
        svg.text(x + w / 2, y + h / 2 - 2, label, color=color, anchor="middle", weight="bold")
        svg.text(x + w / 2, y + h / 2 + 15, sub, color=GREY, size=11, anchor="middle")

    def attention_core(x, y, n_q, n_k):
        svg.rect(x, y, 230, 120, GREEN, LIGHT_GREEN, rx=8, width=2)
        svg.text(x + 115, y + 24, "scaled dot-product attention", color=GREEN, anchor="middle", weight="bold")
        svg.text(x + 115, y + 48, f"scores Q Kᵀ / √d_k: ({n_q}, {n_k})", size=12, anchor="middle")
        svg.text(x + 115, y + 68, f"weights softmax, masked: ({n_q}, {n_k})", size=12, anchor="middle")
        svg.text(x + 115, y + 88, f"output weights · V: ({n_q}, d_v)", size=12, anchor="middle")
        svg.text(x + 115, y + 108, "(batch axis first in the code)", size=11, color=GREY, anchor="middle")

    # Left: self-attention.
    svg.text(30, 70, "Self-attention: Q, K, V from ONE sequence", weight="bold")
    block(60, 400, 300, 56, BLUE, LIGHT_BLUE, "X: one sequence", "(n, d_model), e.g. the characters of a word")
    for k, (name, sub) in enumerate((("Q = X W_Q", "(n, d_k)"), ("K = X W_K", "(n, d_k)"), ("V = X W_V", "(n, d_v)"))):
        x = 60 + k * 105
        block(x, 280, 90, 50, BLUE, "white", name, sub)
        svg.arrow(x + 45, 400, x + 45, 332, "blue")
        svg.arrow(x + 45, 280, 95 + k * 55 + 25, 232, "blue")
    attention_core(95, 110, "n", "n")
    svg.text(210, 480, "every position asks every position (a causal mask", size=12, anchor="middle", color=GREY)
    svg.text(210, 497, "hides the later ones); scores are square: (n, n)", size=12, anchor="middle", color=GREY)

    # Right: cross-attention in seq2seq.
    svg.text(530, 70, "Cross-attention: Q from the decoder, K and V from the encoder", weight="bold")
    block(540, 400, 190, 56, ORANGE, LIGHT_ORANGE, "decoder states s_t", "(T, H)")
    block(760, 400, 210, 56, BLUE, LIGHT_BLUE, "encoder states h_j", "(S, H)")
    block(540, 280, 130, 50, ORANGE, "white", "Q = s_t (W_Q)", "(T, d_k)")
    block(730, 280, 110, 50, BLUE, "white", "K = h_j (W_K)", "(S, d_k)")
    block(860, 280, 110, 50, BLUE, "white", "V = h_j (W_V)", "(S, d_v)")
    svg.arrow(605, 400, 605, 332, "orange")
    svg.arrow(800, 400, 785, 332, "blue")
    svg.arrow(900, 400, 915, 332, "blue")
    svg.arrow(605, 280, 660, 232, "orange")
    svg.arrow(785, 280, 750, 232, "blue")
    svg.arrow(915, 280, 800, 232, "blue")
    attention_core(620, 110, "T", "S")
    svg.text(755, 480, "chapter 03's model: K = V = h_j, no projections; the mask", size=12, anchor="middle",
             color=GREY)
    svg.text(755, 497, "hides source padding; scores are (T, S), one row per output step", size=12,
             anchor="middle", color=GREY)
    svg.parts.append(f'<line x1="500" y1="60" x2="500" y2="500" stroke="{LIGHT_GREY}" stroke-width="2"/>')
    svg.write("05_self_vs_cross_attention.svg")


if __name__ == "__main__":
    masks()
    self_vs_cross()
