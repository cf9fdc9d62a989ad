"""Run basic-pitch 0.4.0's own predict() (ONNX backend) — executed INSIDE the reference venv.

Usage: python reference_predict.py PARAMS_JSON FILE... ; prints one JSON object
per file: {"file", "notes": [[start_s, end_s, pitch, amplitude], ...], "seconds"}, or
{"file", "error"} where the reference could not read or transcribe it (the others still run).
With REFERENCE_DECODED_DIR set, each file's samples as the reference's decoder reads them (librosa.load
at the file's own rate and channels: libsndfile, else audioread) are written there too, as
<file name>.wav in 32-bit float, for ours to transcribe the very samples the reference saw.
Only the reference's code runs here; the project's code never imports it.
"""

import json
import logging
import os
import sys
import time

logging.disable(logging.WARNING)  # the package warns about every backend it does not find

t0 = time.perf_counter()
from basic_pitch import FilenameSuffix, build_icassp_2022_model_path  # noqa: E402
from basic_pitch.inference import Model, predict  # noqa: E402

model = Model(build_icassp_2022_model_path(FilenameSuffix.onnx))
load_seconds = time.perf_counter() - t0
print(json.dumps({"import_and_load_seconds": load_seconds}), flush=True)

params = json.loads(sys.argv[1])
for path in sys.argv[2:]:
    start = time.perf_counter()
    import contextlib
    import io

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            _, _, events = predict(
                path,
                model,
                onset_threshold=params.get("onset_threshold", 0.5),
                frame_threshold=params.get("frame_threshold", 0.3),
                minimum_note_length=params.get("minimum_note_length_ms", 127.70),
                minimum_frequency=params.get("minimum_frequency_hz"),
                maximum_frequency=params.get("maximum_frequency_hz"),
                melodia_trick=params.get("melodia_trick", True),
            )
    except Exception as exc:  # a file it cannot decode is a result: say which and why
        print(json.dumps({"file": path, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        continue
    seconds = time.perf_counter() - start
    if os.environ.get("REFERENCE_DECODED_DIR"):
        import librosa
        import soundfile

        samples, rate = librosa.load(path, sr=None, mono=False)
        target = os.path.join(os.environ["REFERENCE_DECODED_DIR"], os.path.basename(path) + ".wav")
        soundfile.write(target, samples.T, rate, subtype="FLOAT")
    notes = [[float(s), float(e), int(p), float(a)] for s, e, p, a, _ in events]
    print(json.dumps({"file": path, "notes": notes, "seconds": seconds}), flush=True)


from peak_rss import peak_rss_mb  # noqa: E402  (measurement/ is on sys.path: it holds this script)

print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
