// A piano roll on a canvas: time on x, pitch on y (one row per semitone, C rows marked), velocity as
// the shade of each note. The cursor is an element moved over it, so playing never redraws the notes.

const LEFT_MARGIN = 36; // pitch labels
const NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

export class PianoRoll {
  constructor(canvas, cursor) {
    this.canvas = canvas;
    this.cursor = cursor;
    this.notes = [];
    this.duration = 1;
  }

  // notes: the result document's notes; duration: the audio's length in seconds.
  show(notes, duration) {
    this.notes = notes;
    this.duration = Math.max(duration, 0.001);
    this.draw();
    this.moveCursor(0);
  }

  draw() {
    const { canvas } = this;
    const scale = window.devicePixelRatio || 1;
    canvas.width = Math.round(canvas.clientWidth * scale);
    canvas.height = Math.round(canvas.clientHeight * scale);
    const context = canvas.getContext("2d");
    context.setTransform(scale, 0, 0, scale, 0, 0);
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    context.clearRect(0, 0, width, height);

    const pitches = this.notes.map((note) => note.pitch);
    const low = Math.max(21, (pitches.length ? Math.min(...pitches) : 60) - 2);
    const high = Math.min(108, (pitches.length ? Math.max(...pitches) : 72) + 2);
    const rowHeight = height / (high - low + 1);
    const y = (pitch) => (high - pitch) * rowHeight;
    const x = (seconds) => LEFT_MARGIN + (seconds / this.duration) * (width - LEFT_MARGIN);

    context.font = "11px system-ui, sans-serif";
    context.textBaseline = "middle";
    for (let pitch = low; pitch <= high; pitch++) {
      const name = NOTE_NAMES[pitch % 12];
      context.fillStyle = name.includes("#") ? "#f1f3f8" : "#ffffff";
      context.fillRect(LEFT_MARGIN, y(pitch), width - LEFT_MARGIN, rowHeight);
      if (name === "C") {
        context.fillStyle = "#677086";
        context.fillText(`C${Math.floor(pitch / 12) - 1}`, 4, y(pitch) + rowHeight / 2);
        context.fillStyle = "#dfe3ec";
        context.fillRect(LEFT_MARGIN, y(pitch) + rowHeight - 1, width - LEFT_MARGIN, 1);
      }
    }
    for (const note of this.notes) {
      const lightness = 78 - (note.velocity / 127) * 50; // loud notes dark
      context.fillStyle = `hsl(218 72% ${lightness}%)`;
      const left = x(note.start_s);
      context.fillRect(left, y(note.pitch) + 0.5, Math.max(x(note.end_s) - left, 1.5), Math.max(rowHeight - 1, 1));
    }
  }

  moveCursor(seconds) {
    const width = this.canvas.clientWidth;
    const left = LEFT_MARGIN + (Math.min(seconds, this.duration) / this.duration) * (width - LEFT_MARGIN);
    this.cursor.style.transform = `translateX(${left}px)`;
  }

  // The time under a click, for seeking.
  timeAt(clientX) {
    const box = this.canvas.getBoundingClientRect();
    const fraction = (clientX - box.left - LEFT_MARGIN) / (box.width - LEFT_MARGIN);
    return Math.min(Math.max(fraction, 0), 1) * this.duration;
  }
}
