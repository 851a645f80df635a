"""The report's charts, drawn by matplotlib as inline SVG (no JavaScript, no network).

Each function takes ``Stats`` and returns one ``<svg>`` element as text, or ``None`` when its
input is absent. Text stays text (``svg.fonttype: none``) so the file is small and searchable;
ids are seeded so the same figures give the same file.

Why matplotlib: the report is mailed and opened offline, so the charts must live in the file.
plotly would inline its ~4.6 MB ``plotly.min.js`` into every report and draw only once a script
runs; pygal's interactivity loads its script from a CDN. matplotlib is the most widely kept
Python plotting library, draws on the server, and its SVG is ~300 KB for the example report,
prints, and renders in any browser or mail client with scripts off.
"""

from __future__ import annotations

import io
import re

import numpy as np
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure

from classifier.stats.results import Stats

INK, MUTED, ACCENT, WARN = "#1f2937", "#6b7280", "#2563eb", "#dc2626"
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "feedtag",
    "font.family": ["DejaVu Sans", "sans-serif"],
    "font.size": 9,
    "axes.edgecolor": "#d1d5db",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}
PALETTE = [
    "#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899",
    "#84cc16", "#f97316", "#64748b", "#0ea5e9", "#a855f7", "#14b8a6", "#eab308",
]  # fmt: skip
SPECIAL_COLOURS = {"(none)": "#d1d5db", "(several)": "#9ca3af", "(unknown)": "#4b5563"}


def plain(text: str) -> str:
    """A label matplotlib draws literally (a ``$`` would start mathtext)."""
    return str(text).replace("$", r"\$")


def svg(figure: Figure) -> str:
    """The figure as one ``<svg>`` element (the XML prologue and doctype dropped)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context(STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.DOTALL)


def _figure(height: float = 3.0, width: float = 9.0) -> Figure:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(width, height), layout="constrained")


def _bars(ax, x, heights, bottom=None, width=0.8, **style) -> None:
    """Vertical bars as one PolyCollection: far faster to draw than one artist per bar."""
    from matplotlib.collections import PolyCollection

    heights = np.asarray(heights, dtype=float)
    bottom = np.zeros(len(heights)) if bottom is None else np.asarray(bottom, dtype=float)
    left, right, top = np.asarray(x) - width / 2, np.asarray(x) + width / 2, bottom + heights
    keep = heights > 0
    verts = np.stack(
        [
            np.column_stack([left, bottom]),
            np.column_stack([left, top]),
            np.column_stack([right, top]),
            np.column_stack([right, bottom]),
        ],
        axis=1,
    )[keep]
    ax.add_collection(PolyCollection(verts, **style))


def _week_ticks(ax, labels: list[str]) -> None:
    step = max(1, len(labels) // 14)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels([labels[i].split("-")[1] for i in range(0, len(labels), step)])


def weekly_load(stats: Stats) -> str:
    """Contacts per week (bars), messages (line), contacts per active user (right axis)."""
    import matplotlib

    labels = [w.week for w in stats.weeks]
    x = np.arange(len(labels))
    with matplotlib.rc_context(STYLE):
        fig = _figure()
        ax = fig.add_subplot()
        _bars(ax, x, [w.contacts for w in stats.weeks], facecolor=ACCENT, label="contacts")
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_ylim(
            0, max([w.contacts for w in stats.weeks] + [w.messages for w in stats.weeks]) * 1.1 + 1
        )
        ax.plot(x, [w.messages for w in stats.weeks], color=INK, marker=".", label="messages")
        ax.set_ylabel("per week")
        ax.set_title("Contacts and messages per week")
        _week_ticks(ax, labels)
        per_user = [w.contacts_per_active_user for w in stats.weeks]
        handles, names = ax.get_legend_handles_labels()
        if any(v is not None for v in per_user):
            right = ax.twinx()
            right.spines["right"].set_visible(True)
            values = [np.nan if v is None else v for v in per_user]
            right.plot(x, values, color="#f59e0b", marker="o", label="contacts per active user")
            right.set_ylim(bottom=0)
            right.set_ylabel("contacts per active user")
            more, more_names = right.get_legend_handles_labels()
            handles, names = handles + more, names + more_names
        fig.legend(handles, names, loc="outside lower center", ncol=3, frameon=False, fontsize=8)
        return svg(fig)


def hour_weekday(stats: Stats) -> str:
    """The 7 x 24 heatmap of contacts (mean per week in each cell's colour, totals written)."""
    import matplotlib

    from classifier.stats.render import WEEKDAYS

    table = np.array(stats.hour_weekday)
    with matplotlib.rc_context(STYLE):
        fig = _figure(3.0)
        ax = fig.add_subplot()
        cmap = LinearSegmentedColormap.from_list("load", ["#f8fafc", "#93c5fd", "#1e3a8a"])
        image = ax.imshow(np.array(stats.hour_weekday_mean), cmap=cmap, aspect="auto")
        ax.set_yticks(range(7), WEEKDAYS)
        ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
        top = table.max() or 1
        for (day, hour), count in np.ndenumerate(table):
            colour = "white" if count > 0.6 * top else INK
            ax.text(hour, day, str(count), ha="center", va="center", fontsize=6.5, color=colour)
        ax.set_title(
            f"Contacts by hour and weekday ({plain(stats.timezone)}); colour: mean per week"
        )
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, shrink=0.8, pad=0.01)
        return svg(fig)


def first_response(stats: Stats) -> str | None:
    """Median and 90th percentile of the time to first response per week, in hours."""
    import matplotlib

    if stats.first_response_by_team is None:
        return None
    labels = [w.week for w in stats.weeks]

    def hours(values):
        return [np.nan if v is None else v / 3600 for v in values]

    with matplotlib.rc_context(STYLE):
        fig = _figure(2.6)
        ax = fig.add_subplot()
        x = np.arange(len(labels))
        ax.plot(x, hours(w.first_response_median_s for w in stats.weeks), marker="o",
                color=ACCENT, label="median")  # fmt: skip
        ax.plot(x, hours(w.first_response_p90_s for w in stats.weeks), marker="o",
                color=WARN, label="90th percentile")  # fmt: skip
        ax.set_ylim(bottom=0)
        ax.set_ylabel("hours")
        ax.set_title("Time to first response per week")
        _week_ticks(ax, labels)
        ax.legend(frameon=False, fontsize=8)
        return svg(fig)


def cohorts(stats: Stats) -> str | None:
    """Share of each signup week's new users who contacted support within 7 days."""
    import matplotlib

    if stats.first_week is None or not stats.first_week.cohorts:
        return None
    rows = stats.first_week.cohorts
    with matplotlib.rc_context(STYLE):
        fig = _figure(2.6)
        ax = fig.add_subplot()
        x = np.arange(len(rows))
        shares = [0 if c.share is None else 100 * c.share for c in rows]
        ax.bar(x, shares, color="#10b981")
        for i, c in enumerate(rows):
            ax.text(i, shares[i] + 1, f"{c.contacted_first_week}/{c.new_users}", ha="center",
                    va="bottom", fontsize=7, color=MUTED)  # fmt: skip
        ax.set_xticks(x, [c.week.split("-")[1] for c in rows])
        ax.set_ylim(0, 110)
        ax.set_ylabel("% of new users")
        ax.set_title("New users contacting support in their first week, by signup week")
        return svg(fig)


def life_curve(stats: Stats) -> str | None:
    """Contacts per user by weeks since signup, over the users observed in each week."""
    import matplotlib

    from classifier.stats.render import life_label

    if stats.first_week is None or not stats.first_week.life:
        return None
    life = stats.first_week.life
    with matplotlib.rc_context(STYLE):
        fig = _figure(2.6)
        ax = fig.add_subplot()
        x = np.arange(len(life))
        ax.plot(x, [p.contacts_per_user or 0 for p in life], color="#8b5cf6", marker="o")
        ax.fill_between(x, [p.contacts_per_user or 0 for p in life], color="#8b5cf6", alpha=0.12)
        step = max(1, len(life) // 16)
        ax.set_xticks(x[::step], [life_label(p.weeks_since_signup) for p in life][::step])
        ax.set_xlabel("weeks since signup")
        ax.set_ylabel("contacts per user")
        ax.set_ylim(bottom=0)
        ax.set_title("Contacts over the life of a customer (cohort curve)")
        return svg(fig)


def trend(stats: Stats, axis: str) -> str | None:
    """Contacts per week stacked by tag on ``axis``; spikes outlined red and named above."""
    import matplotlib

    from classifier.stats.frame import SPECIAL

    rows = [t for t in stats.trends if t.axis == axis]
    if not rows:
        return None
    labels = [w.week for w in stats.weeks]
    position = {week: i for i, week in enumerate(labels)}
    tags = sorted({t.tag for t in rows}, key=lambda tag: (tag in SPECIAL, tag))
    counts = np.zeros((len(tags), len(labels)))
    spikes = []
    for t in rows:
        counts[tags.index(t.tag), position[t.week]] = t.contacts
        if t.spike:
            spikes.append((tags.index(t.tag), position[t.week]))
    with matplotlib.rc_context(STYLE):
        fig = _figure(3.4)
        ax = fig.add_subplot()
        x = np.arange(len(labels))
        bottom = np.zeros(len(labels))
        for i, tag in enumerate(tags):
            colour = SPECIAL_COLOURS.get(tag) or PALETTE[i % len(PALETTE)]
            _bars(ax, x, counts[i], bottom, facecolor=colour, edgecolor="none", label=plain(tag))
            for row, week in spikes:
                if row == i:
                    _bars(ax, [week], [counts[i, week]], [bottom[week]], facecolor="none",
                          edgecolor=WARN, linewidth=2)  # fmt: skip
            bottom += counts[i]
        ax.set_xlim(-0.6, len(labels) - 0.4)
        for row, week in spikes:
            ax.annotate(f"spike: {plain(tags[row])}", (week, bottom[week]), xytext=(0, 4),
                        textcoords="offset points", ha="center", color=WARN, fontsize=8,
                        fontweight="bold")  # fmt: skip
        ax.set_ylim(0, bottom.max() * 1.15 + 1)
        ax.set_title(f"Contacts per week by {plain(axis)} (spikes outlined in red)")
        _week_ticks(ax, labels)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=7.5)
        return svg(fig)
