"""Idempotent creates: `Idempotency-Key` on a POST makes a retry safe.

A phone that sends a report, times out and sends it again with the same key gets the first
answer (status, body, Location) again, with `Idempotent-Replayed: true`, and the city gets
one report. Keys belong to the account (two people may use the same one), live 24 hours
(the IETF draft "The Idempotency-Key HTTP Header Field" leaves it to the server) and bind to
the request: the same key with another body is a 422 `idempotency_key_reused`.

The key's row is inserted in the request's own transaction before the work and holds the
answer when it commits, together with what the work wrote: both or neither. A retry that
arrives while the first is still running waits on the row's unique index, then replays the
committed answer. An error answer is not kept (its transaction rolls back), so fixing the
request and retrying with the same key works.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from flask import Response, make_response, request
from sqlalchemy import text

from app.db import db
from app.errors import AppError, BadRequest

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY = re.compile(r'"?([\x21\x23-\x7e]{1,255})"?')  # visible ASCII; a structured-field string too
TTL = "24 hours"


class KeyReused(AppError):
    status, code, title = 422, "idempotency_key_reused", "Unprocessable Content"


def fingerprint(body, uploads: dict) -> bytes:
    """What makes two requests the same: method, path, the parsed body and the photos' bytes
    (not the raw multipart, whose boundary a client may draw anew for each retry)."""
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    if body is not None:
        digest.update(body.model_dump_json(warnings=False,
                                           fallback=lambda v: getattr(v, "wkt", str(v))).encode())
    for name in sorted(uploads or {}):
        for upload in uploads[name]:
            digest.update(name.encode())
            digest.update(hashlib.sha256(upload.stream.read()).digest())
            upload.stream.seek(0)
    return digest.digest()


def once(user_id: int, body, uploads: dict, run: Callable[[], object]) -> Response:
    """Run the view (`run`) once per key and account; a repeat gets the first answer."""
    sent = request.headers.get(HEADER)
    if sent is None:
        return make_response(run())
    match = KEY.fullmatch(sent.strip())
    if match is None:
        raise BadRequest(params={"reason": f"{HEADER} must be 1 to 255 visible ASCII characters"})
    key, print_ = match.group(1), fingerprint(body, uploads)
    session = db.session
    params = {"u": user_id, "k": key}
    # an expired key is free again
    session.execute(text(f"DELETE FROM idempotency_keys WHERE user_id = :u AND key = :k "
                         f"AND created_at < now() - interval '{TTL}'"), params)
    mine = session.execute(text("""
        INSERT INTO idempotency_keys (user_id, key, fingerprint) VALUES (:u, :k, :f)
        ON CONFLICT (user_id, key) DO NOTHING RETURNING true"""), {**params, "f": print_}).scalar()
    if mine:
        response = make_response(run())
        if response.status_code < 400:
            session.execute(text("""
                UPDATE idempotency_keys SET status = :s, media_type = :m, location = :l, body = :b
                WHERE user_id = :u AND key = :k"""), {
                **params, "s": response.status_code, "m": response.mimetype,
                "l": response.headers.get("Location"), "b": response.get_data()})
        return response
    first = session.execute(text("""
        SELECT fingerprint, status, media_type, location, body FROM idempotency_keys
        WHERE user_id = :u AND key = :k"""), params).one()
    if bytes(first.fingerprint) != print_:
        raise KeyReused()
    replay = Response(bytes(first.body), status=first.status, mimetype=first.media_type)
    if first.location:
        replay.headers["Location"] = first.location
    replay.headers[REPLAYED] = "true"
    return replay


def purge(session) -> int:
    """Forget the keys older than the TTL (`flask maintenance purge`, from a daily timer)."""
    return session.execute(text(f"DELETE FROM idempotency_keys "
                                f"WHERE created_at < now() - interval '{TTL}'")).rowcount
