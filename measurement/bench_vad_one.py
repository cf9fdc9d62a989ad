"""One Silero VAD measurement in a fresh process (run by measurement/bench_vad.py).

    bench_vad_one.py FILE [--model-only]

Prints JSON lines: import_and_load_seconds; seconds (decode + model + segments, streamed from the
file as a job does) and segments, or with --model-only the network's time alone over the decoded
audio; then peak RSS.
"""

import argparse
import json
import time

t0 = time.perf_counter()
from inference.config import load_config  # noqa: E402
from inference.transcriber import Transcriber  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("file")
parser.add_argument("--model-only", action="store_true")
args = parser.parse_args()
vad = Transcriber(load_config(environ={}), model_name="silero-vad")
print(json.dumps({"import_and_load_seconds": time.perf_counter() - t0}), flush=True)
LONGEST_S = 4 * 3600
if args.model_only:
    from inference.audio import decode_audio

    samples = decode_audio(args.file, target_sample_rate=vad.model.sample_rate, max_duration_s=LONGEST_S).samples
    started = time.perf_counter()
    vad.model.probabilities([samples])  # type: ignore[attr-defined]  # Silero's own
    print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)
else:
    started = time.perf_counter()
    document = vad.transcribe_file(args.file, max_duration_s=LONGEST_S).to_dict()
    seconds = time.perf_counter() - started
    segments = [[s["start_s"], s["end_s"]] for s in document["segments"]]
    print(json.dumps({"seconds": seconds, "duration_s": document["audio"]["duration_s"]}), flush=True)
    print(json.dumps({"segments": segments}), flush=True)

from measurement.peak_rss import peak_rss_mb  # noqa: E402  (after the measurement: not part of import time)

print(json.dumps({"peak_rss_mb": peak_rss_mb()}), flush=True)
