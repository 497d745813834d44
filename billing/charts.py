"""Server-rendered SVG charts for the billing pages: no JavaScript, no CDN.

Each function returns SVG markup (a ``SafeString``) with a title, axis labels and a legend.
Every label is escaped here, because the markup goes into pages with ``|safe`` semantics.

The chart is laid out for a fixed size in CSS pixels (``width``/``height`` equal the viewBox),
so its text stays at 12 px on a phone and on a desktop instead of scaling with the page; a
narrow screen scrolls the chart inside its ``.chart-scroll`` box (issue 13 §3). Colours come from
classes that portal.css maps to Bootstrap's variables, so the chart follows the dark mode; the
attributes are the light fallback.
"""

from decimal import Decimal
from html import escape

from django.utils.safestring import mark_safe

PALETTE = ["#0f4c81", "#e07a1f", "#2a9d8f", "#b5446e", "#6a4c93", "#8ab17d", "#d1495b", "#3d5a80", "#9c6644", "#5e6472"]

WIDTH, HEIGHT = 760, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 16, 52
LEGEND_ROW = 20
FONT_SIZE = 12
# A generous average glyph width of the 12 px system font, to reserve room for a label.
CHAR_WIDTH = 7.5


def _e(text):
    return escape(str(text), quote=True)


def nice_ceiling(value):
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above ``value`` (a readable axis maximum)."""
    value = Decimal(value)
    if value <= 0:
        return Decimal(1)
    exponent = value.adjusted()
    for step in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)):
        candidate = step.scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)


def _tick_label(value):
    value = Decimal(value).normalize()
    return f"{value:f}" if value == value.to_integral() else f"{value.quantize(Decimal('0.01')):f}"


def _tick_values(y_min, y_max, ticks):
    return [y_min + (y_max - y_min) * n / ticks for n in range(ticks + 1)]


def _margin_left(y_min, y_max, ticks=4):
    """Room for the y axis title and the longest tick value, so no value is cut at the left."""
    longest = max(len(_tick_label(value)) for value in _tick_values(y_min, y_max, ticks))
    return max(MARGIN_LEFT, round(28 + 6 + longest * CHAR_WIDTH))


def _frame(*, title, x_label, y_label, y_max, legend, left, y_min=Decimal(0), ticks=4):
    """The chart's frame: y gridlines with values, axis titles and the legend rows."""
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    parts = []
    for n, value in enumerate(_tick_values(y_min, y_max, ticks)):
        y = MARGIN_TOP + plot_h - plot_h * n / ticks
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y:.1f}" '
            f'stroke="#dee2e6" stroke-width="1" class="chart-grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="{FONT_SIZE}" fill="#6c757d" '
            f'class="chart-tick">{_e(_tick_label(value))}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{MARGIN_TOP + plot_h}" x2="{WIDTH - MARGIN_RIGHT}" y2="{MARGIN_TOP + plot_h}" '
        f'stroke="#adb5bd" class="chart-axis"/>'
        f'<text x="{(left + WIDTH - MARGIN_RIGHT) / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="{FONT_SIZE}" fill="#495057" class="chart-title">{_e(x_label)}</text>'
        f'<text transform="translate(16 {MARGIN_TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'font-size="{FONT_SIZE}" fill="#495057" class="chart-title">{_e(y_label)}</text>'
    )
    legend_parts = []
    for n, (name, color) in enumerate(legend):
        y = HEIGHT + 8 + n * LEGEND_ROW
        legend_parts.append(
            f'<rect x="{left}" y="{y}" width="12" height="12" rx="2" fill="{color}"/>'
            f'<text x="{left + 18}" y="{y + 10}" font-size="{FONT_SIZE}" fill="#212529" class="chart-legend">'
            f"{_e(name)}</text>"
        )
    total_height = HEIGHT + (len(legend) * LEGEND_ROW + 12 if legend else 0)
    # A legend name longer than the plot widens the chart rather than being cut.
    longest_name = max((len(str(name)) for name, _color in legend), default=0)
    width = max(WIDTH, round(left + 18 + longest_name * CHAR_WIDTH + MARGIN_RIGHT))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_height}" '
        f'width="{width}" height="{total_height}" role="img" aria-label="{_e(title)}" class="billing-chart" '
        f'font-family="system-ui, sans-serif">'
        f"<title>{_e(title)}</title>"
    )
    return head, "".join(parts), "".join(legend_parts)


def _empty(title, message):
    # Nothing to draw: a sentence reads better than empty axes.
    return mark_safe(
        f'<p class="billing-chart-empty text-body-secondary text-center py-4 mb-0" role="img" '
        f'aria-label="{_e(title)}">{_e(message)}</p>'
    )


def bar_chart(*, categories, series, title, x_label, y_label, empty_message="No data"):
    """Stacked bars: one bar per category (e.g. a day), one coloured segment per series
    (``[(name, [value per category])]``). Category labels are thinned to stay readable."""
    totals = [sum((Decimal(s[1][i]) for s in series), Decimal(0)) for i in range(len(categories))]
    if not categories or not series or max(totals, default=0) <= 0:
        return _empty(title, empty_message)
    y_max = nice_ceiling(max(totals))
    left = _margin_left(Decimal(0), y_max)
    plot_w = WIDTH - left - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_w / len(categories)
    bar_w = max(slot * 0.7, 1)
    legend = [(name, PALETTE[n % len(PALETTE)]) for n, (name, _values) in enumerate(series)]
    head, frame, legend_svg = _frame(
        title=title, x_label=x_label, y_label=y_label, y_max=y_max, legend=legend, left=left
    )
    bars, labels = [], []
    # Every n-th category is labelled, so neighbouring labels never touch.
    longest = max(len(str(category)) for category in categories)
    every = max(1, -(-round(longest * CHAR_WIDTH + 8) // max(int(slot), 1)))
    for i, category in enumerate(categories):
        x = left + slot * i + (slot - bar_w) / 2
        base = MARGIN_TOP + plot_h
        for n, (name, values) in enumerate(series):
            value = Decimal(values[i])
            if value <= 0:
                continue
            h = float(value / y_max) * plot_h
            base -= h
            bars.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{legend[n][1]}">'
                f"<title>{_e(name)} · {_e(category)}: {_e(_tick_label(value))}</title></rect>"
            )
        if i % every == 0:
            labels.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{MARGIN_TOP + plot_h + 16}" text-anchor="middle" '
                f'font-size="{FONT_SIZE}" fill="#6c757d" class="chart-tick">{_e(category)}</text>'
            )
    return mark_safe(head + frame + "".join(bars) + "".join(labels) + legend_svg + "</svg>")


def line_chart(*, series, title, x_label, y_label, empty_message="No data"):
    """Step lines over dates: ``series`` is ``[(name, [(date, value)])]`` (each sorted by
    date); a balance holds its value until the next point, so the line is drawn as steps."""
    points = [p for _name, pts in series for p in pts]
    if not points:
        return _empty(title, empty_message)
    first = min(day for day, _v in points)
    last = max(day for day, _v in points)
    span = max((last - first).days, 1)
    low = min(Decimal(0), min(Decimal(v) for _d, v in points))
    high = nice_ceiling(max(Decimal(v) for _d, v in points))
    left = _margin_left(low, high)
    plot_w = WIDTH - left - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    y_range = high - low if high > low else Decimal(1)

    def xy(day, value):
        x = left + plot_w * (day - first).days / span
        y = MARGIN_TOP + plot_h - float((Decimal(value) - low) / y_range) * plot_h
        return x, y

    legend = [(name, PALETTE[n % len(PALETTE)]) for n, (name, _pts) in enumerate(series)]
    head, frame, legend_svg = _frame(
        title=title, x_label=x_label, y_label=y_label, y_max=high, y_min=low, legend=legend, left=left
    )
    if low < 0:
        # A negative balance: mark where zero is.
        _x0, zero_y = xy(first, 0)
        frame += (
            f'<line x1="{left}" y1="{zero_y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{zero_y:.1f}" stroke="#adb5bd" '
            f'stroke-dasharray="4 3" class="chart-axis"/>'
        )
    lines = []
    for n, (name, pts) in enumerate(series):
        path, previous_y = [], None
        for day, value in pts:
            x, y = xy(day, value)
            if previous_y is None:
                path.append(f"M{x:.1f},{y:.1f}")
            else:
                path.append(f"H{x:.1f}V{y:.1f}")
            previous_y = y
        path.append(f"H{left + plot_w:.1f}")
        lines.append(
            f'<path d="{"".join(path)}" fill="none" stroke="{legend[n][1]}" stroke-width="2">'
            f"<title>{_e(name)}</title></path>"
        )
    axis = []
    for fraction in (0, 0.25, 0.5, 0.75, 1) if last > first else (0,):
        day = first + (last - first) * fraction
        x = left + plot_w * fraction
        # The first date starts at the axis and the last ends at it: neither is cut by the edge.
        anchor = "start" if fraction == 0 else "end" if fraction == 1 else "middle"
        axis.append(
            f'<text x="{x:.1f}" y="{MARGIN_TOP + plot_h + 16}" text-anchor="{anchor}" font-size="{FONT_SIZE}" '
            f'fill="#6c757d" class="chart-tick">{_e(day.isoformat())}</text>'
        )
    return mark_safe(head + frame + "".join(lines) + "".join(axis) + legend_svg + "</svg>")
