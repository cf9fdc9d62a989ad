// Speech segments as a timeline under the audio's waveform: the waveform on a canvas (decoded in the
// browser from the chosen file, speech shaded), one bar per segment on a strip below it over the
// audio's whole duration, and the segments' times listed. A cursor follows playback over both.
// Bars and list are DOM elements positioned through the CSSOM (no inline styles: the page's CSP).

const WAVE = "#8a93a8";
const SPEECH_SHADE = "rgba(46, 158, 91, 0.16)";
const PEAK_COLUMNS = 2048; // the waveform's resolution, whatever the audio's length
const DECODE_RATE = 8000; // enough for an envelope; keeps an hour's decoded audio to ~115 MB briefly
const MAX_DECODED_BYTES = 100 * 1024 * 1024; // larger files: the timeline alone, no waveform

export class SpeechTimeline {
  constructor({ waveform, timeline, cursor, list }) {
    Object.assign(this, { waveform, timeline, cursor, list });
    this.segments = [];
    this.duration = 1;
    this.peaks = null; // [min, max] per column of the decoded audio, or null where it could not be decoded
    this.decoded = null; // {file, promise}: decode each chosen file once
  }

  // Decode the file's audio (once per file) for the waveform; a format the browser cannot decode
  // leaves the waveform empty, the timeline still drawn.
  async load(file) {
    if (this.decoded?.file !== file) {
      this.decoded = { file, promise: decode(file) };
    }
    return this.decoded.promise;
  }

  // segments: the result document's [{start_s, end_s}]; duration: the audio's length in seconds.
  async show(file, segments, duration) {
    this.segments = segments;
    this.duration = Math.max(duration, 0.001);
    this.renderBars();
    this.renderList();
    this.peaks = await this.load(file);
    this.draw();
  }

  renderBars() {
    const bars = this.segments.map(({ start_s, end_s }) => {
      const bar = document.createElement("div");
      bar.className = "segment";
      bar.style.left = `${(100 * start_s) / this.duration}%`;
      bar.style.width = `${(100 * (end_s - start_s)) / this.duration}%`;
      bar.title = `${seconds(start_s)} – ${seconds(end_s)}`;
      bar.dataset.start = String(start_s);
      bar.dataset.end = String(end_s);
      return bar;
    });
    this.timeline.replaceChildren(...bars);
  }

  renderList() {
    const items = this.segments.map(({ start_s, end_s }) => {
      const item = document.createElement("li");
      item.textContent = `${seconds(start_s)} – ${seconds(end_s)} (${(end_s - start_s).toFixed(2)} s)`;
      return item;
    });
    this.list.replaceChildren(...items);
  }

  draw() {
    const canvas = this.waveform;
    const scale = window.devicePixelRatio || 1;
    canvas.width = Math.round(canvas.clientWidth * scale);
    canvas.height = Math.round(canvas.clientHeight * scale);
    const context = canvas.getContext("2d");
    context.setTransform(scale, 0, 0, scale, 0, 0);
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    context.clearRect(0, 0, width, height);

    context.fillStyle = SPEECH_SHADE;
    for (const { start_s, end_s } of this.segments) {
      const left = (start_s / this.duration) * width;
      context.fillRect(left, 0, Math.max(((end_s - start_s) / this.duration) * width, 1), height);
    }
    const peaks = this.peaks;
    if (!peaks) return;
    const middle = height / 2;
    context.fillStyle = WAVE;
    const columns = peaks.length / 2;
    for (let x = 0; x < width; x++) {
      const first = Math.floor((x / width) * columns);
      const last = Math.max(first + 1, Math.floor(((x + 1) / width) * columns));
      let low = 0;
      let high = 0;
      for (let column = first; column < last; column++) {
        low = Math.min(low, peaks[2 * column]);
        high = Math.max(high, peaks[2 * column + 1]);
      }
      context.fillRect(x, middle - high * middle, 1, Math.max((high - low) * middle, 1));
    }
  }

  moveCursor(time) {
    const width = this.waveform.clientWidth;
    this.cursor.style.transform = `translateX(${(Math.min(time, this.duration) / this.duration) * width}px)`;
  }

  // The time under a click, for seeking.
  timeAt(clientX) {
    const box = this.waveform.getBoundingClientRect();
    return Math.min(Math.max((clientX - box.left) / box.width, 0), 1) * this.duration;
  }
}

// The file's envelope: [min, max] of its first channel in PEAK_COLUMNS columns (OfflineAudioContext:
// decoding needs no audio device); null when the browser cannot decode it or it is too large to.
async function decode(file) {
  if (file.size > MAX_DECODED_BYTES) return null;
  let samples;
  try {
    const context = new OfflineAudioContext(1, 1, DECODE_RATE);
    samples = (await context.decodeAudioData(await file.arrayBuffer())).getChannelData(0);
  } catch {
    return null;
  }
  const peaks = new Float32Array(2 * PEAK_COLUMNS);
  const perColumn = samples.length / PEAK_COLUMNS;
  for (let column = 0; column < PEAK_COLUMNS; column++) {
    let low = 0;
    let high = 0;
    const end = Math.min(samples.length, Math.floor((column + 1) * perColumn));
    for (let i = Math.floor(column * perColumn); i < end; i++) {
      if (samples[i] < low) low = samples[i];
      else if (samples[i] > high) high = samples[i];
    }
    peaks[2 * column] = low;
    peaks[2 * column + 1] = high;
  }
  return peaks;
}

function seconds(value) {
  return `${value.toFixed(2)} s`;
}
