"""Typed errors of the model runtime.

The service maps each class to an HTTP status in one place; the CLI prints
the message. Messages say what was wrong and what is allowed. An invalid
setting or parameter is `contract.validation.ConfigError`, shared with the
deployment settings.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class of every error the runtime raises on purpose."""


# --- model artifact -------------------------------------------------------
class ModelArtifactError(InferenceError):
    """The model artifact cannot be used."""


class ModelArtifactMissingError(ModelArtifactError):
    """The artifact does not exist where the URI points."""


class ModelArtifactUnreadableError(ModelArtifactError):
    """The artifact exists but cannot be read or fetched."""


class ModelChecksumMismatchError(ModelArtifactError):
    """The artifact's sha256 differs from the pinned one."""


# --- audio ----------------------------------------------------------------
class AudioError(InferenceError):
    """The audio cannot be transcribed; the client should change the input."""


class EmptyAudioError(AudioError):
    """No audio: no bytes were given, or a well-formed file holds no samples."""


class UndecodableAudioError(AudioError):
    """The bytes look like a known format but do not decode."""


class UnsupportedAudioFormatError(AudioError):
    """The bytes are not one of the accepted formats (`inference.formats.FORMATS`), or carry a codec not
    allowed in theirs."""


class ZeroLengthAudioError(EmptyAudioError):
    """The file decodes to no samples (a 44-byte WAV, an Ogg stream with none): empty, not corrupt."""


class AudioTooLongError(AudioError):
    """The audio is longer than the configured maximum."""


class NonFiniteAudioError(AudioError):
    """The decoded samples contain NaN or infinity."""


class AudioTooLargeError(AudioError):
    """Decoding the audio would cost more than allowed (samples x channels at its own rate)."""


class UnsupportedSampleRateError(AudioError):
    """The audio's sample rate is outside the allowed range."""


class TooManyChannelsError(AudioError):
    """The audio has more channels than allowed."""


class OutputTooLargeError(AudioError):
    """The transcription would produce more than its output budget (notes or pitch-bend data per audio
    second): stopped while producing, nothing half-written. The client should raise the thresholds or
    the minimum note length, or leave pitch bends out."""
