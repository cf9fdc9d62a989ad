"""The containers phones, browsers and music libraries produce: MP4/M4A (AAC, ALAC), Ogg/Opus, WebM and
Matroska (Opus, Vorbis). Sniffed from the first bytes, decoded with the sniffed demuxer alone, bounded
and checked for truncation as the formats served before them; fixtures encoded here with PyAV."""

from __future__ import annotations

import io
import math
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from inference.audio import DecodedAudio, WorkBounds, decode_audio
from inference.errors import (
    AudioError,
    AudioTooLargeError,
    AudioTooLongError,
    TooManyChannelsError,
    UndecodableAudioError,
    UnsupportedAudioFormatError,
    UnsupportedSampleRateError,
)
from inference.formats import ACCEPTED_DESCRIPTION, MP3, MP4, OGG, OGG_OPUS, WEBM, sniff
from inference.testing.signals import melody, render, sine
from tests.support.audio import clusters_of_unknown_size, encoded_bytes, wav_bytes

TARGET = 22050
BOUNDS = WorkBounds(min_sample_rate_hz=8000, max_sample_rate_hz=192_000, max_channels=8, max_decoded_samples=57_600_000)

# (name, container, codec, rate, channels, the result's audio.format)
FORMATS = [
    ("m4a-aac", "ipod", "aac", 44100, 2, "MP4/AAC"),
    ("mp4-aac", "mp4", "aac", 48000, 1, "MP4/AAC"),
    ("m4a-alac", "ipod", "alac", 44100, 2, "MP4/ALAC"),
    ("ogg-opus", "ogg", "libopus", 48000, 2, "OGG/Opus"),
    ("webm-opus", "webm", "libopus", 48000, 1, "WebM/Opus"),
    ("webm-vorbis", "webm", "vorbis", 44100, 2, "WebM/Vorbis"),
    ("mka-opus", "matroska", "libopus", 48000, 2, "WebM/Opus"),
]
LOSSLESS = {"m4a-alac"}


def decode(data: bytes | Path, bounds: WorkBounds = BOUNDS) -> DecodedAudio:
    return decode_audio(data, target_sample_rate=TARGET, max_duration_s=600.0, bounds=bounds)


def _bounds(**changes: int) -> WorkBounds:
    values = {"min_sample_rate_hz": 8000, "max_sample_rate_hz": 96000, "max_channels": 8, "max_decoded_samples": 10**9}
    return WorkBounds(**{**values, **changes})


def _live_webm(seed: int, duration_s: float) -> bytes:
    """A WebM written as MediaRecorder writes one: segment and clusters of unknown size."""
    source = render(melody(seed, duration_s), 48000, duration_s)
    return clusters_of_unknown_size(encoded_bytes(source, 48000, "webm", "libopus", live=True))


def _stereo(signal: np.ndarray, channels: int) -> np.ndarray:
    return signal if channels == 1 else np.stack([signal] * channels, axis=1)


@pytest.fixture(scope="module")
def encoded() -> dict[str, tuple[bytes, np.ndarray, int]]:
    """Each format's bytes, with the mono source they were encoded from and its rate."""
    out = {}
    for name, container, codec, rate, channels, _ in FORMATS:
        source = render(melody(3, 3.0), rate, 3.0)
        out[name] = (encoded_bytes(_stereo(source, channels), rate, container, codec), source, rate)
    return out


@pytest.mark.parametrize("name, container, codec, rate, channels, result_format", FORMATS, ids=[f[0] for f in FORMATS])
def test_decodes_each_new_container_to_the_source_length(
    encoded, name, container, codec, rate, channels, result_format
):
    data, source, _ = encoded[name]
    audio = decode(data)
    assert audio.format == result_format
    assert (audio.source_sample_rate, audio.channels, audio.sample_rate) == (rate, channels, TARGET)
    # the decoded length is the source's within one codec frame (AAC 1,024, Opus 960, Vorbis 2,048)
    assert abs(audio.samples.shape[0] - math.ceil(source.shape[0] * TARGET / rate)) <= 2048 * TARGET / rate


@pytest.mark.parametrize("name", ["m4a-aac", "mp4-aac", "ogg-opus", "webm-opus", "webm-vorbis", "m4a-alac"])
def test_encoder_delay_is_dropped_so_the_audio_lines_up_with_the_source(encoded, name):
    """AAC's priming samples (and Opus' pre-skip) are skipped as FFmpeg skips them: the decoded audio
    starts where the source starts, not 1,024 or 312 samples late."""
    data, source, rate = encoded[name]
    decoded = decode(data).samples
    import soxr

    reference = soxr.resample(source, rate, TARGET, quality="HQ")
    n = min(reference.shape[0], decoded.shape[0])
    lags = range(-200, 201)
    scores = [float(np.dot(reference[200 : n - 200], decoded[200 + lag : n - 200 + lag])) for lag in lags]
    assert abs(lags[int(np.argmax(scores))]) <= 2
    if name in LOSSLESS:
        np.testing.assert_allclose(decoded[:n], reference[:n], atol=2e-4)


def test_ogg_opus_goes_through_ffmpeg_and_agrees_with_libsndfile():
    """libsndfile reads Ogg/Opus too (the decision for FFmpeg is its speed: docs/architecture.md); both
    give the same length and, within the codec's float rounding, the same samples."""
    assert tuple(int(p) for p in sf.__libsndfile_version__.split(".")[:3]) >= (1, 0, 29)
    data = encoded_bytes(render(melody(8, 2.0), 48000, 2.0), 48000, "ogg", "libopus")
    with sf.SoundFile(io.BytesIO(data)) as sound:
        assert (sound.format, sound.subtype) == ("OGG", "OPUS")
        by_libsndfile = sound.read(dtype="float32")
    audio = decode_audio(data, target_sample_rate=48000, max_duration_s=60)
    assert audio.format == "OGG/Opus" and sniff(data[:512]).format is OGG_OPUS
    assert audio.samples.shape == by_libsndfile.shape
    np.testing.assert_allclose(audio.samples, by_libsndfile, atol=1e-3)


def test_decodes_from_a_path(tmp_path, encoded):
    for name in ("m4a-aac", "webm-opus", "ogg-opus"):
        path = tmp_path / f"{name}.bin"
        path.write_bytes(encoded[name][0])
        assert decode(path).samples.shape == decode(encoded[name][0]).samples.shape


def test_decodes_a_live_recording_whose_sizes_are_unknown():
    """MediaRecorder's WebM: the segment's size and each cluster's are left unknown."""
    audio = decode(_live_webm(4, 3.0))
    assert audio.format == "WebM/Opus" and abs(audio.duration_s - 3.0) < 0.03


# --- sniffing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, accepted, detected",
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "WAV", "WAV"),
        (b"RF64\xff\xff\xff\xffWAVEds64", "WAV", "WAV"),
        (b"fLaC\x00\x00\x00\x22", "FLAC", "FLAC"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "MP3", "MP3"),
        (b"\xff\xfb\x90\x64", "MP3", "MP3"),
        (b"\xff\xf1\x50\x80", None, "raw AAC (ADTS) with no container: send it as M4A"),
        (b"OggS\x00\x02" + bytes(20) + b"\x01\x1e\x01vorbis", "Ogg", "Ogg/Vorbis"),
        (b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead", "Ogg", "Ogg/Opus"),
        (b"OggS\x00\x02" + bytes(20) + b"\x01\x33\x7fFLAC", None, "Ogg/FLAC"),
        (b"OggS\x00\x02" + bytes(20) + b"\x01\x33\x80theora", None, "Ogg/Theora video"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isomiso2", "MP4/M4A", "MP4/M4A"),
        (b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomiso2mp41", "MP4/M4A", "MP4/M4A"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", None, "an HEIF/AVIF image (ftyp 'heic')"),
        (b"\x00\x00\x00\x18ftypM4P \x00\x00\x00\x00M4P mp42", None, "a DRM-protected MP4 (ftyp 'M4P ')"),
        (
            b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webmB\x87\x81\x04",
            "WebM/Matroska",
            "WebM",
        ),
        (b"\x1a\x45\xdf\xa3\x93B\x82\x88matroskaB\x87\x81\x04B\x85\x81\x02", "WebM/Matroska", "Matroska"),
        (b"\x1a\x45\xdf\xa3\x8bB\x82\x84xbmlB\x87\x81\x04", None, "an EBML document of type 'xbml'"),
        (b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n", None, "an HLS playlist (#EXTM3U)"),
        (b"\xef\xbb\xbf#EXTM3U\n", None, "an HLS playlist (#EXTM3U)"),
        (b"ffconcat version 1.0\nfile /etc/passwd\n", None, "an ffconcat script"),
        (b"file:///etc/passwd", None, "text naming a URL"),
        (b"http://127.0.0.1:9/x", None, "text naming a URL"),
        (b"/etc/passwd", None, "text naming a path"),
        (b"\x89PNG\r\n\x1a\n", None, "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None, "a JPEG image"),
        (b"FORM\x00\x00\x00\x00AIFFCOMM", None, "AIFF"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'>", None, "markup (HTML, XML or SVG)"),
    ],
)
def test_sniffs_the_container_from_the_first_bytes_alone(head, accepted, detected):
    sniffed = sniff(head)
    assert (sniffed.format.name if sniffed.format else None, sniffed.detected) == (accepted, detected)


def test_the_format_never_comes_from_a_name_or_a_type(encoded):
    """A WAV called song.m4a is a WAV; an M4A called song.wav is an M4A: the decoder takes bytes only."""
    assert decode(wav_bytes(sine(60, 16000, 0.5), 16000)).format == "WAV"
    assert decode(encoded["m4a-aac"][0]).format == "MP4/AAC"


def test_a_refusal_names_what_was_found_and_lists_what_is_accepted():
    with pytest.raises(UnsupportedAudioFormatError) as refused:
        decode(b"#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/a.ts\n")
    assert "an HLS playlist (#EXTM3U)" in str(refused.value)
    assert ACCEPTED_DESCRIPTION in str(refused.value)
    assert (
        ACCEPTED_DESCRIPTION == "WAV, FLAC, MP3, Ogg (Vorbis, Opus), MP4/M4A (AAC, ALAC), WebM/Matroska (Opus, Vorbis)"
    )


@pytest.mark.parametrize(
    "container, codec, detected",
    [("matroska", "flac", "Matroska with flac audio"), ("mp4", "mp3", "MP4/M4A with mp3 audio")],
)
def test_a_codec_outside_the_containers_allowlist_is_refused(container, codec, detected):
    data = encoded_bytes(sine(60, 44100, 0.5), 44100, container, codec)
    with pytest.raises(UnsupportedAudioFormatError) as refused:
        decode(data)
    assert detected in str(refused.value)


def test_an_mp4_without_audio_is_undecodable():
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width = stream.height = 16
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(UndecodableAudioError, match="no audio stream"):
        decode(buffer.getvalue())


# --- nothing but the bytes is ever opened ---------------------------------------------------------------

_WATCHING: list[tuple[str, tuple[object, ...]]] = []
_WATCH = threading.Event()


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _WATCH.is_set() and event in ("open", "os.open", "socket.connect", "socket.getaddrinfo", "subprocess.Popen"):
        _WATCHING.append((event, args))


@pytest.fixture(scope="module")
def audited() -> Iterator[list[tuple[str, tuple[object, ...]]]]:
    sys.addaudithook(_audit)  # hooks cannot be removed; this one records only while _WATCH is set
    yield _WATCHING


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A loopback port that records every connection made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def _hostile_inputs(port: int, wav_path: Path) -> list[bytes]:
    url = f"http://127.0.0.1:{port}"
    return [
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{url}/a.ts\n#EXT-X-ENDLIST\n".encode(),
        f"#EXTM3U\n#EXTINF:10,\nfile://{wav_path}\n".encode(),
        f"ffconcat version 1.0\nfile '{wav_path}'\nfile '{url}/b.wav'\n".encode(),
        b"file:///etc/passwd",
        f"{url}/x".encode(),
        f"{wav_path}".encode(),
        f"concat:{wav_path}|{wav_path}".encode(),
        f"subfile,,start,0,end,0,,:{wav_path}".encode(),
    ]


def test_playlists_concat_scripts_urls_and_paths_open_nothing_and_are_refused(audited, listener, tmp_path):
    """An HLS playlist, an ffconcat script (naming a real WAV that would decode), text naming a file or
    a URL (a loopback listener that must see no connection): all 415, and neither Python nor FFmpeg
    opens a file or a socket while deciding (the audit hook sees no open, the listener no connection)."""
    port, connections = listener
    wav_path = tmp_path / "real.wav"
    wav_path.write_bytes(wav_bytes(sine(60, 16000, 1.0), 16000))
    for data in _hostile_inputs(port, wav_path):
        _WATCHING.clear()
        _WATCH.set()
        try:
            with pytest.raises(UnsupportedAudioFormatError) as refused:
                decode(data)
        finally:
            _WATCH.clear()
        assert ACCEPTED_DESCRIPTION in str(refused.value)
        assert _WATCHING == [], (data, _WATCHING)
    time.sleep(0.2)
    assert connections == []


def test_the_demuxer_opens_no_url_even_when_one_is_inside_a_real_container(listener, encoded):
    """Defence in depth behind the sniffer: the options FFmpeg gets name no protocol, so even a demuxer
    that follows references (here FFmpeg's HLS demuxer, forced on a playlist) reaches nothing."""
    import av

    from inference.pyav_source import _NO_PROTOCOL

    port, connections = listener
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:{port}/a.ts\n#EXT-X-ENDLIST\n"
    with pytest.raises(av.error.FFmpegError):
        av.open(io.BytesIO(playlist.encode()), format="hls", options={"protocol_whitelist": _NO_PROTOCOL})
    time.sleep(0.2)
    assert connections == []


# --- bounds -------------------------------------------------------------------------------------------


def test_the_work_bounds_hold_from_the_header(encoded):
    data = encoded["m4a-aac"][0]  # 44.1 kHz stereo, 3 s
    with pytest.raises(UnsupportedSampleRateError):
        decode(
            data,
            bounds=WorkBounds(
                min_sample_rate_hz=48000, max_sample_rate_hz=96000, max_channels=8, max_decoded_samples=10**9
            ),
        )
    with pytest.raises(TooManyChannelsError):
        decode(
            data,
            bounds=WorkBounds(
                min_sample_rate_hz=8000, max_sample_rate_hz=96000, max_channels=1, max_decoded_samples=10**9
            ),
        )
    with pytest.raises(AudioTooLargeError, match="has 26"):
        decode(
            data,
            bounds=WorkBounds(
                min_sample_rate_hz=8000, max_sample_rate_hz=96000, max_channels=8, max_decoded_samples=100_000
            ),
        )
    with pytest.raises(AudioTooLongError, match=r"lasts 3\.0 s"):
        decode_audio(data, target_sample_rate=TARGET, max_duration_s=2.0, bounds=BOUNDS)


def test_the_work_bounds_hold_while_decoding_a_stream_that_states_no_length():
    live = clusters_of_unknown_size(
        encoded_bytes(render(melody(5, 4.0), 48000, 4.0), 48000, "webm", "libopus", live=True)
    )
    with pytest.raises(AudioTooLargeError, match="has more than"):
        decode(
            live,
            bounds=WorkBounds(
                min_sample_rate_hz=8000, max_sample_rate_hz=96000, max_channels=8, max_decoded_samples=100_000
            ),
        )
    with pytest.raises(AudioTooLongError):
        decode_audio(live, target_sample_rate=TARGET, max_duration_s=2.0, bounds=BOUNDS)


# --- truncation -----------------------------------------------------------------------------------------


def _cuts(size: int) -> list[int]:
    return sorted({64, size // 10, size // 3, size // 2, 9 * size // 10, size - 100, size - 1})


@pytest.mark.parametrize(
    "name, build",
    [
        ("m4a-aac", lambda s: encoded_bytes(s, 44100, "ipod", "aac")),
        ("m4a-faststart", lambda s: _faststart(s)),
        ("ogg-opus", lambda s: encoded_bytes(s, 48000, "ogg", "libopus")),
        ("webm-opus", lambda s: encoded_bytes(s, 48000, "webm", "libopus")),
        ("webm-vorbis", lambda s: encoded_bytes(np.stack([s, s], axis=1), 44100, "webm", "vorbis")),
        ("webm-live", lambda s: clusters_of_unknown_size(encoded_bytes(s, 48000, "webm", "libopus", live=True))),
    ],
)
def test_a_file_cut_anywhere_is_refused_as_truncated(name, build):
    data = build(render(melody(6, 3.0), 44100, 3.0))
    decode(data)  # whole, it decodes
    for cut in _cuts(len(data)):
        with pytest.raises(UndecodableAudioError, match="truncated") as refused:
            decode(data[:cut])
        assert "truncated" in str(refused.value), (name, cut)


def _faststart(samples: np.ndarray) -> bytes:
    """An M4A with its index first (what streaming servers and iTunes write)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "faststart.m4a"
        _write_faststart(samples, path)
        data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    return data


def _write_faststart(samples: np.ndarray, path: Path) -> None:
    import av

    with av.open(str(path), mode="w", format="ipod", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("aac", rate=44100, layout="mono")
        for start in range(0, samples.shape[0], 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024].copy(), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_an_mp4_whose_samples_stop_before_its_stated_length_is_refused(encoded):
    """A second line behind the box sizes: an index that points past the samples present is refused,
    never transcribed short."""
    data = bytearray(encoded["m4a-aac"][0])
    at = data.index(b"mdat") - 4
    size = int.from_bytes(data[at : at + 4], "big")
    keep = size // 2
    data[at : at + 4] = keep.to_bytes(4, "big")  # a consistent mdat box, half of the samples gone
    cut = bytes(data[: at + keep]) + bytes(data[at + size :])
    with pytest.raises(UndecodableAudioError, match=r"truncated|corrupt"):
        decode(cut)


# --- the decode fuzz, extended to every container ------------------------------------------------------


@pytest.mark.parametrize("name", [f[0] for f in FORMATS] + ["webm-live"])
def test_mangled_files_give_an_audio_error_or_audio_never_a_crash(encoded, name):
    if name == "webm-live":
        data = clusters_of_unknown_size(
            encoded_bytes(render(melody(7, 2.0), 48000, 2.0), 48000, "webm", "libopus", live=True)
        )
    else:
        data = encoded[name][0]
    rng = np.random.default_rng(hash(name) % 2**32)
    for trial in range(40):
        mangled = bytearray(data)
        how = trial % 4
        if how == 0:  # flip bytes anywhere
            for at in rng.integers(0, len(mangled), size=8):
                mangled[at] ^= int(rng.integers(1, 256))
        elif how == 1:  # flip bytes in the headers
            for at in rng.integers(0, min(600, len(mangled)), size=3):
                mangled[at] ^= int(rng.integers(1, 256))
        elif how == 2:  # a hole of random bytes
            at = int(rng.integers(0, len(mangled) - 64))
            mangled[at : at + 64] = rng.integers(0, 256, size=64, dtype=np.uint8).tobytes()
        else:  # cut and glue
            at = int(rng.integers(100, len(mangled)))
            mangled = mangled[:at] + mangled[at + 200 :]
        try:
            audio = decode(bytes(mangled))
        except AudioError:
            continue
        assert np.isfinite(audio.samples).all()


def test_the_formats_module_knows_each_decoder():
    assert {f.decoder for f in (MP3, OGG)} == {"libsndfile"}
    assert (OGG_OPUS.demuxer, MP4.demuxer, WEBM.demuxer) == ("ogg", "mp4", "matroska")
