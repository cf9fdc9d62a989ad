// Recording from the microphone: MediaRecorder in whatever container the browser produces (Chromium:
// audio/webm;codecs=opus, Firefox: audio/ogg;codecs=opus, Safari: audio/mp4), the microphone's level
// read from a Web Audio AnalyserNode on the same stream. Stopping gives a File ("recording.webm", ...)
// that the page sends exactly as it sends a chosen or dropped one.

export const MAX_RECORDING_S = 10 * 60; // stopped there: a longer take goes through a job, like a file
const LEVEL_FLOOR_DB = -60; // the meter's zero; 0 dBFS is full

// The file name's extension for the container the browser recorded in (the service sniffs the bytes,
// never the name: this is for the person who downloads the JSON or MIDI).
const EXTENSIONS = {
  "audio/webm": "webm",
  "video/webm": "webm",
  "audio/ogg": "ogg",
  "audio/mp4": "m4a",
  "video/mp4": "m4a",
  "audio/mpeg": "mp3",
  "audio/wav": "wav",
};

export class RecorderError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

// Whether this browser can record here: both APIs exist only in a secure context (https, or a page
// on localhost/127.0.0.1 such as `make serve`'s).
export function canRecord() {
  return typeof globalThis.MediaRecorder === "function" && typeof navigator.mediaDevices?.getUserMedia === "function";
}

// What the person reads when there is no recording: why, and what to do instead.
function refusal(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return new RecorderError(
        "microphone_denied",
        "The browser denied the microphone, so nothing was recorded or sent. Allow the microphone for this page (the icon in the address bar) and record again, or choose a file.",
      );
    case "NotFoundError":
    case "OverconstrainedError":
      return new RecorderError("no_microphone", "No microphone was found, so nothing was recorded or sent: connect one, or choose a file.");
    case "NotReadableError":
    case "AbortError":
      return new RecorderError("microphone_busy", "The microphone could not be opened (another application may hold it), so nothing was recorded or sent.");
    default:
      return new RecorderError("recording_failed", `The recording could not start (${error?.message || error}), so nothing was sent.`);
  }
}

export class Recording {
  // Asks for the microphone and starts recording; onLevel(0..1) is called once per frame while it
  // records, onLimit() when MAX_RECORDING_S is reached (the caller stops). Rejects with a RecorderError.
  static async start({ onLevel = () => {}, onLimit = () => {} } = {}) {
    if (!canRecord()) {
      throw new RecorderError(
        "recording_unsupported",
        "This browser cannot record audio here (no MediaRecorder or microphone access; a page served over plain http from another machine has neither), so nothing was sent: choose a file instead.",
      );
    }
    let stream;
    try {
      // Music, not a call: no echo cancellation, noise suppression or gain riding, which eat sustained
      // tones and reshape onsets.
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (error) {
      throw refusal(error);
    }
    try {
      return new Recording(stream, onLevel, onLimit);
    } catch (error) {
      for (const track of stream.getTracks()) track.stop();
      throw refusal(error);
    }
  }

  constructor(stream, onLevel, onLimit) {
    this.stream = stream;
    this.chunks = [];
    this.recorder = new MediaRecorder(stream); // the browser's own container and codec
    this.recorder.addEventListener("dataavailable", (event) => event.data.size && this.chunks.push(event.data));
    this.stopped = new Promise((resolve, reject) => {
      this.recorder.addEventListener("stop", resolve);
      this.recorder.addEventListener("error", (event) => reject(refusal(event.error)));
    });
    this.recorder.start(1000); // a chunk a second: nothing is lost if the tab stops it abruptly
    this.startedAt = performance.now();

    this.context = new AudioContext();
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.context.createMediaStreamSource(stream).connect(this.analyser); // measured, not played back
    this.samples = new Float32Array(this.analyser.fftSize);
    this.context.resume().catch(() => {}); // the click that started it allows audio
    const measure = () => {
      if (this.recorder.state !== "recording") return;
      onLevel(this.level());
      if (this.seconds() >= MAX_RECORDING_S) onLimit();
      else requestAnimationFrame(measure);
    };
    requestAnimationFrame(measure);
  }

  // The microphone's level now: RMS over the analyser's last 2048 samples, in dBFS mapped to 0..1.
  level() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const sample of this.samples) sum += sample * sample;
    const rms = Math.sqrt(sum / this.samples.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
    return Math.min(1, Math.max(0, (db - LEVEL_FLOOR_DB) / -LEVEL_FLOOR_DB));
  }

  seconds() {
    return (performance.now() - this.startedAt) / 1000;
  }

  // Stops recording and releases the microphone; resolves to the recording as a File.
  async stop() {
    if (this.recorder.state !== "inactive") this.recorder.stop();
    try {
      await this.stopped;
    } finally {
      this.release();
    }
    const type = (this.recorder.mimeType || this.chunks[0]?.type || "").split(";", 1)[0].trim().toLowerCase();
    const extension = EXTENSIONS[type] || "webm";
    if (this.chunks.length === 0) throw new RecorderError("empty_recording", "The recording is empty: nothing was sent.");
    return new File(this.chunks, `recording.${extension}`, { type: type || "application/octet-stream" });
  }

  release() {
    for (const track of this.stream.getTracks()) track.stop();
    this.context.close().catch(() => {});
  }
}
