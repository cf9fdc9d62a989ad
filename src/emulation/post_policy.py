"""S3's browser-upload (POST) policy, enforced in front of the embedded emulator as S3 enforces it.

moto stores whatever a presigned POST sends: a file larger than the policy's `content-length-range`,
another Content-Type, an extra field, a policy edited after signing, or one past its expiration. S3
refuses each (403 `AccessDenied` "Invalid according to Policy", 400 `EntityTooLarge`/`EntityTooSmall`,
403 `SignatureDoesNotMatch`) and the job keeps waiting for a good upload; without this, `make serve`
accepted them and the worker failed the job for good, which no deployed client would ever see.

Only POSTs of a form to a bucket's root are inspected; everything else goes to moto untouched. The
form is read as S3 reads it: exactly one `file` part (with a file name or without), the fields before
it (those after are ignored), each once, a `key` among them, a policy (the buckets are private); the
signature is checked with SigV4's POST rule (the policy document signed with the emulator's secret),
or SigV2's. A form that passes goes on to moto re-encoded as S3 read it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from python_multipart import FormParser
from python_multipart.multipart import Field, File, parse_options_header
from urllib3 import encode_multipart_formdata
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
UNSIGNED_FIELDS = frozenset({"policy", "x-amz-signature", "file", "signature", "awsaccesskeyid"})
"""Form fields no condition needs to name (S3 also exempts names starting `x-ignore-`)."""
_BUCKET_ROOT = re.compile(r"^/(?P<bucket>[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/?$")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    extra: tuple[tuple[str, str], ...] = ()

    def xml(self) -> bytes:
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.extra)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>{extra}</Error>"
        ).encode()


def _policy_failed(detail: str) -> Refusal:
    return Refusal(403, "AccessDenied", f"Invalid according to Policy: {detail}")


def refusal(fields: Mapping[str, str], file_size: int, *, bucket: str, secret: str, now: datetime) -> Refusal | None:
    """Why S3 would refuse this POST upload, or None. `fields` are the form's fields but the file, their
    names as sent; `secret` is the key the emulator's clients sign with."""
    named = {name.lower(): value for name, value in fields.items()}
    encoded = named.get("policy")
    if encoded is None:
        return None  # an anonymous POST: the bucket's own rules decide (moto's)
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = list(policy["conditions"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if not _signed(named, encoded, secret):
        return Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    if now > expiration:
        return _policy_failed("Policy expired.")
    values = {**named, "bucket": bucket}
    covered: set[str] = set()
    for condition in conditions:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                covered.add(name.lower())
                if values.get(name.lower()) != expected:
                    return _policy_failed(f'Policy Condition failed: ["eq", "${name}", "{expected}"]')
        elif isinstance(condition, list) and condition and condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if file_size > high:
                extra = (("ProposedSize", str(file_size)), ("MaxSizeAllowed", str(high)))
                return Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", extra)
            if file_size < low:
                extra = (("ProposedSize", str(file_size)), ("MinSizeAllowed", str(low)))
                return Refusal(
                    400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", extra
                )
        elif isinstance(condition, list) and len(condition) == 3 and condition[0] in ("eq", "starts-with"):
            operator, name, expected = condition[0], str(condition[1]).lstrip("$").lower(), str(condition[2])
            covered.add(name)
            value = values.get(name, "")
            if (operator == "eq" and value != expected) or (
                operator == "starts-with" and not value.startswith(expected)
            ):
                return _policy_failed(f'Policy Condition failed: ["{operator}", "${name}", "{expected}"]')
    extra_fields = sorted(n for n in named if n not in covered | UNSIGNED_FIELDS and not n.startswith("x-ignore-"))
    if extra_fields:
        return _policy_failed(f"Extra input fields: {', '.join(extra_fields)}")
    return None


def _signed(named: Mapping[str, str], encoded: str, secret: str) -> bool:
    """SigV4 for POST: the base64 policy signed with the key derived from the credential's scope; or
    SigV2 (`signature`: the policy's HMAC-SHA1 with the secret), which boto3 uses unless told s3v4."""
    if "x-amz-signature" not in named and "signature" in named:
        expected_v2 = base64.b64encode(hmac.new(secret.encode(), encoded.encode(), hashlib.sha1).digest()).decode()
        return hmac.compare_digest(expected_v2, named["signature"])
    try:
        _, date, region, service, _ = named["x-amz-credential"].split("/")
        given = named["x-amz-signature"]
    except (KeyError, ValueError):
        return False
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class UploadForm:
    """A POST upload as S3 reads it: the fields before the file (S3 ignores those after it), the file."""

    fields: dict[str, str]
    raw_fields: list[tuple[str, bytes]]
    file_name: str
    file_type: str
    data: bytes

    def encoded(self) -> tuple[bytes, str]:
        """The form as moto should get it: these fields, then the file as a file part (moto reads a file
        part sent without a file name as text, and stored binary audio decoded as UTF-8)."""
        parts: list[tuple[str, Any]] = [(name, value) for name, value in self.raw_fields]
        parts.append(("file", (self.file_name, self.data, self.file_type)))
        return encode_multipart_formdata(parts)


def read_form(body: bytes, content_type: str) -> UploadForm | Refusal:
    """The upload form in `body`, or S3's refusal of it (malformed, no file or two, a field given twice)."""
    malformed = Refusal(
        400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
    )
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return malformed
    parts: list[tuple[str, bytes, str | None, str]] = []  # name, bytes, file name (None: a plain field), type

    def on_field(field: Field) -> None:
        parts.append(((field.field_name or b"").decode("utf-8", "replace"), field.value or b"", None, ""))

    def on_file(file: File) -> None:
        handle = file.file_object
        handle.seek(0)
        declared = getattr(file, "content_type", None)
        part_type = declared.decode("latin-1") if isinstance(declared, bytes) else (declared or "")
        name = (file.file_name or b"file").decode("utf-8", "replace")
        parts.append(((file.field_name or b"").decode("utf-8", "replace"), handle.read(), name, part_type))
        file.close()

    try:
        parser = FormParser(
            "multipart/form-data",
            on_field,
            on_file,
            boundary=boundary,
            config={"MAX_MEMORY_FILE_SIZE": len(body) + 1},
        )
        parser.write(body)
        parser.finalize()
    except Exception:
        return malformed
    if not body.rstrip(b"\r\n").endswith(b"--" + boundary + b"--"):
        return malformed  # cut short: python-multipart keeps what it read
    files = [n for n, part in enumerate(parts) if part[0].lower() == "file"]  # with or without a file name
    if len(files) != 1:
        return Refusal(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    before = parts[: files[0]]
    names = [name.lower() for name, *_ in before]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        return Refusal(400, "InvalidArgument", f"The form field {repeated[0]} is given more than once.")
    if "key" not in names:
        return Refusal(
            400,
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
        )
    _, data, file_name, file_type = parts[files[0]]
    return UploadForm(
        fields={name: value.decode("utf-8", "replace") for name, value, *_ in before},
        raw_fields=[(name, value) for name, value, *_ in before],
        file_name=file_name or "file",
        file_type=file_type or "application/octet-stream",
        data=data,
    )


def enforcing_post_policies(
    app: WsgiApp, *, secret: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> WsgiApp:
    """`app` (moto) behind S3's POST policy checks: a form S3 would refuse gets S3's XML error; one it
    would take goes on to moto as the fields S3 read and the file, nothing else."""

    def answer(refused: Refusal, start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = refused.xml()
        reason = {403: "Forbidden", 411: "Length Required"}.get(refused.status, "Bad Request")
        start_response(
            f"{refused.status} {reason}", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        root = _BUCKET_ROOT.match(environ.get("PATH_INFO", ""))
        content_type = environ.get("CONTENT_TYPE", "")
        if environ.get("REQUEST_METHOD") != "POST" or root is None or not content_type.startswith("multipart/"):
            return app(environ, start_response)
        if not environ.get("CONTENT_LENGTH"):
            return answer(
                Refusal(411, "MissingContentLength", "You must provide the Content-Length HTTP header."),
                start_response,
            )
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        form = read_form(body, content_type)
        if isinstance(form, Refusal):
            return answer(form, start_response)
        if "policy" not in {name.lower() for name in form.fields}:
            return answer(Refusal(403, "AccessDenied", "Access Denied"), start_response)  # the buckets are private
        refused = refusal(form.fields, len(form.data), bucket=root["bucket"], secret=secret, now=clock())
        if refused:
            return answer(refused, start_response)
        encoded, encoded_type = form.encoded()
        environ.update({"wsgi.input": io.BytesIO(encoded), "CONTENT_LENGTH": str(len(encoded))})
        environ["CONTENT_TYPE"] = encoded_type
        return app(environ, start_response)

    return checked


class PolicyEnforcingMotoServer(ThreadedMotoServer):
    """moto on a thread, its S3 POST uploads held to their policies. ThreadedMotoServer builds its WSGI
    app inside `_server_entry`; this is that method with the app wrapped (moto 5's own lines)."""

    def __init__(self, *, secret: str, ip_address: str, port: int) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._secret = secret

    def _server_entry(self) -> None:
        app = enforcing_post_policies(DomainDispatcherApplication(create_backend_app), secret=self._secret)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
