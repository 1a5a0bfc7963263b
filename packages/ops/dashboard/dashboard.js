/*
 * ticketflow live dashboard.
 *
 * Plain browser ES module (no build step, no framework). Charts use uPlot, loaded before this file from
 * /vendor/uPlot.iife.min.js (global `uPlot`). Data comes from the server-sent events at /events:
 * `history` (rebuild everything), then `batch`, `window` and `status` (incremental updates).
 * Every string from the server reaches the DOM through textContent / attributes only.
 */
(() => {
  const MAX_BATCHES = 300;
  const MAX_WINDOWS = 200;
  const MAX_LAG_SAMPLES = 300;
  const MAX_WINDOW_ROWS = 60;
  const MAX_KEYS = 20;
  const CHART_HEIGHT = 210;
  const RECONNECT_MS = 3000;
  const STEPS = ['fold', 'plan', 'deadLetters', 'write', 'commit', 'acknowledge'];
  const STEP_LABELS = {
    fold: 'fold',
    plan: 'plan',
    deadLetters: 'dead letters',
    write: 'write',
    commit: 'commit',
    acknowledge: 'acknowledge',
  };

  // ---------------------------------------------------------------- formatting

  const nfInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
  const nf1 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
  const nfCompact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

  const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
  const fmtInt = (v) => (isNum(v) ? nfInt.format(v) : '–');
  /** A value with a sensible number of decimals for its size. */
  const fmtNum = (v) => {
    if (!isNum(v)) return '–';
    const a = Math.abs(v);
    if (a >= 100) return nfInt.format(v);
    if (a >= 10) return nf1.format(v);
    return nf2.format(v);
  };
  const fmtAxis = (v) => {
    if (!isNum(v)) return '';
    return Math.abs(v) >= 10000 ? nfCompact.format(v) : nf2.format(v);
  };
  const fmtPct = (v) => (isNum(v) ? `${nf1.format(v)}%` : '–');

  /** Milliseconds since the epoch of an ISO string, or null. */
  const parseTime = (iso) => {
    if (typeof iso !== 'string') return null;
    const t = Date.parse(iso);
    return Number.isFinite(t) ? t : null;
  };
  /** `2024-05-01 12:00:03Z` */
  const fmtTime = (ms) => {
    if (!isNum(ms)) return '–';
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
  };
  /** `2024-05-01 12:00` (UTC, minutes) */
  const fmtMinute = (ms) => {
    if (!isNum(ms)) return '–';
    const iso = new Date(ms).toISOString();
    return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
  };
  const fmtIso = (iso) => fmtTime(parseTime(iso));

  // ---------------------------------------------------------------- DOM helpers

  const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  };
  const setText = (node, text) => {
    if (!node) return;
    const s = String(text);
    if (node.textContent !== s) node.textContent = s;
  };
  const str = (v, fallback = '') => (typeof v === 'string' ? v : v == null ? fallback : String(v));

  // ---------------------------------------------------------------- state

  const state = {
    title: 'ticketflow',
    source: '',
    health: null,
    totals: null,
    connected: null,
    batches: [], // BatchView, oldest first, at most MAX_BATCHES
    windows: [], // final WindowView, oldest first, at most MAX_WINDOWS
    lag: [], // { t: ms, lanes: Map<lane, lag> }, oldest first, at most MAX_LAG_SAMPLES
    eventTime: false,
    received: false,
  };

  const lastBatch = () => (state.batches.length ? state.batches[state.batches.length - 1] : null);

  function computeEventTime() {
    const t = state.totals;
    if (t && (t.watermark != null || t.late != null)) return true;
    if (state.windows.length > 0) return true;
    for (const b of state.batches) {
      if (b.watermark != null || b.late != null) return true;
      if (Array.isArray(b.openWindows) && b.openWindows.length > 0) return true;
    }
    return false;
  }

  function pushLag(lanes, t) {
    const map = new Map();
    if (Array.isArray(lanes)) {
      for (const l of lanes) {
        if (l && l.lane != null) map.set(str(l.lane), isNum(l.lag) ? l.lag : null);
      }
    }
    if (map.size === 0 && state.lag.length === 0) return;
    state.lag.push({ t: t ?? Date.now(), lanes: map });
    if (state.lag.length > MAX_LAG_SAMPLES) state.lag.splice(0, state.lag.length - MAX_LAG_SAMPLES);
  }

  function addBatch(b) {
    if (!b || typeof b !== 'object') return false;
    const last = lastBatch();
    if (last && last.batchId === b.batchId) state.batches[state.batches.length - 1] = b;
    else state.batches.push(b);
    if (state.batches.length > MAX_BATCHES) state.batches.splice(0, state.batches.length - MAX_BATCHES);
    return true;
  }

  function addWindow(w) {
    if (!w || typeof w !== 'object') return;
    const i = state.windows.findIndex((x) => x.name === w.name && x.windowStart === w.windowStart);
    if (i >= 0) state.windows.splice(i, 1);
    state.windows.push(w);
    if (state.windows.length > MAX_WINDOWS) state.windows.splice(0, state.windows.length - MAX_WINDOWS);
  }

  // ---------------------------------------------------------------- event handlers

  function onHistory(h) {
    state.received = true;
    state.title = str(h.title, 'ticketflow') || 'ticketflow';
    state.source = str(h.source);
    state.health = h.health && typeof h.health === 'object' ? h.health : null;
    state.totals = h.totals && typeof h.totals === 'object' ? { ...h.totals } : null;
    state.connected = state.health?.source ? state.health.source.connected : null;
    state.batches = [];
    for (const b of Array.isArray(h.batches) ? h.batches : []) addBatch(b);
    state.windows = [];
    for (const w of Array.isArray(h.windows) ? h.windows : []) addWindow(w);
    // Lag samples are observed by this page over time: they survive a reconnect.
    pushLag(h.lag);
    state.eventTime = computeEventTime();
    renderHeader();
    renderWindows();
    charts.invalidateAll();
    scheduleCharts();
  }

  function onBatch(b) {
    if (!addBatch(b)) return;
    // Keep the header current between status events (at most one a second); status is authoritative.
    if (!state.totals) state.totals = emptyTotals();
    const t = state.totals;
    if (t.lastBatchId == null || (isNum(b.batchId) && b.batchId > t.lastBatchId)) {
      t.batches = (t.batches || 0) + 1;
      t.records = (t.records || 0) + (isNum(b.records) ? b.records : 0);
      t.invalid = (t.invalid || 0) + (isNum(b.invalidRecords) ? b.invalidRecords : 0);
      if (isNum(b.late)) t.late = (t.late || 0) + b.late;
      t.lastBatchId = b.batchId;
      t.lastBatchAt = new Date().toISOString();
    }
    if (b.watermark != null) t.watermark = b.watermark;
    if (!state.eventTime) state.eventTime = computeEventTime();
    renderHeader();
    renderWindows();
    scheduleCharts();
  }

  function onWindow(w) {
    addWindow(w);
    state.eventTime = true;
    renderHeader();
    renderWindows();
  }

  function onStatus(s) {
    if (s.health && typeof s.health === 'object') state.health = s.health;
    if (s.totals && typeof s.totals === 'object') state.totals = { ...s.totals };
    if ('connected' in s) state.connected = s.connected;
    else if (state.health?.source) state.connected = state.health.source.connected;
    if (Array.isArray(s.lag)) pushLag(s.lag);
    if (!state.eventTime) state.eventTime = computeEventTime();
    renderHeader();
    renderWindows();
    scheduleCharts();
  }

  function emptyTotals() {
    return {
      batches: 0,
      records: 0,
      invalid: 0,
      late: null,
      lastBatchId: null,
      lastBatchAt: null,
      watermark: null,
    };
  }

  // ---------------------------------------------------------------- header

  function renderHeader() {
    const titleText = state.title || 'ticketflow';
    setText(document.getElementById('title'), titleText);
    if (document.title !== titleText) document.title = titleText;

    const health = $('health');
    const status = state.health && typeof state.health.status === 'string' ? state.health.status : 'unknown';
    setText(health, state.health ? status : '–');
    health.dataset.status = status;
    const reasons =
      state.health && Array.isArray(state.health.reasons) ? state.health.reasons.map((r) => str(r)) : [];
    health.title = reasons.join('\n');
    const reasonsList = $('health-reasons');
    reasonsList.replaceChildren(...reasons.map((r) => el('li', null, r)));
    reasonsList.hidden = reasons.length === 0;

    const source = $('source');
    const sourceName = state.source || (state.health?.source ? str(state.health.source.name) : '');
    const connected = state.connected;
    source.replaceChildren(document.createTextNode(sourceName || '–'));
    if (connected === true || connected === false) {
      source.append(' ', el('small', null, connected ? 'connected' : 'disconnected'));
      source.dataset.connected = String(connected);
    } else delete source.dataset.connected;

    const t = state.totals;
    const lastB = $('last-batch');
    if (t && t.lastBatchId != null) {
      lastB.replaceChildren(document.createTextNode(`#${fmtInt(t.lastBatchId)}`));
      if (t.lastBatchAt) lastB.append(' ', el('small', null, fmtIso(t.lastBatchAt)));
      lastB.dataset.value = String(t.lastBatchId);
    } else {
      setText(lastB, state.received ? 'none yet' : '–');
      delete lastB.dataset.value;
    }

    setCount($('records-total'), t ? t.records : null);
    setCount($('invalid-total'), t ? t.invalid : null);

    for (const node of document.querySelectorAll('[data-event-time]')) node.hidden = !state.eventTime;
    const wm = $('watermark');
    const late = $('late-total');
    wm.hidden = !state.eventTime;
    late.hidden = !state.eventTime;
    setText(wm, t?.watermark ? fmtIso(t.watermark) : '–');
    setCount(late, t ? t.late : null);

    const count = state.batches.length;
    setText(
      $('batch-count'),
      state.received ? `${fmtInt(count)} batch${count === 1 ? '' : 'es'} shown (at most ${MAX_BATCHES})` : '',
    );
  }

  function setCount(node, value) {
    if (isNum(value)) {
      setText(node, fmtInt(value));
      node.dataset.value = String(value);
    } else {
      setText(node, '–');
      delete node.dataset.value;
    }
  }

  // ---------------------------------------------------------------- windows table

  function renderWindows() {
    const table = $('windows-table');
    const summary = $('windows-summary');
    table.hidden = !state.eventTime;
    if (!state.eventTime) return;

    const rows = new Map();
    const last = lastBatch();
    const open = last && Array.isArray(last.openWindows) ? last.openWindows : [];
    for (const w of open) {
      if (!w) continue;
      rows.set(`${str(w.name)}\u0000${str(w.windowStart)}`, { ...w, state: 'open' });
    }
    for (const w of state.windows)
      rows.set(`${str(w.name)}\u0000${str(w.windowStart)}`, { ...w, state: 'final' });
    const all = [...rows.values()].sort((a, b) => {
      const d = (parseTime(b.windowEnd) ?? 0) - (parseTime(a.windowEnd) ?? 0);
      if (d !== 0) return d;
      return str(a.name).localeCompare(str(b.name));
    });
    const shown = all.slice(0, MAX_WINDOW_ROWS);

    const body = table.tBodies[0];
    body.replaceChildren(
      ...shown.map((w) => {
        const tr = el('tr');
        tr.dataset.state = w.state;
        tr.append(
          el('td', 'name', str(w.name)),
          el('td', 'start', fmtMinute(parseTime(w.windowStart))),
          el('td', 'end', fmtMinute(parseTime(w.windowEnd))),
          el('td', 'num records', fmtInt(w.records)),
          el('td', 'state', w.state),
          el('td', 'num batch', w.batchId != null ? `#${fmtInt(w.batchId)}` : ''),
          el('td', 'output', str(w.output)),
        );
        return tr;
      }),
    );
    if (shown.length === 0) {
      const tr = el('tr');
      const td = el('td', 'empty', 'No window yet.');
      td.colSpan = 7;
      tr.append(td);
      body.append(tr);
    }

    let finalCount = 0;
    let finalRecords = 0;
    let openCount = 0;
    let openRecords = 0;
    for (const w of all) {
      const r = isNum(w.records) ? w.records : 0;
      if (w.state === 'final') {
        finalCount++;
        finalRecords += r;
      } else {
        openCount++;
        openRecords += r;
      }
    }
    const t = state.totals;
    setText($('windows-total'), fmtInt(finalRecords + openRecords));
    setText($('windows-late'), `late: ${t && isNum(t.late) ? fmtInt(t.late) : '–'}`);
    setText(
      summary,
      `${fmtInt(finalCount)} final (${fmtInt(finalRecords)} records) · ${fmtInt(openCount)} open (${fmtInt(
        openRecords,
      )} records) · late records: ${t && isNum(t.late) ? fmtInt(t.late) : '–'} · watermark: ${
        t?.watermark ? fmtIso(t.watermark) : '–'
      }${all.length > shown.length ? ` · showing the latest ${shown.length}` : ''}`,
    );
  }

  // ---------------------------------------------------------------- charts

  const hasUPlot = () => typeof window.uPlot === 'function';

  function theme() {
    const css = getComputedStyle(document.documentElement);
    const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const palette = [];
    for (let i = 1; i <= 8; i++) palette.push(v(`--series-${i}`, '#888'));
    return {
      fg: v('--fg', '#222'),
      muted: v('--muted', '#666'),
      grid: v('--grid', 'rgba(128,128,128,0.2)'),
      palette,
      key: palette.join(',') + v('--fg', ''),
    };
  }
  const color = (th, i) => th.palette[i % th.palette.length];
  /** A colour with transparency, for fills (works for #rrggbb). */
  const alpha = (c, a) => {
    const m = /^#([0-9a-f]{6})$/i.exec(c);
    if (!m) return c;
    const n = Number.parseInt(m[1], 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  };

  /**
   * A legend value formatter that shows the latest point while the cursor is off the chart (uPlot
   * passes a null index then), and the hovered point otherwise.
   */
  const legendValue = (fmt) => (u, v, si, idx) => {
    if (idx == null) {
      const d = u.data?.[si];
      if (!d || d.length === 0) return '–';
      return fmt(d[d.length - 1], si, d.length - 1);
    }
    return fmt(v, si, idx);
  };

  // Time axis steps, in seconds: never below one second, so labels stay distinct.
  const TIME_INCRS = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
    2592000, 31536000,
  ];

  function axis(th, extra) {
    return Object.assign(
      {
        stroke: th.muted,
        grid: { stroke: th.grid, width: 1 },
        ticks: { stroke: th.grid, width: 1 },
        font: '11px system-ui, sans-serif',
        values: (_u, splits) => splits.map(fmtAxis),
      },
      extra,
    );
  }

  function timeOpts(th) {
    return {
      tzDate: (ts) => window.uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      scales: { x: { time: true } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      xSeries: {
        label: 'UTC',
        value: legendValue((v) => (isNum(v) ? fmtTime(v * 1000) : '–')),
      },
      xAxis: {
        stroke: th.muted,
        grid: { stroke: th.grid, width: 1 },
        ticks: { stroke: th.grid, width: 1 },
        font: '11px system-ui, sans-serif',
        values: timeTicks,
        incrs: TIME_INCRS,
      },
    };
  }

  /** Time axis labels in UTC: `HH:MM` (or `HH:MM:SS` over short spans), the date where it changes. */
  function timeTicks(u, splits) {
    const min = u.scales.x.min;
    const max = u.scales.x.max;
    const span = isNum(min) && isNum(max) ? max - min : 3600;
    const withSeconds = span < 180;
    let lastDay = null;
    return splits.map((s) => {
      if (!isNum(s)) return '';
      const iso = new Date(s * 1000).toISOString();
      const day = iso.slice(0, 10);
      const time = withSeconds ? iso.slice(11, 19) : iso.slice(11, 16);
      const label = day !== lastDay ? `${time}\n${day}` : time;
      lastDay = day;
      return label;
    });
  }

  /** A y range from zero to a little above the largest value (counts, durations, lag). */
  const zeroBased = (_u, _min, max) => [0, isNum(max) && max > 0 ? max * 1.08 : 1];

  /** Builds uPlot options for a chart over time. */
  function timeChart(th, series, extra = {}) {
    const base = timeOpts(th);
    return Object.assign(
      {
        tzDate: base.tzDate,
        scales: Object.assign(
          { x: { time: true }, y: extra.zero === false ? {} : { range: zeroBased } },
          extra.scales || {},
        ),
        cursor: base.cursor,
        legend: base.legend,
        series: [base.xSeries, ...series],
        axes: [base.xAxis, axis(th), ...(extra.axes || [])],
      },
      extra.bands ? { bands: extra.bands } : {},
    );
  }

  /**
   * One chart slot: a container that holds either a uPlot instance or a short message. The plot is
   * rebuilt when its shape (series, theme) changes, and only fed new data otherwise.
   */
  class Slot {
    constructor(container, height = CHART_HEIGHT) {
      this.container = container;
      this.height = height;
      this.plot = null;
      this.key = null;
      this.message = null;
      this.width = 0;
      if (typeof ResizeObserver === 'function') {
        this.observer = new ResizeObserver(() => this.queueResize());
        this.observer.observe(container);
      }
    }
    innerWidth() {
      return Math.max(160, Math.floor(this.container.clientWidth || 0));
    }
    queueResize() {
      if (this.resizeQueued) return;
      this.resizeQueued = true;
      requestAnimationFrame(() => {
        this.resizeQueued = false;
        if (!this.plot) return;
        const w = this.innerWidth();
        if (w !== this.width) {
          this.width = w;
          this.plot.setSize({ width: w, height: this.height });
        }
      });
    }
    showMessage(text) {
      this.destroyPlot();
      if (this.message === text) return;
      this.message = text;
      this.container.replaceChildren(el('p', 'empty', text));
      this.container.dataset.empty = 'true';
    }
    show(key, makeOpts, data) {
      if (!hasUPlot()) {
        this.showMessage('Charts unavailable (uPlot did not load).');
        return;
      }
      if (this.plot && this.key === key) {
        this.plot.setData(data);
        return;
      }
      this.destroyPlot();
      this.message = null;
      this.container.replaceChildren();
      delete this.container.dataset.empty;
      this.width = this.innerWidth();
      const opts = Object.assign({ width: this.width, height: this.height }, makeOpts());
      this.plot = new window.uPlot(opts, data, this.container);
      this.key = key;
    }
    destroyPlot() {
      if (this.plot) {
        this.plot.destroy();
        this.plot = null;
        this.key = null;
      }
    }
    /** Makes the next show() rebuild the plot (theme change, reconnect). */
    invalidate() {
      this.key = null;
    }
    dispose() {
      this.destroyPlot();
      if (this.observer) this.observer.disconnect();
      this.container.replaceChildren();
    }
  }

  const charts = {
    tickets: null,
    rates: null,
    durations: null,
    lag: null,
    values: null,
    keyed: new Map(), // name -> { wrap, slot }
    init() {
      this.tickets = new Slot($('chart-tickets'));
      this.rates = new Slot($('chart-rates'));
      this.durations = new Slot($('chart-durations'));
      this.lag = new Slot($('chart-lag'));
      this.values = new Slot($('chart-values'));
    },
    all() {
      return [
        this.tickets,
        this.rates,
        this.durations,
        this.lag,
        this.values,
        ...[...this.keyed.values()].map((k) => k.slot),
      ];
    },
    invalidateAll() {
      for (const s of this.all()) s.invalidate();
    },
  };

  let chartsQueued = false;
  function scheduleCharts() {
    if (chartsQueued) return;
    chartsQueued = true;
    const run = () => {
      if (!chartsQueued) return;
      chartsQueued = false;
      renderCharts();
    };
    // requestAnimationFrame pauses in a background tab; the timer keeps the page current there too.
    requestAnimationFrame(run);
    setTimeout(run, 250);
  }

  function renderCharts() {
    const th = theme();
    const batches = state.batches
      .filter((b) => parseTime(b.windowEnd) != null)
      .slice()
      .sort((a, b) => parseTime(a.windowEnd) - parseTime(b.windowEnd));
    const xs = batches.map((b) => parseTime(b.windowEnd) / 1000);
    const num = (v) => (isNum(v) ? v : null);
    const waiting = state.received ? 'No batch yet.' : 'Connecting…';

    // Each chart is drawn on its own: one failing must not stop the others.
    const guard = (slot, fn) => {
      try {
        fn();
      } catch (error) {
        slot.showMessage('This chart could not be drawn.');
        console.warn('ticketflow dashboard: chart failed', error);
      }
    };

    // Tickets per batch, with the invalid share on a second axis.
    guard(charts.tickets, () => {
      if (!batches.length) return charts.tickets.showMessage(waiting);
      const et = state.eventTime;
      const data = [
        xs,
        batches.map((b) => num(b.inputRecords)),
        batches.map((b) => num(b.records)),
        batches.map((b) => num(b.invalidRecords)),
        batches.map((b) =>
          isNum(b.inputRecords) && b.inputRecords > 0 && isNum(b.invalidRecords)
            ? (100 * b.invalidRecords) / b.inputRecords
            : null,
        ),
      ];
      if (et) data.push(batches.map((b) => num(b.late)));
      charts.tickets.show(
        `tickets|${et}|${th.key}`,
        () => {
          const series = [
            {
              label: 'input',
              stroke: color(th, 0),
              width: 1.5,
              fill: alpha(color(th, 0), 0.08),
              value: legendValue(fmtInt),
            },
            { label: 'valid', stroke: color(th, 1), width: 1.5, value: legendValue(fmtInt) },
            { label: 'invalid', stroke: color(th, 2), width: 1.5, value: legendValue(fmtInt) },
            {
              label: 'invalid share',
              stroke: color(th, 4),
              width: 1,
              dash: [4, 3],
              scale: '%',
              value: legendValue(fmtPct),
            },
          ];
          if (et)
            series.push({ label: 'late', stroke: color(th, 3), width: 1.5, value: legendValue(fmtInt) });
          return timeChart(th, series, {
            scales: { '%': { range: (_u, _min, max) => [0, Math.max(5, Math.ceil(max || 0))] } },
            axes: [
              axis(th, {
                scale: '%',
                side: 1,
                grid: { show: false },
                values: (_u, splits) => splits.map((v) => fmtPct(v)),
              }),
            ],
          });
        },
        data,
      );
    });

    // Input rate vs processing rate, on a log scale: processing is often orders of magnitude faster.
    guard(charts.rates, () => {
      if (!batches.length) return charts.rates.showMessage(waiting);
      const positive = (v) => (isNum(v) && v > 0 ? v : null);
      const data = [
        xs,
        batches.map((b) => positive(b.inputRecordsPerSecond)),
        batches.map((b) => positive(b.processedRecordsPerSecond)),
      ];
      charts.rates.show(
        `rates|${th.key}`,
        () =>
          timeChart(
            th,
            [
              { label: 'input /s', stroke: color(th, 0), width: 1.5, value: legendValue(fmtNum) },
              { label: 'processed /s', stroke: color(th, 1), width: 1.5, value: legendValue(fmtNum) },
            ],
            { zero: false, scales: { y: { distr: 3, log: 10 } } },
          ),
        data,
      );
    });

    // Batch duration, stacked by step, with the measured total as a dashed line.
    guard(charts.durations, () => {
      if (!batches.length) return charts.durations.showMessage(waiting);
      const raw = STEPS.map((s) => batches.map((b) => num(b.durationMs?.[s])));
      const stacked = [];
      let acc = batches.map(() => 0);
      for (const r of raw) {
        acc = acc.map((a, i) => a + (r[i] ?? 0));
        stacked.push(acc);
      }
      charts.durations.raw = raw;
      const data = [xs, ...stacked, batches.map((b) => num(b.durationMs?.total))];
      charts.durations.show(
        `durations|${th.key}`,
        () => {
          const slot = charts.durations;
          const series = STEPS.map((s, i) => ({
            label: STEP_LABELS[s],
            stroke: color(th, i),
            width: 1,
            fill: alpha(color(th, i), 0.45),
            value: legendValue((_v, si, idx) => {
              const r = slot.raw?.[si - 1];
              return r && isNum(r[idx]) ? `${fmtNum(r[idx])} ms` : '–';
            }),
          }));
          series.push({
            label: 'total',
            stroke: th.fg,
            width: 1,
            dash: [5, 4],
            value: legendValue((v) => (isNum(v) ? `${fmtNum(v)} ms` : '–')),
          });
          const bands = STEPS.slice(1).map((_, i) => ({
            series: [i + 2, i + 1],
            fill: alpha(color(th, i + 1), 0.45),
          }));
          return timeChart(th, series, { bands });
        },
        data,
      );
    });

    // Consumer lag per partition, as sampled by this page from status events.
    guard(charts.lag, () => {
      const lanes = new Set();
      for (const s of state.lag) for (const lane of s.lanes.keys()) lanes.add(lane);
      if (!lanes.size)
        return charts.lag.showMessage(
          state.received ? 'No lag data (the source reports none yet).' : 'Connecting…',
        );
      const names = [...lanes].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
      const data = [
        state.lag.map((s) => s.t / 1000),
        ...names.map((n) => state.lag.map((s) => (s.lanes.has(n) ? s.lanes.get(n) : null))),
      ];
      charts.lag.show(
        `lag|${JSON.stringify(names)}|${th.key}`,
        () =>
          timeChart(
            th,
            names.map((n, i) => ({
              label: n,
              stroke: color(th, i),
              width: 1.5,
              spanGaps: false,
              value: legendValue(fmtInt),
            })),
          ),
        data,
      );
    });

    // The pipeline's own values (e.g. SLA percentiles).
    guard(charts.values, () => {
      const names = [];
      const seen = new Set();
      for (const b of batches) {
        if (b.values && typeof b.values === 'object') {
          for (const k of Object.keys(b.values)) {
            if (!seen.has(k)) {
              seen.add(k);
              names.push(k);
            }
          }
        }
      }
      if (!batches.length) return charts.values.showMessage(waiting);
      if (!names.length) return charts.values.showMessage('This pipeline reports no values.');
      const data = [xs, ...names.map((n) => batches.map((b) => num(b.values?.[n])))];
      charts.values.show(
        `values|${JSON.stringify(names)}|${th.key}`,
        () =>
          timeChart(
            th,
            names.map((n, i) => ({
              label: n,
              stroke: color(th, i),
              width: 1.5,
              points: { show: batches.length < 60 },
              value: legendValue(fmtNum),
            })),
            { zero: false },
          ),
        data,
      );
    });

    renderKeyed(th);
  }

  /** The pipeline's keyed metrics: one bar chart per metric, for the latest batch. */
  function renderKeyed(th) {
    const container = $('chart-keyed');
    const last = lastBatch();
    const sub = document.getElementById('keyed-sub');
    setText(sub, last && last.batchId != null ? `latest batch #${fmtInt(last.batchId)}` : 'latest batch');
    const keyed = last?.keyed && typeof last.keyed === 'object' ? last.keyed : {};
    const names = Object.keys(keyed).filter((n) => keyed[n] && typeof keyed[n] === 'object');

    // Drop charts of metrics the latest batch no longer has.
    for (const [name, item] of charts.keyed) {
      if (!names.includes(name)) {
        item.slot.dispose();
        item.wrap.remove();
        charts.keyed.delete(name);
      }
    }
    let placeholder = container.querySelector(':scope > p.empty');
    if (!names.length) {
      const text = !state.received
        ? 'Connecting…'
        : last
          ? 'This pipeline reports no keyed metrics.'
          : 'No batch yet.';
      if (!placeholder) {
        placeholder = el('p', 'empty');
        container.append(placeholder);
      }
      setText(placeholder, text);
      container.dataset.empty = 'true';
      return;
    }
    if (placeholder) placeholder.remove();
    delete container.dataset.empty;

    for (const name of names) {
      let item = charts.keyed.get(name);
      if (!item) {
        const wrap = el('div', 'keyed-item');
        wrap.dataset.name = name;
        wrap.append(el('h3', null, name));
        const box = el('div', 'chart');
        wrap.append(box);
        container.append(wrap);
        item = { wrap, slot: new Slot(box, 190) };
        charts.keyed.set(name, item);
      }
      const slot = item.slot;
      try {
        const entries = Object.entries(keyed[name])
          .map(([k, v]) => [k, isNum(v) ? v : 0])
          .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
        let shown = entries.slice(0, MAX_KEYS);
        if (entries.length > MAX_KEYS) {
          const rest = entries.slice(MAX_KEYS);
          shown = [...shown, [`${rest.length} others`, rest.reduce((s, e) => s + e[1], 0)]];
        }
        if (!shown.length) {
          slot.showMessage('No value in the latest batch.');
          continue;
        }
        const labels = shown.map((e) => e[0]);
        slot.labels = labels;
        const data = [labels.map((_, i) => i), shown.map((e) => e[1])];
        const rotate = labels.length > 6 || labels.some((l) => l.length > 14);
        slot.show(
          `keyed|${JSON.stringify(labels)}|${th.key}`,
          () => ({
            scales: {
              x: { time: false, range: () => [-0.5, labels.length - 0.5] },
              y: { range: (_u, _min, max) => [0, Math.max(1, max || 0) * 1.08] },
            },
            cursor: { drag: { x: false, y: false }, points: { show: false } },
            legend: { live: true },
            series: [
              { label: name, value: (_u, v) => (isNum(v) && slot.labels[v] != null ? slot.labels[v] : '–') },
              {
                label: 'records',
                stroke: color(th, 0),
                fill: alpha(color(th, 0), 0.6),
                width: 1,
                paths: window.uPlot.paths.bars({ size: [0.7, 80] }),
                points: { show: false },
                value: (_u, v) => fmtInt(v),
              },
            ],
            axes: [
              axis(th, {
                grid: { show: false },
                splits: () => slot.labels.map((_, i) => i),
                values: (_u, splits) =>
                  splits.map((i) => {
                    const l = slot.labels[i];
                    if (l == null) return '';
                    return l.length > 18 ? `${l.slice(0, 17)}…` : l;
                  }),
                rotate: rotate ? -30 : 0,
                size: rotate ? 70 : 30,
              }),
              axis(th),
            ],
          }),
          data,
        );
      } catch (error) {
        slot.showMessage('This chart could not be drawn.');
        console.warn('ticketflow dashboard: keyed chart failed', error);
      }
    }
  }

  // ---------------------------------------------------------------- connection

  let source = null;
  let reconnectTimer = null;

  function setConnection(stateName, text) {
    const node = $('connection');
    node.dataset.state = stateName;
    setText(node, text);
    document.body.dataset.connection = stateName;
  }

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch {
      console.warn('ticketflow dashboard: ignored an event that is not JSON', event.type);
      return null;
    }
  }

  function handler(fn) {
    return (event) => {
      const data = parse(event);
      if (!data || typeof data !== 'object') return;
      try {
        fn(data);
      } catch (error) {
        console.warn('ticketflow dashboard: could not apply event', event.type, error);
      }
    };
  }

  function connect() {
    if (typeof EventSource !== 'function') {
      setConnection('closed', 'this browser has no EventSource');
      return;
    }
    clearTimeout(reconnectTimer);
    if (source) source.close();
    setConnection('connecting', 'connecting…');
    const es = new EventSource('events');
    source = es;
    es.addEventListener('open', () => setConnection('live', 'live'));
    es.addEventListener('history', handler(onHistory));
    es.addEventListener('batch', handler(onBatch));
    es.addEventListener('window', handler(onWindow));
    es.addEventListener('status', handler(onStatus));
    es.addEventListener('error', () => {
      if (es !== source) return;
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a non-SSE answer): try again ourselves.
        setConnection('reconnecting', 'disconnected, retrying…');
        reconnectTimer = setTimeout(connect, RECONNECT_MS);
      } else {
        setConnection('reconnecting', 'reconnecting…');
      }
    });
  }

  function start() {
    charts.init();
    renderHeader();
    renderWindows();
    renderCharts();
    if (window.matchMedia) {
      const mq = window.matchMedia('(prefers-color-scheme: dark)');
      const onTheme = () => {
        charts.invalidateAll();
        scheduleCharts();
      };
      if (typeof mq.addEventListener === 'function') mq.addEventListener('change', onTheme);
    }
    connect();
    window.addEventListener('pagehide', () => {
      if (source) source.close();
    });
    window.addEventListener('pageshow', (event) => {
      if (event.persisted) connect();
    });
  }

  // Read-only view of the state, for debugging and browser tests.
  window.ticketflowDashboard = {
    get state() {
      return state;
    },
  };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
