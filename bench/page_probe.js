// Bench-only instrumentation (bench/bench_page.py adds it as an init script; the
// console never loads it): where the browser's share of a reply's latency goes.
//
// Every RTCPeerConnection the page makes is kept, and every 5 ms for 1.5 s after each
// release each audio receiver's synchronization sources are read (synchronous; getStats
// lagged by 100 ms and more). For each reply (a talk spurt: the agent's paced source sends no packets
// between replies) it records deliveredAt, on the page's clock (performance.now()): when
// its first audio frame left the jitter buffer for the track. (Their audioLevel stays
// unset here: the agent's packets carry no audio-level header the browser reads.)
// window.__pttProbe.spurts holds them; a spurt starts after GAP_MS with no frame.
// jitter() gives the receivers' jitter buffer figures; contextInfo() the AudioContexts;
// worklets the AudioWorkletNodes made (the page's onset detector is one); longTasks the
// main thread's long tasks.

(() => {
  const GAP_MS = 300;
  const POLL_MS = 5;
  const ARMED_MS = 1500; // after each release: the reply's first frame comes well within it
  const probe = { pcs: [], contexts: [], spurts: [], polls: 0, longTasks: [] };
  window.__pttProbe = probe;
  // the main thread's long tasks (≥ 50 ms), [start, duration] on the page's clock: text
  // and the page's marks wait for them (the audio onset does not: it is the worklet's)
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: 'longtask', buffered: true });
  const NativeContext = window.AudioContext;
  window.AudioContext = class extends NativeContext {
    constructor(...args) {
      super(...args);
      probe.contexts.push(this);
    }
  };
  /** The page's AudioContexts: rate and latencies (s), for the bench's report. */
  probe.contextInfo = () =>
    probe.contexts.map((c) => ({
      sample_rate: c.sampleRate,
      base_latency_s: c.baseLatency,
      output_latency_s: c.outputLatency,
      state: c.state,
    }));
  probe.worklets = [];
  const NativeWorklet = window.AudioWorkletNode;
  window.AudioWorkletNode = class extends NativeWorklet {
    constructor(context, name, ...rest) {
      super(context, name, ...rest);
      probe.worklets.push(name);
    }
  };
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      probe.pcs.push(this);
    }
  };
  // per receiver: the newest delivery seen and the spurt it belongs to
  const seen = new Map();

  // Chromium has given this timestamp on the Unix clock in some versions: to page time
  const pageTime = (t) => (t > 1e11 ? t - (performance.timeOrigin ?? Date.now() - performance.now()) : t);

  function poll() {
    probe.polls += 1;
    const now = performance.now();
    for (const pc of probe.pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const receiver of pc.getReceivers()) {
        if (receiver.track?.kind !== 'audio') continue;
        for (const src of receiver.getSynchronizationSources()) {
          const key = `${receiver.track.id}:${src.source}`;
          const prev = seen.get(key);
          if (prev && src.timestamp === prev.timestamp) continue;
          let spurt = prev?.spurt ?? null;
          if (!prev || src.timestamp - prev.timestamp > GAP_MS) {
            spurt = { key, deliveredAt: pageTime(src.timestamp), seenAt: now };
            probe.spurts.push(spurt);
          }
          seen.set(key, { timestamp: src.timestamp, spurt });
        }
      }
    }
  }

  probe.jitter = async () => {
    const out = [];
    for (const pc of probe.pcs) {
      for (const receiver of pc.getReceivers()) {
        if (receiver.track?.kind !== 'audio' || pc.connectionState === 'closed') continue;
        (await receiver.getStats()).forEach((s) => {
          if (s.type !== 'inbound-rtp') return;
          const emitted = s.jitterBufferEmittedCount || 1;
          out.push({
            avg_delay_ms: (1000 * (s.jitterBufferDelay ?? 0)) / emitted,
            avg_target_ms: (1000 * (s.jitterBufferTargetDelay ?? 0)) / emitted,
            avg_minimum_ms: (1000 * (s.jitterBufferMinimumDelay ?? 0)) / emitted,
            concealed_samples: s.concealedSamples,
            total_samples: s.totalSamplesReceived,
          });
        });
      }
    }
    return out;
  };

  // getSynchronizationSources() is not free: polled all session long it was a fifth of
  // the main thread (CDP profile), and delayed the very text whose timing is measured.
  // Only the first frame of each reply counts, so it is polled from each release on.
  let armedUntil = 0;
  new MutationObserver((records) => {
    for (const r of records) {
      const released = r.target.getAttribute('aria-pressed') === 'false';
      if (r.target.dataset?.testid === 'ptt-button' && released) {
        armedUntil = performance.now() + ARMED_MS;
      }
    }
  }).observe(document, { subtree: true, attributeFilter: ['aria-pressed'] });
  setInterval(() => {
    if (performance.now() < armedUntil) poll();
  }, POLL_MS);
})();
