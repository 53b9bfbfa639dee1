"""A small ``multipart/form-data`` reader for the sandbox's upload endpoints (Starlette's form parser
needs python-multipart, which codatdesk does not ship). The stdlib's MIME parser does the work."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP


def form_files(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """Field name -> (file name, bytes) of each part; ValueError when the body is not multipart."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise ValueError("The request must be multipart/form-data with a boundary.")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body)
    if not message.is_multipart():
        raise ValueError("The multipart body could not be read.")
    parts: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            parts[name] = (part.get_filename() or "", payload if isinstance(payload, bytes) else b"")
    return parts
