// blobrl dashboard charts: plotly.js figures built from the history endpoints, and the numbers
// beside them. Pure functions of the series (no fetching, no DOM but the stats lists), so that
// dashboard.js only fetches and redraws. Plain JS, no build step.
"use strict";

const Charts = (() => {
  // ---- theme: the page's CSS variables, light or dark after prefers-color-scheme -----------
  function theme() {
    const css = getComputedStyle(document.documentElement);
    const v = (name) => css.getPropertyValue(name).trim();
    return { fg: v("--fg"), muted: v("--muted"), line: v("--line"), card: v("--card"),
      colors: [v("--c1"), v("--c2"), v("--c3"), v("--c4"), v("--c5")] };
  }

  // Opponents keep their colour on every chart.
  const OPPONENT_COLOR = { random: 0, heuristic: 1 };
  function opponentColor(name, t) {
    if (name in OPPONENT_COLOR) return t.colors[OPPONENT_COLOR[name]];
    return name.startsWith("ismcts") ? t.colors[2] : t.colors[4];
  }

  // ---- axes ---------------------------------------------------------------------------------
  // A step of 1, 2 or 5 x 10^k giving about ``ticks`` ticks over ``span`` (at least ``min``).
  function niceStep(span, ticks, min = 0) {
    const raw = Math.max(span / ticks, min, Number.MIN_VALUE);
    const base = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * base).find((s) => s >= raw);
    return Math.max(step, min);
  }

  // An axis of integers (iterations, steps): ticks only on whole numbers, so the first
  // iterations never read "0 1 1 2 2" (integer labels on fractional ticks).
  function intAxis(values, title, extra = {}) {
    const finite = values.filter(Number.isFinite);
    const lo = finite.length ? Math.min(...finite) : 0, hi = finite.length ? Math.max(...finite) : 1;
    return { title: { text: title }, tickmode: "linear", tick0: 0, dtick: niceStep(hi - lo, 8, 1),
      tickformat: "d", hoverformat: "d", rangemode: "tozero", ...extra };
  }

  function layout(t, xaxis, yaxis, extra = {}) {
    const axis = (a) => ({ gridcolor: t.line, linecolor: t.line, zerolinecolor: t.line,
      automargin: true, ...a });
    return {
      margin: { l: 56, r: 16, t: 8, b: 40 }, showlegend: true,
      legend: { orientation: "h", y: -0.28, font: { size: 11 } },
      font: { color: t.fg, family: "system-ui, sans-serif", size: 12 },
      hovermode: "x unified", hoverlabel: { bgcolor: t.card, bordercolor: t.line, font: { color: t.fg } },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      xaxis: axis(xaxis), yaxis: axis(yaxis), ...extra,
      ...(extra.yaxis2 ? { yaxis2: axis(extra.yaxis2) } : {}),
    };
  }

  const line = (name, x, y, color, more = {}) => ({
    // Markers shrink as points accumulate, so 500 iterations still read as a line.
    x, y, name, type: "scatter", mode: "lines+markers",
    line: { color, width: 2, ...(more.line || {}) }, marker: { color, size: x.length > 60 ? 3 : 6 }, connectgaps: true,
    ...more,
  });

  // ---- formatting of the numbers beside the charts -----------------------------------------
  const num = (d) => (x) => (x == null ? "–" : Number(x).toFixed(d));
  const pct = (x) => (x == null ? "–" : (100 * x).toFixed(1) + "%");
  const int = (x) => (x == null ? "–" : Math.round(x).toLocaleString("en-US"));
  const secs = (x) => (x == null ? "–" : x >= 120 ? (x / 60).toFixed(1) + " min" : x.toFixed(1) + " s");
  const sci = (x) => (x == null ? "–" : Number(x).toExponential(2));

  // rows: [{label, title, value, previous, fmt, ci}]; the change since the previous value is
  // shown beside the latest (signed, in the same unit).
  function stats(id, rows) {
    const el = document.getElementById(id);
    if (!el) return;
    el.replaceChildren();
    for (const r of rows) {
      const dt = document.createElement("dt");
      dt.textContent = r.label;
      if (r.title) dt.title = r.title;
      const dd = document.createElement("dd");
      const fmt = r.fmt || num(2);
      dd.textContent = fmt(r.value) + (r.ci != null ? " ± " + fmt(r.ci).replace("%", "") : "");
      dd.dataset.value = r.value == null ? "" : String(r.value);
      if (r.value != null && r.previous != null) {
        const raw = r.value - r.previous;
        const delta = fmt(Math.abs(raw)) === fmt(0) ? 0 : raw;  // too small to show: unchanged
        const span = document.createElement("span");
        span.className = "delta " + (delta > 0 ? "up" : delta < 0 ? "down" : "flat");
        span.title = "change since the previous value";
        const shown = fmt(Math.abs(delta));
        span.textContent = delta > 0 ? "▲ +" + shown : delta < 0 ? "▼ −" + shown : "unchanged";
        dd.append(" ", span);
      }
      el.append(dt, dd);
    }
  }

  const last = (rows, key) => {
    const with_ = rows.filter((r) => r[key] != null);
    return [with_.at(-1)?.[key] ?? null, with_.at(-2)?.[key] ?? null];
  };

  // ---- strength: rating -----------------------------------------------------------------------
  // Ratings are refitted from all matches whenever one comes in, so the whole series is redrawn.
  // Until a gauntlet connects the networks to random (the anchor) there is no rating yet; the
  // chart then chains the arenas' Elo differences from iteration 0 instead, and says so.
  function eloSeries(points) {
    const sorted = [...points].sort((a, b) => a.iteration - b.iteration);
    const rated = sorted.filter((p) => p.elo != null);
    if (rated.length) return { anchored: true, rows: rated.map((p) => ({ ...p, y: p.elo, ci: p.ci95 ?? 0 })) };
    const chain = new Map([[0, 0]]);
    const rows = [];
    for (const p of sorted) {
      const base = chain.get(p.best_version ?? 0);
      if (base == null || p.elo_diff == null) continue;
      chain.set(p.iteration, base + p.elo_diff);
      rows.push({ ...p, y: base + p.elo_diff, ci: p.elo_diff_ci95 ?? 0 });
    }
    return { anchored: false, rows };
  }

  function elo(points, metrics) {
    const t = theme();
    const { anchored, rows } = eloSeries(points);
    const promoted = rows.filter((p) => p.promoted);
    const x = rows.map((p) => p.iteration);
    const traces = [
      line("rating", x, rows.map((p) => p.y), t.colors[3], {
        customdata: rows.map((p) => [p.ci, p.share == null ? null : 100 * p.share]),
        error_y: { type: "data", array: rows.map((p) => p.ci), visible: true, thickness: 1, color: t.colors[3] },
        hovertemplate: "Elo %{y:.0f} ± %{customdata[0]:.0f} (arena share %{customdata[1]:.0f}%)<extra></extra>",
      }),
      { x: promoted.map((p) => p.iteration), y: promoted.map((p) => p.y), name: "promoted", type: "scatter",
        mode: "markers", marker: { symbol: "star", size: 13, color: t.colors[1], line: { color: t.fg, width: 1 } },
        hovertemplate: "promoted<extra></extra>" },
    ];
    // The fixed opponents' ratings (random = 0 by definition): dashed lines with their interval.
    const shapes = [], annotations = [];
    const baselines = anchored ? Object.entries((metrics && metrics.baselines) || {}) : [];
    for (const [name, r] of baselines) {
      if (r.elo == null || name === "random") continue;
      const color = opponentColor(name, t);
      if (r.ci95) shapes.push({ type: "rect", xref: "paper", x0: 0, x1: 1, y0: r.elo - r.ci95, y1: r.elo + r.ci95,
        fillcolor: color, opacity: 0.08, line: { width: 0 }, layer: "below" });
      shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, y0: r.elo, y1: r.elo, line: { color, dash: "dash", width: 1 } });
      annotations.push({ xref: "paper", x: 0, xanchor: "left", y: r.elo, yanchor: "bottom", text: `${name} ${r.elo.toFixed(0)}`,
        showarrow: false, font: { color, size: 10 } });
    }
    const ytitle = anchored ? "Elo (random = 0)" : "Elo against iteration 0 (no gauntlet yet)";
    const fig = { traces, layout: layout(t, intAxis(x, "iteration"), { title: { text: ytitle } }, { shapes, annotations }) };
    const [value, previous] = last(rows, "y");
    const latest = rows.at(-1);
    const rowsOut = [
      { label: anchored ? "Rating" : "Elo vs iteration 0", value, previous, ci: latest?.ci, fmt: num(0),
        title: "Latest candidate's rating (95% interval) and its change since the previous arena" },
      { label: "Iteration", value: latest?.iteration ?? null, fmt: int },
      { label: "Best", value: metrics?.best_elo ?? null, ci: metrics?.best_elo_ci95, fmt: num(0),
        title: `Rating of the best network (iteration ${metrics?.best_version ?? "–"})` },
      { label: "Promotions", value: promoted.length, fmt: int, title: "Candidates that became the best network" },
    ];
    for (const [name, r] of baselines) if (name !== "random") rowsOut.push({ label: name, value: r.elo, ci: r.ci95, fmt: num(0) });
    return { ...fig, stats: rowsOut };
  }

  // ---- strength: gauntlet ---------------------------------------------------------------------
  // One series per opponent and table size; the reference size (the first of each gauntlet, 5x7)
  // in full lines, the run's main deal dotted.
  function gauntletSeries(points) {
    const series = new Map();
    for (const g of [...points].sort((a, b) => a.iteration - b.iteration)) {
      const reference = g.matches.length ? `${g.matches[0].players}x${g.matches[0].cards}` : "";
      for (const m of g.matches) {
        const size = `${m.players}x${m.cards}`;
        const key = `${m.opponent} ${size}`;
        if (!series.has(key)) series.set(key, { key, opponent: m.opponent, size, reference: size === reference, rows: [] });
        series.get(key).rows.push({ iteration: g.iteration, ...m });
      }
    }
    return [...series.values()].sort((a, b) => b.reference - a.reference);
  }

  function gauntlet(points, key) {
    const t = theme();
    const all = gauntletSeries(points);
    const isScore = key === "score";
    const traces = all.map((s) => line(s.key, s.rows.map((r) => r.iteration),
      s.rows.map((r) => (r[key] == null ? null : isScore ? r[key] : 100 * r[key])), opponentColor(s.opponent, t), {
        line: { dash: s.reference ? "solid" : "dot" },
        customdata: s.rows.map((r) => isScore ? [r.score_ci95, r.opponent_score, r.deals] :
          [r.opponent_exact_rate == null ? null : 100 * r.opponent_exact_rate, r.deals]),
        ...(isScore ? { error_y: { type: "data", array: s.rows.map((r) => r.score_ci95), visible: true, thickness: 1,
          color: opponentColor(s.opponent, t) } } : {}),
        hovertemplate: isScore
          ? `${s.key}: %{y:.2f} ± %{customdata[0]:.2f} (opponent %{customdata[1]:.2f}, %{customdata[2]} deals)<extra></extra>`
          : `${s.key}: %{y:.1f}% (opponent %{customdata[0]:.1f}%)<extra></extra>`,
      }));
    const x = points.map((p) => p.iteration);
    const ytitle = isScore ? "points a hand" : "exact bids (%)";
    const rows = [];
    for (const s of all.filter((s) => s.reference)) {
      const [value, previous] = last(s.rows, key);
      const latest = s.rows.at(-1);
      rows.push({ label: s.key, value, previous, fmt: isScore ? num(2) : pct, ci: isScore ? latest?.score_ci95 : null,
        title: isScore ? `Latest mean points a hand against ${s.opponent} (95% interval; the opponent made ${num(2)(latest?.opponent_score)})`
          : `Latest exact-bid rate against ${s.opponent} (the opponent's: ${pct(latest?.opponent_exact_rate)})` });
    }
    if (points.length) rows.push({ label: "Iteration", value: Math.max(...x), fmt: int });
    return { traces, layout: layout(t, intAxis(x, "iteration"), { title: { text: ytitle } }), stats: rows };
  }

  // ---- throughput -------------------------------------------------------------------------------
  function rate(points, status) {
    const t = theme();
    const rows = points.filter((p) => p.games_per_min != null);
    const x = rows.map((p) => p.iteration);
    const clock = rows.map((p) => (p.time ? new Date(p.time * 1000).toLocaleTimeString() : ""));
    const traces = [line("games/min", x, rows.map((p) => p.games_per_min), t.colors[3], {
      customdata: rows.map((p, i) => [clock[i], p.games, p.selfplay_seconds]), fill: "tozeroy",
      hovertemplate: "%{y:.1f} games/min (%{customdata[1]} games in %{customdata[2]:.0f} s, done %{customdata[0]})<extra></extra>",
    })];
    const [value, previous] = last(rows, "games_per_min");
    const stats = [
      { label: "Last iteration", value, previous, fmt: num(1), title: "Games per minute of the last trained iteration, and its change" },
      { label: "Now", value: status?.games_per_min ?? null, fmt: num(1), title: "Games per minute over the last few minutes (/api/status)" },
      { label: "Games", value: status?.games_played ?? null, fmt: int },
    ];
    return { traces, layout: layout(t, intAxis(x, "iteration"), { title: { text: "games/min" }, rangemode: "tozero" }), stats };
  }

  const TIMES = [["selfplay_seconds", "self-play"], ["train_seconds", "training"], ["arena_seconds", "arena"],
    ["gauntlet_seconds", "gauntlet"]];

  function times(points) {
    const t = theme();
    const x = points.map((p) => p.iteration);
    const traces = TIMES.map(([key, name], i) => ({
      x, y: points.map((p) => p[key]), name, type: "bar", marker: { color: t.colors[[3, 0, 1, 2][i]] },
      hovertemplate: `${name} %{y:.1f} s<extra></extra>`,
    }));
    const stats = TIMES.map(([key, name]) => {
      const [value, previous] = last(points, key);
      return { label: name, value, previous, fmt: secs, title: `${name} time of the latest iteration that had one, and its change` };
    });
    return { traces, layout: layout(t, intAxis(x, "iteration"), { title: { text: "seconds" }, rangemode: "tozero" },
      { barmode: "group", bargap: 0.25 }), stats };
  }

  function buffer(points, metrics) {
    const t = theme();
    const x = points.map((p) => p.iteration);
    const traces = [
      { ...line("buffer positions", x, points.map((p) => p.buffer_positions), t.colors[0]), fill: "tozeroy",
        hovertemplate: "buffer %{y:,} positions<extra></extra>" },
      line("reuse (iteration)", x, points.map((p) => p.replay_ratio), t.colors[3], { yaxis: "y2",
        hovertemplate: "reuse %{y:.2f} (iteration)<extra></extra>" }),
      line("reuse (run)", x, points.map((p) => p.replay_ratio_run), t.colors[1], { yaxis: "y2", line: { dash: "dot" },
        hovertemplate: "reuse %{y:.2f} (run)<extra></extra>" }),
    ];
    const target = metrics?.replay_ratio;
    const shapes = target == null ? [] : [{ type: "line", xref: "paper", yref: "y2", x0: 0, x1: 1, y0: target, y1: target,
      line: { color: t.colors[3], dash: "dash", width: 1 } }];
    const [value, previous] = last(points, "buffer_positions");
    const [reuse, reusePrev] = last(points, "replay_ratio");
    const stats = [
      { label: "Buffer", value, previous, fmt: int, title: "Positions in the replay buffer when the last iteration trained" },
      { label: "Reuse (iteration)", value: reuse, previous: reusePrev, fmt: num(2),
        title: "Positions trained per position generated, last trained iteration" },
      { label: "Reuse (run)", value: last(points, "replay_ratio_run")[0], fmt: num(2) },
      { label: "Target", value: target ?? null, fmt: num(2), title: "learner.replay_ratio (none with fixed steps)" },
    ];
    return { traces, layout: layout(t, intAxis(x, "iteration"), { title: { text: "positions" }, rangemode: "tozero" },
      { shapes, yaxis2: { title: { text: "data reuse" }, overlaying: "y", side: "right",
        rangemode: "tozero", showgrid: false } }), stats };
  }

  // ---- learning ---------------------------------------------------------------------------------
  const LOSSES = [["policy_loss", "policy"], ["value_loss", "value"], ["trick_loss", "tricks"], ["total_loss", "total"]];

  function losses(points, xKey, xTitle, withLr) {
    const t = theme();
    const x = points.map((p) => p[xKey]);
    const positive = (v) => (v != null && v > 0 ? v : null);  // a log axis has no 0
    const traces = LOSSES.filter(([key]) => points.some((p) => p[key] != null)).map(([key, name], i) =>
      line(name, x, points.map((p) => positive(p[key])), t.colors[[3, 0, 2, 1][i]], {
        hovertemplate: `${name} %{y:.4f}<extra></extra>` }));
    const extra = {};
    if (withLr && points.some((p) => p.lr != null)) {
      traces.push(line("learning rate", x, points.map((p) => p.lr), t.muted, { yaxis: "y2", line: { dash: "dot", width: 1 },
        marker: { size: 3 }, hovertemplate: "lr %{y:.2e}<extra></extra>" }));
      extra.yaxis2 = { title: { text: "learning rate" }, overlaying: "y", side: "right", tickformat: ".1e",
        showgrid: false, rangemode: "tozero" };
    }
    const stats = LOSSES.map(([key, name]) => {
      const [value, previous] = last(points, key);
      return { label: name, value, previous, fmt: num(4), title: `Latest ${name} loss and its change since the previous point` };
    }).filter((r) => r.value != null);
    if (withLr) stats.push({ label: "learning rate", value: last(points, "lr")[0], fmt: sci });
    stats.push({ label: xTitle, value: x.length ? x.at(-1) : null, fmt: int });
    return { traces, layout: layout(t, intAxis(x, xTitle), { title: { text: "loss (log)" }, type: "log", dtick: "D2" }, extra), stats };
  }

  return { elo, eloSeries, gauntlet, rate, times, buffer, losses, stats, intAxis, niceStep };
})();
