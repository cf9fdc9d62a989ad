"""Where requests and results live in S3, and the links clients download results from.

Keys are the server's own (the request id), under the prefixes the function's
role is granted: uploads under `<input prefix>predict/`, results under
`<output prefix>predict/`. The client's file name is kept as object metadata only.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from contract import object_keys
from contract.settings import ServiceSettings
from service.http.responses import attachment

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DOWNLOAD_URL_EXPIRY_S = 3600


@dataclass(frozen=True, kw_only=True)
class StoredResult:
    json_key: str
    midi_key: str | None
    """None for a model that writes no MIDI."""


class Storage:
    """The two buckets, as the service uses them."""

    def __init__(self, s3: S3Client, settings: ServiceSettings) -> None:
        self.s3 = s3
        self._settings = settings

    def upload_key(self, request_id: str) -> str:
        return f"{self._settings.input_prefix}{object_keys.SYNC_KEYS}{request_id}"

    def result_keys(self, request_id: str) -> StoredResult:
        base = f"{self._settings.output_prefix}{object_keys.SYNC_KEYS}{request_id}/result"
        return StoredResult(json_key=f"{base}.json", midi_key=f"{base}.mid")

    def put_upload(self, request_id: str, audio: bytes, content_type: str, filename: str | None) -> str:
        key = self.upload_key(request_id)
        metadata = {"request-id": request_id, **({"original-filename": filename} if filename else {})}
        self.s3.put_object(
            Bucket=self._settings.input_bucket, Key=key, Body=audio, ContentType=content_type, Metadata=metadata
        )
        return key

    def put_result(
        self, request_id: str, document: bytes, midi: bytes | None, pool: Executor | None = None
    ) -> StoredResult:
        """The result files (the document, and the MIDI file for a model that has one), side by side on
        `pool` when given; raises if any write failed."""
        keys = self.result_keys(request_id)
        files = [(keys.json_key, document, "application/json")]
        if midi is None:
            keys = StoredResult(json_key=keys.json_key, midi_key=None)
        else:
            assert keys.midi_key is not None
            files.append((keys.midi_key, midi, "audio/midi"))
        if pool is None:
            for key, body, content_type in files:
                self._put_result_file(request_id, key, body, content_type)
        else:
            writes = [pool.submit(self._put_result_file, request_id, *file) for file in files]
            for write in writes:
                write.result()
        return keys

    def _put_result_file(self, request_id: str, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(
            Bucket=self._settings.output_bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata={"request-id": request_id},
        )

    def download_url(self, key: str, download_name: str) -> str:
        """A presigned GET that saves as `download_name` (no credentials in the client)."""
        url: str = self.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self._settings.output_bucket,
                "Key": key,
                "ResponseContentDisposition": attachment(download_name),
            },
            ExpiresIn=DOWNLOAD_URL_EXPIRY_S,
        )
        return url
