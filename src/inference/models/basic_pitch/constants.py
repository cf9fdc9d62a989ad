"""Basic Pitch's fixed geometry (ICASSP 2022 model), from the published algorithm."""

from __future__ import annotations

SAMPLE_RATE = 22_050
FFT_HOP = 256
FRAMES_PER_SECOND = SAMPLE_RATE // FFT_HOP  # 86: the reference uses the integer rate
WINDOW_SECONDS = 2
WINDOW_SAMPLES = SAMPLE_RATE * WINDOW_SECONDS - FFT_HOP  # 43,844 samples in one model input
WINDOW_FRAMES = FRAMES_PER_SECOND * WINDOW_SECONDS  # 172 output frames per window
OVERLAP_FRAMES = 30
OVERLAP_SAMPLES = OVERLAP_FRAMES * FFT_HOP  # 7,680
WINDOW_HOP_SAMPLES = WINDOW_SAMPLES - OVERLAP_SAMPLES  # 36,164
LEAD_PADDING_SAMPLES = OVERLAP_SAMPLES // 2  # zeros before the audio so frame 0 is centred

N_PITCHES = 88
MIDI_OFFSET = 21  # pitch index 0 = A0 = MIDI 21
MAX_PITCH_INDEX = N_PITCHES - 1
CONTOUR_BINS_PER_SEMITONE = 3
N_CONTOUR_BINS = N_PITCHES * CONTOUR_BINS_PER_SEMITONE
BASE_FREQUENCY_HZ = 27.5

INPUT_NAME = "serving_default_input_2:0"
OUTPUT_NOTE = "StatefulPartitionedCall:1"
OUTPUT_ONSET = "StatefulPartitionedCall:2"
OUTPUT_CONTOUR = "StatefulPartitionedCall:0"
F32_FRONT_OUTPUT = ("model_1/batch_normalization/FusedBatchNormV3;model_1/batch_normalization/FusedBatchNormV33",)
"""The normalised log-CQT, (batch, 172, 309, 1): `fast` keeps the network up to here in f32 (the
transform, the log, the normalisation; ~8% of its multiply-adds)."""
F32_HEADS_INPUTS = ("Relu__38:0", "Relu__35:0")
"""The outputs (after ReLU) of the body's two convolutions on the harmonic stack, 8x8 3x39 and 8x32
5x5 (~90% of the work): the cut of `fast` before int8 (bf16 body, all three output heads in f32), kept
as a point of make evaluate's frontier. bf16 in the note and onset heads moves notes of sparse, legato
files (docs/performance.md); the contour head alone in bf16 does not, hence F32_NOTE_ONSET_INPUTS."""
F32_NOTE_ONSET_INPUTS = ("StatefulPartitionedCall:0", "Relu__35:0")
"""The contour map and the 8x32 5x5 convolution's output (after ReLU): what the note and onset heads
read. `fast` on a CPU with bf16 keeps only those two heads in f32 (the contour head, one 8x1 5x5
convolution, joins the bf16 stage: its map is the contour output, carried through the last stage)."""
INT8_BODY_INPUT = (
    "model_1/re_lu_3/Relu;model_1/re_lu_3/Relu;model_1/batch_normalization_3/FusedBatchNormV3;"
    "model_1/batch_normalization_3/FusedBatchNormV3;model_1/conv2d_4/BiasAdd/ReadVariableOp;"
    "model_1/conv2d_4/BiasAdd/ReadVariableOp;model_1/conv2d_4/BiasAdd;model_1/conv2d_4/BiasAdd;"
    "model_1/conv2d_2/Conv2D;model_1/conv2d_2/Conv2D;model_1/conv2d_4/Conv2D;model_1/conv2d_4/Conv2D1__376:0"
)
"""The harmonic stack, (batch, 8, 172, 264), which both body convolutions read: `fast` runs the first,
INT8_CONVOLUTION, in int8 (the 8x32 5x5 one in int8 cost the violin 0.03 of F1 with the weights rounded
to nearest; with their row sums kept, runtimes.Int8Input's default, it costs none there, but on real music
fast's split with both in int8 keeps 0.957 against 0.970, and it was no faster: docs/performance.md)."""
INT8_CONVOLUTION = "model_1/re_lu_1/"
"""The 8x8 3x39 convolution on the harmonic stack (its friendly name's prefix): ~70% of the work."""
INT8_BODY_RANGE = (-0.8769183158874512, 1.6038227081298828)
"""The harmonic stack's range, calibrated on generated audio (tests/runtime/test_precision.py recomputes
it): the front end scales each window's log-CQT to [0, 1] before its batch normalisation, so every
window, silence and clipping included, lands in this range; it is the network's, not the audio's (on
the real-music set it spans exactly this and clips nothing: measurement/precision_diagnose.py)."""

# Scratch space a streamed transcription writes per second of audio, at most (predict_stream and
# file_notes): the note and onset maps as the model writes them, the frames and the remaining energy
# by pitch, the contour map when pitch bends are wanted, and, when every cell qualifies, the onset
# peaks (8 bytes each) and the melodia candidates (16 bytes each). Typical music needs about a third.
SCRATCH_BYTES_PER_AUDIO_SECOND = FRAMES_PER_SECOND * (4 * N_PITCHES * 4 + N_CONTOUR_BINS * 4 + N_PITCHES * (8 + 16))

# The output budget: what one transcription may produce, in proportion to the audio (docs/api.md, Budgets).
# A real dense mix gives ~10 notes per second; the budget stops degenerate parameters (thresholds near 0 make
# nearly every cell a note) while producing, before the answer outgrows its platform limits.
MAX_NOTES_PER_AUDIO_SECOND = 100
MIN_NOTE_BUDGET = 1_000
"""A short clip may still have this many notes whatever its length."""
MAX_BEND_VOICES = 16
"""Pitch bends: one value per frame per note, for at most this many notes sounding at once on average."""
