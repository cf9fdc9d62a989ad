"""One measurement of our runtime in a fresh process (run by measurement/bench.py).

    bench_ours.py FILE [--model-only] [--runtime R] [--precision P] [--threads N] [--batch-size B]

Prints JSON: import_and_load_seconds (the engine of the asked precision prepared, as a cold start
does), seconds (decode + inference + notes for FILE), and with --model-only the model's time alone
over the same windows on the same session; then the engine that ran and peak RSS.
"""

import argparse
import dataclasses
import json
import time

t0 = time.perf_counter()
from inference.config import load_config  # noqa: E402
from inference.transcriber import Transcriber  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("file")
parser.add_argument("--model-only", action="store_true")
parser.add_argument("--runtime")
parser.add_argument("--precision")
parser.add_argument("--threads", type=int)
parser.add_argument("--batch-size", type=int)
args = parser.parse_args()
config = load_config(environ={})
changes = {
    "runtime": args.runtime,
    "precision": args.precision,
    "threads": args.threads,
    "batch_size": args.batch_size,
}
config = dataclasses.replace(config, inference=config.inference.with_overrides(**changes))
transcriber = Transcriber(config)
load_seconds = time.perf_counter() - t0
print(json.dumps({"import_and_load_seconds": load_seconds}), flush=True)

path = args.file
parameters = config.inference
LONGEST_S = 4 * 3600  # the benchmark's files are up to an hour; the config's audio limit is for requests
if args.model_only:
    import numpy as np

    from inference.audio import decode_audio
    from inference.models.basic_pitch import constants as c
    from inference.models.basic_pitch.windows import fill_window, window_starts

    audio = decode_audio(path, target_sample_rate=c.SAMPLE_RATE, max_duration_s=LONGEST_S).samples
    session = transcriber.model._session(parameters.precision)  # type: ignore[attr-defined]  # Basic Pitch's own
    batch_size = parameters.batch_size
    starts = list(window_starts(audio.shape[0]))
    outputs = [c.OUTPUT_NOTE, c.OUTPUT_ONSET]
    batch = np.zeros((batch_size, c.WINDOW_SAMPLES, 1), dtype=np.float32)
    spent: float = 0.0
    for first in range(0, len(starts), batch_size):
        group = starts[first : first + batch_size]
        for row, start in enumerate(group):
            fill_window(batch[row, :, 0], audio, start)
        begin = time.perf_counter()
        session.run(batch[: len(group)], outputs)
        spent += time.perf_counter() - begin
    print(json.dumps({"file": path, "seconds": spent, "windows": len(starts)}), flush=True)
else:
    started = time.perf_counter()
    result = transcriber.transcribe_file(path, parameters, max_duration_s=LONGEST_S)
    print(json.dumps({"file": path, "seconds": time.perf_counter() - started, "notes": len(result.notes)}), flush=True)
engine = transcriber.model.engine_for(parameters.precision)
print(json.dumps({"runtime": engine.runtime, "precision": engine.precision, "compute": engine.compute}), flush=True)


from measurement.peak_rss import peak_rss_mb  # noqa: E402  (after the measurement: not part of import time)

print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
