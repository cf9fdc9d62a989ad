// The page: choose or drop a file, see upload and job progress, then the notes as a piano roll with the
// audio playing under a cursor; the thresholds re-transcribe; MIDI and JSON download.

import { Api, ApiError } from "./api.js";
import { PianoRoll } from "./piano-roll.js";

const $ = (id) => document.getElementById(id);
const STORAGE_KEY = "audio-inference-api";

const state = { file: null, audioUrl: null, jsonUrl: null, run: 0 };
const roll = new PianoRoll($("piano-roll"), $("cursor"));

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
  const text = error instanceof ApiError ? error.describe() : `Something went wrong in the page: ${error.message}`;
  $("error").textContent = text;
  $("error").hidden = false;
  $("progress").hidden = true;
  setState("error");
}

function parameters() {
  return {
    onset_threshold: Number($("onset-threshold").value),
    frame_threshold: Number($("frame-threshold").value),
  };
}

async function transcribe() {
  if (!state.file) return;
  const run = ++state.run; // a newer run (thresholds moved again) wins
  const api = new Api($("api-url").value.trim() || defaultApiUrl(), $("api-key").value.trim());
  $("error").hidden = true;
  setState("uploading");
  showProgress("Uploading", 0);
  try {
    const answer = await api.transcribe(state.file, parameters(), {
      onUpload: (fraction) => run === state.run && showProgress("Uploading", fraction),
      onJob: (status) => {
        if (run !== state.run) return;
        setState("running");
        showProgress(`Job ${status.replace("_", " ")}`, null);
      },
    });
    if (run === state.run) showResult(answer);
  } catch (error) {
    if (run === state.run) showError(error);
  }
}

function showResult({ document: result, midiUrl, via, reference }) {
  $("progress").hidden = true;
  $("result").hidden = false;
  $("notes-count").textContent = String(result.notes.length);
  $("result").dataset.notes = String(result.notes.length);
  $("duration").textContent = `${result.audio.duration_s.toFixed(1)} s of audio`;
  $("via").textContent = via === "predict" ? `request ${reference}` : `job ${reference}`;
  roll.show(result.notes, result.audio.duration_s);
  roll.moveCursor($("player").currentTime); // a re-transcription keeps the playing position

  const stem = state.file.name.replace(/\.[^.]+$/, "") || "audio";
  const midi = $("download-midi");
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

function followPlayback() {
  roll.moveCursor($("player").currentTime);
  if (!$("player").paused) requestAnimationFrame(followPlayback);
}

function wire() {
  loadSettings();
  for (const id of ["api-url", "api-key", "remember"]) $(id).addEventListener("change", saveSettings);
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

  for (const id of ["onset-threshold", "frame-threshold"]) {
    const slider = $(id);
    const shown = document.querySelector(`output[for="${id}"]`);
    slider.addEventListener("input", () => (shown.textContent = Number(slider.value).toFixed(2)));
    slider.addEventListener("change", transcribe); // on release: one request per move
  }

  const player = $("player");
  player.addEventListener("play", () => requestAnimationFrame(followPlayback));
  player.addEventListener("seeked", () => roll.moveCursor(player.currentTime));
  $("piano-roll").addEventListener("click", (event) => {
    player.currentTime = roll.timeAt(event.clientX);
    roll.moveCursor(player.currentTime);
  });
  window.addEventListener("resize", () => roll.notes.length && roll.draw());
}

wire();
