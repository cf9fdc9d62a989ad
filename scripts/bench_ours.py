"""One measurement of our runtime in a fresh process (run by scripts/bench.py).

Prints JSON: import_and_load_seconds, seconds (decode + inference + notes for
FILE), and with --model-only the onnxruntime time alone over the same windows.
"""

import json
import sys
import time

t0 = time.perf_counter()
from inference.config import load_config  # noqa: E402
from inference.transcriber import Transcriber  # noqa: E402

transcriber = Transcriber(load_config(environ={}))
load_seconds = time.perf_counter() - t0
print(json.dumps({"import_and_load_seconds": load_seconds}), flush=True)

path = sys.argv[1]
LONGEST_S = 4 * 3600  # the benchmark's files are up to an hour; the config's audio limit is for requests
if "--model-only" in sys.argv:
    from inference.audio import decode_audio
    from inference.models.basic_pitch import constants as c
    from inference.models.basic_pitch.windows import fill_window, window_starts

    audio = decode_audio(path, target_sample_rate=c.SAMPLE_RATE, max_duration_s=LONGEST_S).samples
    session = transcriber.model._session  # type: ignore[attr-defined]  # Basic Pitch's own session
    batch_size = transcriber.config.inference.batch_size
    starts = list(window_starts(audio.shape[0]))
    import numpy as np

    batch = np.zeros((batch_size, c.WINDOW_SAMPLES, 1), dtype=np.float32)
    spent: float = 0.0
    for first in range(0, len(starts), batch_size):
        group = starts[first : first + batch_size]
        for row, start in enumerate(group):
            fill_window(batch[row, :, 0], audio, start)
        begin = time.perf_counter()
        session.run(None, {c.INPUT_NAME: batch[: len(group)]})
        spent += time.perf_counter() - begin
    print(json.dumps({"file": path, "seconds": spent, "windows": len(starts)}), flush=True)
else:
    started = time.perf_counter()
    result = transcriber.transcribe_file(path, max_duration_s=LONGEST_S)
    print(json.dumps({"file": path, "seconds": time.perf_counter() - started, "notes": len(result.notes)}), flush=True)


from scripts.peak_rss import peak_rss_mb  # noqa: E402  (after the measurement: not part of import time)

print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
