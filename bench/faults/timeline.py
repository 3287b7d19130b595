"""Incident pictures of the fault benchmark: one SVG per phase, built as a string (no libraries).

Per 100 ms bucket (by the moment an answer arrived): stacked bars of the answers by class (2xx, 4xx,
each 503 kind, 500, other = client timeout, connection error or any other status), a line for the
slowest answer of the bucket on a second axis, a band where readiness answered DOWN (503) or did not
answer within its probe timeout, vertical markers for the fault's start and end (and the phase's
other moments), a legend, the phase's name and the date.
"""
import math
from xml.sax.saxutils import escape

BUCKET = 0.1  # seconds

FIXED_COLORS = {"2xx": "#43a047", "4xx": "#90a4ae", "500": "#d50000", "other": "#212121"}
KIND_COLORS = {  # the service's 503 kinds (FailureKind), each its own colour in every picture
    "pool-exhausted": "#fb8c00", "lock-not-available": "#8e24aa", "request-deadline-exceeded": "#6d4c41",
    "circuit-open": "#e53935", "database-unavailable": "#fdd835", "database-read-only": "#00897b",
    "database-auth-failed": "#d81b60", "database-permission-denied": "#ad1457", "database-connection-limit": "#9e9d24", "deadlock": "#f48fb1",
    "serialization-failure": "#ce93d8", "rollback-failed": "#4e342e", "database-resources": "#00acc1",
    "statement-cancelled": "#546e7a",
}
SPARE_COLORS = ["#1e88e5", "#7cb342", "#ff7043", "#5c6bc0", "#26a69a", "#bcaaa4"]
LINE_COLOR = "#1a237e"
DOWN_COLOR = "#e53935"
SILENT_COLOR = "#757575"
UP_COLOR = "#66bb6a"

WIDTH = 1200
LEFT, RIGHT, TOP = 72, 84, 128
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = 300
STRIP_H = 9  # the readiness strip above the plot


def answer_class(status, kind):
    """The class an answer is counted in: 2xx, 4xx, `503 <kind>`, 500 or other."""
    if status is None:
        return "other"
    if 200 <= status < 300:
        return "2xx"
    if 400 <= status < 500:
        return "4xx"
    if status == 503:
        return f"503 {kind or 'no kind'}"
    if status == 500:
        return "500"
    return "other"


def _order(cls):
    """Stacking order, bottom up: successes, client errors, the 503 kinds, 500, other."""
    if cls == "2xx":
        return (0, cls)
    if cls == "4xx":
        return (1, cls)
    if cls.startswith("503"):
        return (2, cls)
    return (3, cls) if cls == "500" else (4, cls)


def _colors(classes):
    colors, spare = {}, iter(SPARE_COLORS * 4)
    for cls in classes:
        if cls in FIXED_COLORS:
            colors[cls] = FIXED_COLORS[cls]
        else:
            colors[cls] = KIND_COLORS.get(cls[4:]) or next(spare)
    return colors


def nice_step(span, ticks=5):
    """A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks over span."""
    raw = max(span, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _fmt(value):
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def render(title, subtitle, date, start, end, answers, readiness, markers):
    """The SVG text of one phase.

    start, end: monotonic seconds the picture spans; answers: (finished, elapsed, cls) of every HTTP
    answer; readiness: (sent, status) of every readiness probe (200 UP, 503 DOWN, None: no answer);
    markers: (moment, label) of the fault's start and end and other moments of the phase.
    """
    duration = max(end - start, BUCKET)
    n = max(1, math.ceil(duration / BUCKET))
    counts = [dict() for _ in range(n)]
    slowest = [None] * n
    totals = {}
    for finished, elapsed, cls in answers:
        i = int((finished - start) / BUCKET)
        if 0 <= i < n:
            counts[i][cls] = counts[i].get(cls, 0) + 1
            totals[cls] = totals.get(cls, 0) + 1
            slowest[i] = elapsed if slowest[i] is None else max(slowest[i], elapsed)
    classes = sorted(totals, key=_order)
    colors = _colors(classes)

    y_step = nice_step(max([sum(c.values()) for c in counts] + [1]), 5)
    y_max = y_step * math.ceil(max([sum(c.values()) for c in counts] + [1]) / y_step)
    s_step = nice_step(max([s for s in slowest if s is not None] + [0.5]), 5)
    s_max = s_step * math.ceil(max([s for s in slowest if s is not None] + [0.5]) / s_step)
    bar_w = PLOT_W / n

    def x(t):
        return LEFT + (t - start) / duration * PLOT_W

    def y(count):
        return TOP + PLOT_H - count / y_max * PLOT_H

    def y2(seconds):
        return TOP + PLOT_H - seconds / s_max * PLOT_H

    parts = []
    add = parts.append
    # -- readiness: a band over the plot and a strip above it, one interval per probe -----------------
    intervals = _readiness_intervals(readiness, start, end)
    add('<g class="readiness">')
    for a, b, status in intervals:
        x0, x1 = max(LEFT, x(a)), min(LEFT + PLOT_W, x(b))
        if x1 <= x0:
            continue
        color = UP_COLOR if status == 200 else DOWN_COLOR if status == 503 else SILENT_COLOR
        if status != 200:
            add(f'<rect x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" height="{PLOT_H}" fill="{color}" '
                f'fill-opacity="{0.13 if status == 503 else 0.22}"/>')
        add(f'<rect x="{x0:.1f}" y="{TOP - STRIP_H - 3}" width="{x1 - x0:.1f}" height="{STRIP_H}" fill="{color}"/>')
    add('</g>')
    add(f'<text x="{LEFT - 6}" y="{TOP - 4}" text-anchor="end" class="small">ready</text>')
    # -- grid and axes ---------------------------------------------------------------------------------
    add('<g class="grid">')
    tick = 0.0
    while tick <= y_max + 1e-9:
        add(f'<line x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e0e0e0"/>')
        add(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
        tick += y_step
    tick = 0.0
    while tick <= s_max + 1e-9:
        add(f'<line x1="{LEFT + PLOT_W}" x2="{LEFT + PLOT_W + 5}" y1="{y2(tick):.1f}" y2="{y2(tick):.1f}" '
            f'stroke="{LINE_COLOR}"/>')
        add(f'<text x="{LEFT + PLOT_W + 8}" y="{y2(tick) + 4:.1f}" fill="{LINE_COLOR}">{_fmt(tick)}</text>')
        tick += s_step
    t_step = nice_step(duration, 10)
    tick = 0.0
    while tick <= duration + 1e-9:
        add(f'<line x1="{x(start + tick):.1f}" x2="{x(start + tick):.1f}" y1="{TOP + PLOT_H}" '
            f'y2="{TOP + PLOT_H + 5}" stroke="#616161"/>')
        add(f'<text x="{x(start + tick):.1f}" y="{TOP + PLOT_H + 18}" text-anchor="middle">{_fmt(tick)}</text>')
        tick += t_step
    add('</g>')
    # -- stacked bars ----------------------------------------------------------------------------------
    add('<g class="bars" shape-rendering="crispEdges">')
    for i, bucket in enumerate(counts):
        base = 0
        bx = LEFT + i * bar_w
        for cls in classes:
            count = bucket.get(cls)
            if count:
                add(f'<rect x="{bx:.2f}" y="{y(base + count):.1f}" width="{max(bar_w, 0.6):.2f}" '
                    f'height="{y(base) - y(base + count):.1f}" fill="{colors[cls]}"/>')
                base += count
    add('</g>')
    # -- the slowest answer per bucket, on the right axis (a gap where a bucket had no answer) ---------
    segments, current = [], []
    for i, s in enumerate(slowest):
        if s is None:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(f"{LEFT + (i + 0.5) * bar_w:.1f},{y2(min(s, s_max)):.1f}")
    if current:
        segments.append(current)
    add(f'<g fill="none" stroke="{LINE_COLOR}" stroke-width="1.3" stroke-linejoin="round">')
    for segment in segments:
        if len(segment) == 1:
            cx, cy = segment[0].split(",")
            add(f'<circle cx="{cx}" cy="{cy}" r="1.5" fill="{LINE_COLOR}"/>')
        else:
            add(f'<polyline points="{" ".join(segment)}"/>')
    add('</g>')
    # -- frame, axis titles ----------------------------------------------------------------------------
    add(f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="#616161"/>')
    add(f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H + 36}" text-anchor="middle">'
        f"seconds since the phase's load started (bars: answers per {int(BUCKET * 1000)} ms bucket, "
        "by arrival)</text>")
    add(f'<text transform="translate({LEFT - 48},{TOP + PLOT_H / 2}) rotate(-90)" text-anchor="middle">'
        f'answers per {int(BUCKET * 1000)} ms</text>')
    add(f'<text transform="translate({LEFT + PLOT_W + 60},{TOP + PLOT_H / 2}) rotate(90)" text-anchor="middle" '
        f'fill="{LINE_COLOR}">slowest answer in the bucket (s)</text>')
    # -- markers: vertical lines, labels staggered on rows above the readiness strip -------------------
    merged = []  # moments within 50 ms of each other share one line: "fault start / password changed"
    for moment, label in sorted(m for m in markers if m[0] is not None):
        if merged and moment - merged[-1][0] < 0.05:
            if label not in merged[-1][1]:
                merged[-1] = (merged[-1][0], f"{merged[-1][1]} / {label}")
        else:
            merged.append((moment, label))
    rows_end = [-1e9, -1e9, -1e9]
    add('<g class="markers">')
    for moment, label in merged:
        mx = x(moment)
        if not LEFT - 1 <= mx <= LEFT + PLOT_W + 1:
            continue
        width = 6.2 * len(label) + 10
        row = next((r for r, edge in enumerate(rows_end) if mx - 3 > edge), len(rows_end) - 1)
        rows_end[row] = mx + width
        label_y = TOP - STRIP_H - 8 - 13 * row
        add(f'<line x1="{mx:.1f}" x2="{mx:.1f}" y1="{label_y + 3:.1f}" y2="{TOP + PLOT_H}" stroke="#000" '
            f'stroke-width="1.2" stroke-dasharray="5,3"/>')
        add(f'<text x="{mx + 3:.1f}" y="{label_y:.1f}" class="marker">{escape(label)}</text>')
    add('</g>')
    # -- legend ----------------------------------------------------------------------------------------
    entries = [("rect", colors[cls], f"{cls} ({totals[cls]})") for cls in classes]
    entries.append(("line", LINE_COLOR, "slowest answer (right axis)"))
    states = {status for _, _, status in intervals}
    entries += [("rect", UP_COLOR, "readiness UP (strip)")] if 200 in states else []
    entries += [("band", DOWN_COLOR, "readiness DOWN (503)")] if 503 in states else []
    entries += [("band", SILENT_COLOR, "readiness: no answer within 3 s")] if states - {200, 503} else []
    entries.append(("marker", "#000", "fault start / end, other moments"))
    legend_y = TOP + PLOT_H + 58
    lx, ly = LEFT, legend_y
    add('<g class="legend">')
    for shape, color, label in entries:
        width = 26 + 6.6 * len(label) + 18
        if lx + width > LEFT + PLOT_W:
            lx, ly = LEFT, ly + 20
        if shape == "rect":
            add(f'<rect x="{lx}" y="{ly - 10}" width="14" height="12" fill="{color}"/>')
        elif shape == "band":
            add(f'<rect x="{lx}" y="{ly - 10}" width="14" height="12" fill="{color}" fill-opacity="0.3" '
                f'stroke="{color}"/>')
        elif shape == "line":
            add(f'<line x1="{lx}" x2="{lx + 14}" y1="{ly - 4}" y2="{ly - 4}" stroke="{color}" stroke-width="2"/>')
        else:
            add(f'<line x1="{lx + 7}" x2="{lx + 7}" y1="{ly - 12}" y2="{ly + 3}" stroke="{color}" '
                f'stroke-dasharray="4,2" stroke-width="1.2"/>')
        add(f'<text x="{lx + 20}" y="{ly}">{escape(label)}</text>')
        lx += width
    add('</g>')
    height = ly + 22

    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">\n'
            '<style>text{fill:#212121} .title{font-size:17px;font-weight:bold} .sub{font-size:12px;fill:#424242} '
            '.small{font-size:9px} .marker{font-size:10.5px;font-weight:bold}</style>\n'
            f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>\n'
            f'<text x="{LEFT}" y="24" class="title">{escape(title)}</text>\n'
            + "".join(f'<text x="{LEFT}" y="{42 + 15 * i}" class="sub">{escape(line)}</text>\n'
                      for i, line in enumerate(_wrap(subtitle, 160, 3)))
            +
            f'<text x="{WIDTH - RIGHT + 60}" y="24" text-anchor="end" class="sub">{escape(date)}</text>\n')
    return head + "\n".join(parts) + "\n</svg>\n"


def _wrap(text, width, lines):
    """At most `lines` lines of at most about `width` characters, cut at spaces; an ellipsis when cut short."""
    out, words = [], text.split()
    while words and len(out) < lines:
        line = words.pop(0)
        while words and len(line) + 1 + len(words[0]) <= width:
            line += " " + words.pop(0)
        out.append(line)
    if words:
        out[-1] = out[-1][:width - 1] + "…"
    return out


def _readiness_intervals(readiness, start, end):
    """(from, to, status) per readiness probe, each lasting until the next was sent; equal neighbours merged."""
    samples = sorted((sent, status) for sent, status in readiness if start - 1 <= sent <= end)
    intervals = []
    for i, (sent, status) in enumerate(samples):
        until = samples[i + 1][0] if i + 1 < len(samples) else min(end, sent + 0.25)
        if intervals and intervals[-1][2] == status and abs(intervals[-1][1] - sent) < 1e-6:
            intervals[-1] = (intervals[-1][0], until, status)
        else:
            intervals.append((max(sent, start), until, status))
    return intervals
