// The page: choose a model (GET /health lists them) and a file (or record one from the microphone), see upload and job progress, then the
// result with the audio playing under a cursor: Basic Pitch's notes as a piano roll (MIDI and JSON
// download), Silero VAD's speech segments as a timeline under the waveform (JSON download). The chosen
// model's parameters re-run it.

import { Api, ApiError } from "./api.js";
import { PianoRoll } from "./piano-roll.js";
import { Recording, RecorderError } from "./recorder.js";
import { SpeechTimeline } from "./timeline.js";

const $ = (id) => document.getElementById(id);
const STORAGE_KEY = "audio-inference-api";
const VIEWS = { "basic-pitch": "notes", "silero-vad": "speech" }; // how each model's result is drawn

const state = { file: null, audioUrl: null, jsonUrl: null, run: 0, modelsLoad: 0, view: null, models: Promise.resolve(), recording: null };
const roll = new PianoRoll($("piano-roll"), $("cursor"));
const timeline = new SpeechTimeline({
  waveform: $("waveform"),
  timeline: $("timeline"),
  cursor: $("speech-cursor"),
  list: $("segments-list"),
});

function defaultApiUrl() {
  return location.protocol.startsWith("http") ? location.origin : "http://127.0.0.1:8080";
}

// "remember" keeps the API's URL only: the key lives in this tab's memory and is never written to
// storage, where any script that ever runs on this origin could read it.
function loadSettings() {
  const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  if (saved && "key" in saved) localStorage.setItem(STORAGE_KEY, JSON.stringify({ url: saved.url })); // an older page's
  $("api-url").value = saved?.url || defaultApiUrl();
  $("remember").checked = Boolean(saved);
}

function saveSettings() {
  if ($("remember").checked) {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ url: $("api-url").value }));
  } else {
    localStorage.removeItem(STORAGE_KEY);
  }
}

function setState(name) {
  document.body.dataset.state = name;
  if (name === "done" || name === "error") document.body.dataset.finished = String(state.run); // runs answered
}

function showProgress(label, fraction) {
  $("progress").hidden = false;
  $("progress-label").textContent = label;
  if (fraction === null) $("progress-bar").removeAttribute("value");
  else $("progress-bar").value = fraction;
}

function showError(error) {
  const text =
    error instanceof ApiError
      ? error.describe()
      : error instanceof RecorderError
        ? error.message
        : `Something went wrong in the page: ${error.message}`;
  $("error").textContent = text;
  $("error").hidden = false;
  $("progress").hidden = true;
  setState("error");
}

function api() {
  return new Api($("api-url").value.trim() || defaultApiUrl(), $("api-key").value.trim());
}

// The model selector, filled from GET /health (the default first, chosen); if the API cannot be asked,
// one entry for the service's default, which sends no model.
function loadModels() {
  const select = $("model");
  const previous = select.value;
  const load = ++state.modelsLoad; // a newer load (the API URL changed) wins over a slower, older answer
  state.models = Promise.resolve()
    .then(() => api().models()) // an API URL the page refuses (http off this machine) throws here
    .catch(() => [])
    .then((models) => {
      if (load !== state.modelsLoad) return;
      const options = models.map(({ name, version }) => {
        const option = document.createElement("option");
        option.value = name;
        option.textContent = version ? `${name} ${version}` : name;
        return option;
      });
      if (options.length === 0) options.push(new Option("the service's default", ""));
      select.replaceChildren(...options);
      if (models.some(({ name }) => name === previous)) select.value = previous;
      showParameters();
    });
  return state.models;
}

// Only the chosen model's parameter fields are shown, and only they are sent.
function showParameters() {
  for (const fieldset of document.querySelectorAll("fieldset.parameters")) {
    fieldset.hidden = fieldset.dataset.model !== $("model").value;
  }
}

function parameters() {
  const fieldset = document.querySelector(`fieldset.parameters[data-model="${CSS.escape($("model").value)}"]`);
  const values = {};
  for (const input of fieldset ? fieldset.querySelectorAll("input[data-parameter]") : []) {
    if (input.value !== "") values[input.dataset.parameter] = Number(input.value);
  }
  return values;
}

async function transcribe() {
  if (!state.file) return;
  const run = ++state.run; // a newer run (parameters moved again, another model) wins
  $("error").hidden = true;
  setState("uploading");
  showProgress("Uploading", 0);
  await state.models; // the selector is filled before its value is read
  try {
    const answer = await api().transcribe(state.file, $("model").value, parameters(), {
      onUpload: (fraction) => run === state.run && showProgress("Uploading", fraction),
      onJob: (status) => {
        if (run !== state.run) return;
        setState("running");
        showProgress(`Job ${status.replace("_", " ")}`, null);
      },
    });
    if (run === state.run) await showResult(answer);
  } catch (error) {
    if (run === state.run) showError(error);
  }
}

function showView(view) {
  state.view = view;
  for (const element of document.querySelectorAll("#result .view")) element.hidden = element.dataset.view !== view;
  $("notes-summary").hidden = view !== "notes";
  $("speech-summary").hidden = view !== "speech";
  $("other-summary").hidden = view !== null;
  $("result").dataset.view = view || "";
}

async function showResult({ document: result, midiUrl, via, reference }) {
  $("progress").hidden = true;
  $("result").hidden = false;
  const name = String(result.model?.name ?? "");
  const view = Object.hasOwn(VIEWS, name) ? VIEWS[name] : null; // a model the page does not draw: its JSON
  showView(view);
  $("other-summary").textContent = `${name} result`;
  $("duration").textContent = `${result.audio.duration_s.toFixed(1)} s of audio`;
  $("via").textContent = via === "predict" ? `request ${reference}` : `job ${reference}`;
  const position = $("player").currentTime; // a re-run keeps the playing position
  if (view === "notes") {
    $("notes-count").textContent = String(result.notes.length);
    $("result").dataset.notes = String(result.notes.length);
    roll.show(result.notes, result.audio.duration_s);
    roll.moveCursor(position);
  } else if (view === "speech") {
    $("segments-count").textContent = String(result.segments.length);
    $("result").dataset.segments = String(result.segments.length);
    const ratio = Math.round(100 * result.speech_ratio);
    $("speech-time").textContent = `${result.speech_s.toFixed(1)} s of speech (${ratio}%)`;
    await timeline.show(state.file, result.segments, result.audio.duration_s);
    timeline.moveCursor(position);
  }

  const stem = state.file.name.replace(/\.[^.]+$/, "") || "audio";
  const midi = $("download-midi");
  midi.hidden = view !== "notes"; // only a model with notes has MIDI
  if (midiUrl) {
    midi.href = midiUrl; // api.js passed it only if https (or loopback http)
    midi.removeAttribute("aria-disabled");
  } else {
    midi.removeAttribute("href"); // not a link at all: nothing to click through to
    midi.setAttribute("aria-disabled", "true");
  }
  midi.download = `${stem}.mid`;
  if (state.jsonUrl) URL.revokeObjectURL(state.jsonUrl);
  state.jsonUrl = URL.createObjectURL(new Blob([JSON.stringify(result, null, 2)], { type: "application/json" }));
  $("download-json").href = state.jsonUrl;
  $("download-json").download = `${stem}.json`;
  setState("done");
}

function choose(file) {
  if (!file) return;
  state.file = file;
  if (state.audioUrl) URL.revokeObjectURL(state.audioUrl);
  state.audioUrl = URL.createObjectURL(file);
  $("player").src = state.audioUrl;
  $("result").hidden = true;
  transcribe();
}

// The record button: the microphone's level on the meter while it records, then the recording is
// chosen like a file (same path: /predict or a job, the same result). A refused microphone, or a
// browser without MediaRecorder, shows why in the page and sends nothing.
async function startRecording() {
  if (state.recording) return;
  $("error").hidden = true;
  $("record").disabled = true;
  let recording;
  try {
    recording = await Recording.start({
      onLevel: (level) => {
        $("level").value = level;
        $("record-time").textContent = clock(recording?.seconds() ?? 0);
      },
      onLimit: stopRecording,
    });
  } catch (error) {
    $("record").disabled = false;
    showError(error);
    return;
  }
  state.recording = recording;
  $("record").hidden = true;
  $("stop").hidden = false;
  $("level").hidden = false;
  $("record-time").hidden = false;
  $("stop").focus();
  setState("recording");
}

async function stopRecording() {
  const recording = state.recording;
  if (!recording) return;
  state.recording = null;
  $("stop").hidden = true;
  $("level").hidden = true;
  $("level").value = 0;
  $("record-time").hidden = true;
  $("record").hidden = false;
  $("record").disabled = false;
  let file;
  try {
    file = await recording.stop();
  } catch (error) {
    showError(error);
    return;
  }
  choose(file);
}

function clock(seconds) {
  const whole = Math.floor(seconds);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function moveCursors(time) {
  if (state.view === "notes") roll.moveCursor(time);
  if (state.view === "speech") timeline.moveCursor(time);
}

function followPlayback() {
  moveCursors($("player").currentTime);
  if (!$("player").paused) requestAnimationFrame(followPlayback);
}

function wire() {
  loadSettings();
  loadModels();
  for (const id of ["api-url", "api-key", "remember"]) $(id).addEventListener("change", saveSettings);
  $("api-url").addEventListener("change", loadModels);
  $("model").addEventListener("change", () => {
    showParameters();
    transcribe();
  });
  $("file").addEventListener("change", (event) => choose(event.target.files[0]));

  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  zone.addEventListener("keydown", (event) => (event.key === "Enter" || event.key === " ") && $("file").click());
  $("record").addEventListener("click", startRecording);
  $("stop").addEventListener("click", stopRecording);

  for (const input of document.querySelectorAll("fieldset.parameters input[data-parameter]")) {
    const shown = document.querySelector(`output[for="${input.id}"]`);
    if (shown) input.addEventListener("input", () => (shown.textContent = Number(input.value).toFixed(2)));
    input.addEventListener("change", transcribe); // on release (or a number entered): one request per change
  }

  const player = $("player");
  // Chromium's MediaRecorder writes a WebM without its duration (the player says Infinity, its bar cannot
  // seek): one seek past the end makes the player read it through, then back to the start.
  player.addEventListener("loadedmetadata", () => {
    if (player.duration !== Infinity) return;
    player.addEventListener("durationchange", () => (player.currentTime = 0), { once: true });
    player.currentTime = Number.MAX_SAFE_INTEGER;
  });
  player.addEventListener("play", () => requestAnimationFrame(followPlayback));
  player.addEventListener("seeked", () => moveCursors(player.currentTime));
  $("piano-roll").addEventListener("click", (event) => {
    player.currentTime = roll.timeAt(event.clientX);
    moveCursors(player.currentTime);
  });
  $("speech-frame").addEventListener("click", (event) => {
    player.currentTime = timeline.timeAt(event.clientX);
    moveCursors(player.currentTime);
  });
  window.addEventListener("resize", () => {
    if (state.view === "notes" && roll.notes.length) roll.draw();
    if (state.view === "speech") timeline.draw();
  });
}

wire();
