"""Run basic-pitch 0.4.0's own predict() (ONNX backend) — executed INSIDE the reference venv.

Usage: python reference_predict.py PARAMS_JSON FILE... ; prints one JSON object
per file: {"file", "notes": [[start_s, end_s, pitch, amplitude], ...], "seconds"}.
Only the reference's code runs here; the project's code never imports it.
"""

import json
import logging
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
    seconds = time.perf_counter() - start
    notes = [[float(s), float(e), int(p), float(a)] for s, e, p, a, _ in events]
    print(json.dumps({"file": path, "notes": notes, "seconds": seconds}), flush=True)


from peak_rss import peak_rss_mb  # noqa: E402  (measurement/ is on sys.path: it holds this script)

print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
