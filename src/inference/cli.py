"""`python -m inference` commands: transcribe a file; fetch (and upload) the pinned model."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from contract.validation import ConfigError
from inference.config import PRECISIONS
from inference.errors import InferenceError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("transcribe", help="run a model on an audio file: notes (JSON) and MIDI, or another result")
    t.add_argument("file", type=Path)
    t.add_argument("--model", help="a registered model (default: the config's model.name, basic-pitch)")
    t.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a parameter of the chosen model, e.g. --param threshold=0.6 for silero-vad (repeatable)",
    )
    t.add_argument("--json", type=Path, metavar="OUT", help="write the result JSON here ('-' = stdout)")
    t.add_argument("--midi", type=Path, metavar="OUT", help="write a standard MIDI file here")
    t.add_argument("--config", type=Path, help="inference config YAML (default: config/inference_config.yaml)")
    t.add_argument("--onset-threshold", type=float)
    t.add_argument("--frame-threshold", type=float)
    t.add_argument("--minimum-note-length-ms", type=float)
    t.add_argument("--minimum-frequency", type=float, dest="minimum_frequency_hz", metavar="HZ")
    t.add_argument("--maximum-frequency", type=float, dest="maximum_frequency_hz", metavar="HZ")
    t.add_argument("--melodia-trick", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--pitch-bends", action=argparse.BooleanOptionalAction, default=None, dest="include_pitch_bends")
    t.add_argument("--multiple-pitch-bends", action=argparse.BooleanOptionalAction, default=None)
    t.add_argument("--midi-tempo", type=float)
    t.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="exact (default: f32, today's results) or fast (int8 and bf16 where the CPU has them; model.compute says)",
    )
    t.add_argument(
        "--max-duration",
        type=float,
        metavar="SECONDS",
        help="longest audio accepted (default: the config's audio.max_duration_s); files are streamed, "
        "so memory does not grow with length",
    )

    sub.add_parser("models", help="list the registered models: artifact, sample rate, parameters, result fields")

    f = sub.add_parser("fetch-model", help="fetch the pinned model artifacts into the models directory")
    f.add_argument("--model", help="one registered model (default: every one, as the image carries them)")
    f.add_argument("--models-dir", type=Path, help="default: $INFERENCE_MODELS_DIR or ./models")
    f.add_argument("--upload", metavar="s3://BUCKET/PREFIX/", help="also upload it to a model bucket")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "fetch-model":
            return _fetch_model(args)
        if args.command == "models":
            return _list_models()
        return _transcribe(args)
    except (InferenceError, ConfigError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"error: {exc.filename}: no such file", file=sys.stderr)
        return 2


def _list_models() -> int:
    from inference.models.registry import get_spec, model_names

    for name in model_names():
        spec = get_spec(name)
        artifact = spec.artifact
        defaults = spec.default_parameters()
        parameters = ", ".join(f"{p}={getattr(defaults, p)!r}" for p in spec.client_parameters)
        print(f"{name}: {spec.summary}")
        print(f"  artifact   {artifact.package}=={artifact.version} {artifact.member} sha256 {artifact.sha256}")
        print(f"  audio      mono at {spec.sample_rate:,} Hz; answers {', '.join(spec.result_types)}")
        print(f"  parameters {parameters}")
        print(f"  result     {', '.join(spec.result_fields)}")
    return 0


def _fetch_model(args: argparse.Namespace) -> int:
    from inference.artifact import fetch_pinned, upload_artifact
    from inference.models.registry import get_spec, model_names

    for name in [get_spec(args.model, "--model").name] if args.model else model_names():
        path = fetch_pinned(name, args.models_dir)
        print(path)
        if args.upload:
            print(upload_artifact(path, args.upload))
    return 0


def _transcribe(args: argparse.Namespace) -> int:
    from inference.config import load_config

    config = load_config(args.config)
    if args.model and args.model != config.model.name:
        return _run_other_model(args, config)
    overrides = {
        name: getattr(args, name)
        for name in (
            "onset_threshold",
            "frame_threshold",
            "minimum_note_length_ms",
            "minimum_frequency_hz",
            "maximum_frequency_hz",
            "melodia_trick",
            "include_pitch_bends",
            "multiple_pitch_bends",
            "midi_tempo",
            "precision",
        )
    }
    parameters = config.inference.with_overrides(**overrides, **_params(args, config.model.name))
    # the asked precision is the one prepared at load: nothing is loaded that will not run
    from inference.transcriber import Transcriber

    transcriber = Transcriber(dataclasses.replace(config, inference=parameters))
    result = transcriber.transcribe_file(args.file, parameters, max_duration_s=args.max_duration)
    document = json.dumps(result.to_dict(), indent=2)
    if args.json and str(args.json) != "-":
        args.json.write_text(document + "\n")
    if args.midi:
        args.midi.write_bytes(result.to_midi())
    if not args.json or str(args.json) == "-":
        print(document)
    else:
        print(
            f"{len(result.notes)} notes, {result.audio.duration_s:.2f} s of audio -> {args.json}"
            + (f", {args.midi}" if args.midi else ""),
            file=sys.stderr,
        )
    return 0


def _params(args: argparse.Namespace, model: str) -> dict[str, object]:
    """--param NAME=VALUE pairs, coerced to the model's parameter types (ranges: the model's own check)."""
    from inference.config import coerce
    from inference.models.registry import get_spec

    spec = get_spec(model, "--model")
    types = spec.parameter_types()
    values: dict[str, object] = {}
    for pair in args.param:
        name, _, value = pair.partition("=")
        if name not in spec.client_parameters:
            raise ConfigError("--param", pair, f"NAME=VALUE with NAME one of {', '.join(spec.client_parameters)}")
        values[name] = coerce(name, value, types[name])
    return values


def _run_other_model(args: argparse.Namespace, config: object) -> int:
    """A model other than the default: its own parameters (--param), its own result document."""
    from inference.models.registry import get_spec
    from inference.transcriber import Transcriber

    spec = get_spec(args.model, "--model")
    if args.midi and not spec.produces_midi:
        raise ConfigError("--midi", str(args.midi), f"left out: {spec.name} has no notes to write as MIDI")
    transcriber = Transcriber(config, model_name=spec.name)  # type: ignore[arg-type]
    parameters = spec.default_parameters(**_params(args, spec.name))
    result = transcriber.transcribe_file(args.file, parameters, max_duration_s=args.max_duration)
    document = json.dumps(result.to_dict(), indent=2)
    if args.json and str(args.json) != "-":
        args.json.write_text(document + "\n")
        print(
            f"{spec.name}: {result.summary()}, {result.audio.duration_s:.2f} s of audio -> {args.json}", file=sys.stderr
        )
    else:
        print(document)
    return 0
