// AudioWorklet: a track's samples (the microphone's, the agent's), in batches, with the
// context frame of each batch's first sample (capture.js turns that into the page's clock).

const BATCH = 1024; // 8 render quanta, ~21 ms at 48 kHz

class PttCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new Float32Array(BATCH);
    this.filled = 0;
    this.firstFrame = 0;
  }

  process(inputs) {
    const channel = inputs[0]?.[0];
    if (channel) {
      if (this.filled === 0) this.firstFrame = currentFrame;
      const n = Math.min(channel.length, BATCH - this.filled);
      this.buffer.set(channel.subarray(0, n), this.filled);
      this.filled += n;
      if (this.filled === BATCH) {
        this.port.postMessage({ frame: this.firstFrame, samples: this.buffer });
        this.buffer = new Float32Array(BATCH);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor('ptt-capture', PttCapture);
