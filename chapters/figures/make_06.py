"""Write chapters/figures/06_bidirectional_encoder.svg, the diagram of chapter 06.

Run from the repository root: ``python chapters/figures/make_06.py``. Plain text SVG, no
dependencies, so the figure renders in JupyterLab and on GitHub and can be edited here.
"""
from pathlib import Path

FORWARD, BACKWARD, BOTH, GREY = "#4c72b0", "#dd8452", "#55a868", "#666666"
WIDTH, HEIGHT = 960, 640
LETTERS = ["c", "i", "t", "e"]
X0, DX, BOX = 210, 100, 64  # left edge of the first column, column spacing, box width

parts = [
    (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
    f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="14">'),
    "<defs>",
    *(f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
      f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
      for name, color in (("f", FORWARD), ("b", BACKWARD), ("g", GREY), ("c", BOTH))),
    "</defs>",
    f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
    ('<text x="20" y="30" font-size="18" font-weight="bold">A bidirectional encoder: every state sees the '
    "letters before it and after it</text>"),
]


def box(x, y, w, h, color, label, sub=None, fill="white"):
    parts.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="{color}" '
                 'stroke-width="2"/>')
    parts.append(f'<text x="{x + w / 2}" y="{y + (h / 2 if sub is None else h / 2 - 4)}" text-anchor="middle" '
                 f'dominant-baseline="middle" fill="{color}">{label}</text>')
    if sub is not None:
        parts.append(f'<text x="{x + w / 2}" y="{y + h / 2 + 13}" text-anchor="middle" font-size="11" '
                     f'fill="{GREY}">{sub}</text>')


def arrow(x1, y1, x2, y2, kind, dashed=False):
    color = {"f": FORWARD, "b": BACKWARD, "g": GREY, "c": BOTH}[kind]
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    parts.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="1.8"{dash} '
                 f'marker-end="url(#arrow-{kind})"/>')


def text(x, y, content, color="black", size=14, anchor="start", weight="normal"):
    parts.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
                 f'font-weight="{weight}">{content}</text>')


Y_X, Y_F, Y_B, Y_H = 470, 375, 265, 130  # rows: inputs, forward states, backward states, concatenation
T = len(LETTERS)


def polyline(points, kind, dashed=False):
    color = {"f": FORWARD, "b": BACKWARD, "g": GREY, "c": BOTH}[kind]
    dash = ' stroke-dasharray="5,4"' if dashed else ""
    path = " ".join(f"{x},{y}" for x, y in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.6"{dash} '
                 f'marker-end="url(#arrow-{kind})"/>')


# row labels in the left margin
for y, color, first, second in (
    (Y_H + 26, BOTH, "h_j = [→h_j ; ←h_j]", "(2H): concatenated"),
    (Y_B + 18, BACKWARD, "backward RNN: ←h_j", "(H): has read x_j .. x_T"),
    (Y_F + 18, FORWARD, "forward RNN: →h_j", "(H): has read x_1 .. x_j"),
    (Y_X + 18, GREY, "inputs: embedded", "letters x_j (E)"),
):
    text(20, y, first, color, size=13, weight="bold")
    text(20, y + 18, second, color, size=12)

for j, letter in enumerate(LETTERS, start=1):
    x = X0 + (j - 1) * DX
    cx = x + BOX / 2
    box(x, Y_X, BOX, 44, GREY, f"x{j} = '{letter}'")
    # shaded: each direction's last state (forward ends at x_T, backward at x_1), the bridge's input
    box(x, Y_F, BOX, 44, FORWARD, f"→h{j}", fill="#dde6f3" if j == T else "white")
    box(x, Y_B, BOX, 44, BACKWARD, f"←h{j}", fill="#fbe3d4" if j == 1 else "white")
    # the concatenation: forward half on top, backward half below
    parts.append(f'<rect x="{x}" y="{Y_H}" width="{BOX}" height="30" fill="white" stroke="{FORWARD}" stroke-width="2"/>')
    parts.append(f'<rect x="{x}" y="{Y_H + 30}" width="{BOX}" height="30" fill="white" stroke="{BACKWARD}" '
                 'stroke-width="2"/>')
    text(cx, Y_H + 20, f"→h{j}", FORWARD, anchor="middle")
    text(cx, Y_H + 50, f"←h{j}", BACKWARD, anchor="middle")
    text(cx, Y_H - 10, f"h{j}", BOTH, anchor="middle", weight="bold")
    # the input feeds both directions: straight up into the forward state, and up the gap on
    # the right of the forward box into the backward state
    arrow(cx, Y_X, cx, Y_F + 46, "f")
    polyline([(x + BOX - 10, Y_X), (x + BOX - 10, Y_X - 14), (x + BOX + 12, Y_X - 14),
              (x + BOX + 12, Y_B + 60), (x + BOX - 10, Y_B + 60), (x + BOX - 10, Y_B + 46)], "b")
    # both states go up into the concatenation: the backward one straight, the forward one
    # up the gap on the left of the backward box
    arrow(cx, Y_B, cx, Y_H + 62, "b", dashed=True)
    polyline([(x + 10, Y_F), (x + 10, Y_F - 14), (x - 12, Y_F - 14), (x - 12, Y_H + 74),
              (x + 10, Y_H + 74), (x + 10, Y_H + 62)], "f", dashed=True)
    if j < T:  # recurrences: forward left to right, backward right to left
        arrow(x + BOX, Y_F + 22, x + DX - 2, Y_F + 22, "f")
        arrow(x + DX, Y_B + 22, x + BOX + 2, Y_B + 22, "b")

# initial states
x_end = X0 + (T - 1) * DX + BOX
text(X0 - 16, Y_F + 64, "→h0 = 0", FORWARD, size=12)
text(x_end + 6, Y_B + 50, f"←h{T + 1} = 0", BACKWARD, size=12)

# the memory the attention reads
mx = X0 + T * DX + 10
text(mx, Y_H + 14, "all states = the memory", BOTH, weight="bold")
text(mx, Y_H + 34, "hs (batch, src_len, 2H)", BOTH)
text(mx, Y_H + 52, "what attention reads (keys, values)", GREY, size=12)

# the bridge
bx, by = 640, 255
parts.append(f'<rect x="{bx}" y="{by}" width="300" height="256" rx="8" fill="#f7f7f7" stroke="{GREY}"/>')
text(bx + 12, by + 24, "The bridge: the decoder's first state", weight="bold")
text(bx + 12, by + 46, "s0 (H_dec), from each direction's last state:", GREY, size=12)
text(bx + 12, by + 64, f"the shaded →h{T} = →h_T and ←h1; each has", GREY, size=12)
text(bx + 12, by + 80, "read the whole source", GREY, size=12)
rows = [
    ("linear", "s0 = tanh(W [→h_T ; ←h1] + b)", "W: (H_dec, 2H); (2H+1)·H_dec parameters"),
    ("sum", "s0 = →h_T + ←h1", "no weights; needs H = H_dec"),
    ("backward", "s0 = ←h1", "no weights; needs H = H_dec"),
    ("zeros", "s0 = 0", "no weights; attention alone"),
]
for k, (name, formula, cost) in enumerate(rows):
    y = by + 106 + 36 * k
    text(bx + 12, y, name, BOTH, weight="bold", size=13)
    text(bx + 86, y, formula, size=13)
    text(bx + 86, y + 15, cost, GREY, size=11)
# padding: reverse within the length
py = 565
text(20, py, "Padding: the backward RNN reads each row reversed within its length", weight="bold")
text(20, py + 24, "batch row:", GREY, size=13)
text(120, py + 24, "c  i  t  e  &lt;pad&gt;  &lt;pad&gt;", size=13)
text(20, py + 46, "right:", FORWARD, size=13)
text(120, py + 46, "e  t  i  c  &lt;pad&gt;  &lt;pad&gt;   (reverse_within_lengths)", size=13)
text(20, py + 68, "wrong:", "#c44e52", size=13)
text(120, py + 68, "&lt;pad&gt;  &lt;pad&gt;  e  t  i  c   (x[:, ::-1]: reads the pads first)", "#c44e52", size=13)
parts.append("</svg>")

out = Path(__file__).with_name("06_bidirectional_encoder.svg")
out.write_text("\n".join(parts) + "\n", encoding="utf-8")
print(f"wrote {out}")
