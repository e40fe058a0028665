"""Schemathesis hooks for the registry (scripts/schemathesis.sh).

Enrols one desk with the one-time code the script made (a fresh Ed25519
key from PyNaCl) and signs every desk request as that desk, over the bytes
actually sent: `requests` calls the signer after it has serialized the body
and built the path, so what is signed is exactly what the registry checks
(crates/registry/src/auth.rs, skranke_protocol::versioned_signing_message):

    skranke-v2\\nMETHOD\\npath?query\\ntimestamp\\nnonce\\nprotocol\\napp\\nsha256(body)

Feed routes get the consumer's bearer token instead. Everything else
(/health, /openapi.json, /v1/registry-key, /v1/enrol) goes out as generated.

Environment: SKRANKE_REGISTRY_URL, SKRANKE_ENROLMENT_CODE, SKRANKE_FEED_TOKEN.
"""

import hashlib
import json
import os
import secrets
import time

import hypothesis.strategies as st
import nacl.bindings
import nacl.signing
import requests
import schemathesis

PROTOCOL = "1.1"
APP_VERSION = "schemathesis"
FEED_PATHS = ("/v1/feed", "/v1/feed/confirm")
# Routes anyone may call (no signature, no token).
OPEN_PATHS = ("/health", "/openapi.json", "/v1/registry-key", "/v1/enrol")


class Desk:
    """The enrolled desk: its ID and signing key, made on first use."""

    _desk = None

    def __init__(self, desk_id, key):
        self.desk_id = desk_id
        self.key = key

    @classmethod
    def get(cls):
        if cls._desk is None:
            key = nacl.signing.SigningKey.generate()
            body = {
                "enrolment_code": os.environ["SKRANKE_ENROLMENT_CODE"],
                "public_key": key.verify_key.encode().hex(),
            }
            url = os.environ["SKRANKE_REGISTRY_URL"].rstrip("/") + "/v1/enrol"
            answer = requests.post(url, json=body, timeout=30)
            if answer.status_code != 200:
                raise RuntimeError(f"enrolment refused: {answer.status_code} {answer.text}")
            enrolled = answer.json()
            cls._desk = Desk(enrolled["desk_id"], key)
            cls._desk.seed(enrolled["login_number"])
        return cls._desk

    def send(self, method, path, body):
        url = os.environ["SKRANKE_REGISTRY_URL"].rstrip("/") + path
        answer = requests.request(method, url, json=body, auth=DeskSignature(), timeout=30)
        if answer.status_code != 200:
            raise RuntimeError(f"{method} {path} refused: {answer.status_code} {answer.text}")
        return answer.json()

    def seed(self, login_number):
        """One record of this desk's, as the desk app makes it (an online
        number, the Jobnet username of its first login, an Argon2id hash),
        so that the fuzz meets the desk's own data: its record's state,
        bindings with used numbers, a sync with record states."""
        number = self.send("POST", "/v1/allocate", {"idempotency_key": "seed-1", "birth_date": "1980-01-01", "sex": "F"})
        record_id = f"{self.desk_id}-1"
        self.record_id = record_id
        payload = {
            "record_id": record_id,
            "number": number["number"],
            "source": "online",
            "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1)),
            "municipality": 101,
            "person": {
                "name_document": "Jürgen Müller",
                "name_latin": "JUERGEN MUELLER",
                "birth_date": "1980-01-01",
                "sex": "F",
                "nationality": "DE",
                "document": {"kind": "passport", "issuing_state": "D", "expiry_date": None},
            },
            "document_key": hashlib.sha256(b"seed document").hexdigest(),
            "person_key": hashlib.sha256(b"seed person").hexdigest(),
            "jobnet_username": username(login_number, 1),
            "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        }
        body = {"kind": "issued", "payload": payload}
        event = dict(body, idempotency_key=f"{record_id}:issued", content_hash=hashlib.sha256(canonical(body)).hexdigest())
        results = self.send("POST", "/v1/events", {"events": [event]})["results"]
        if results[0]["outcome"] != "accepted":
            raise RuntimeError(f"the seed record was not accepted: {results}")


def canonical(value):
    """skranke_protocol::canonical_json: keys sorted, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


USERNAME_ALPHABET = "2346789ACDEFHJKMNPRTWXY"


def username(desk, seq):
    """skranke_core::credentials::Username::new: the desk number's length,
    the desk number and the sequence (at least three digits) in base 23,
    and a check character."""

    def digits(n, least):
        out = []
        while n > 0 or len(out) < max(least, 1):
            out.append(USERNAME_ALPHABET[n % 23])
            n //= 23
        return "".join(reversed(out))

    desk_digits = digits(desk, 1)
    text = USERNAME_ALPHABET[len(desk_digits)] + desk_digits + digits(seq, 3)
    values = [USERNAME_ALPHABET.index(c) for c in text]
    n = len(values)
    total = sum(((n - i) % 22 + 1) * v for i, v in enumerate(values))
    return text + USERNAME_ALPHABET[(23 - total % 23) % 23]


class DeskSignature(requests.auth.AuthBase):
    """Signs a prepared request as the enrolled desk."""

    def __call__(self, r):
        desk = Desk.get()
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        message = "\n".join(
            [
                "skranke-v2",
                r.method.upper(),
                r.path_url,
                timestamp,
                nonce,
                PROTOCOL,
                APP_VERSION,
                hashlib.sha256(body).hexdigest(),
            ]
        ).encode("utf-8")
        r.headers["x-skranke-desk"] = desk.desk_id
        r.headers["x-skranke-timestamp"] = timestamp
        r.headers["x-skranke-nonce"] = nonce
        r.headers["x-skranke-protocol"] = PROTOCOL
        r.headers["x-skranke-app-version"] = APP_VERSION
        r.headers["x-skranke-signature"] = desk.key.sign(message).signature.hex()
        return r


class FeedToken(requests.auth.AuthBase):
    def __call__(self, r):
        r.headers["Authorization"] = "Bearer " + os.environ["SKRANKE_FEED_TOKEN"]
        return r


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if path in FEED_PATHS:
        kwargs["auth"] = FeedToken()
    elif path not in OPEN_PATHS:
        kwargs["auth"] = DeskSignature()


@schemathesis.hook
def before_generate_path_parameters(context, strategy):
    """Record IDs: generated ones (another desk's or none: 404), and now and
    then the desk's own record (its state)."""
    if context.operation is None or context.operation.path != "/v1/records/{record_id}":
        return strategy
    own = {"record_id": Desk.get().record_id}
    return st.integers(0, 3).flatmap(lambda i: st.just(own) if i == 0 else strategy)


@schemathesis.hook
def before_generate_body(context, strategy):
    """The feed consumer confirms, now and then, the desk's own record
    among the generated IDs: it becomes registered (or refused downstream),
    and the desk's next sync says so."""
    if context.operation is None or context.operation.path != "/v1/feed/confirm":
        return strategy

    def with_record(body, own):
        if own and isinstance(body, dict) and isinstance(body.get("registered"), list):
            body = dict(body, registered=body["registered"][:999] + [Desk.get().record_id])
        return body

    return st.tuples(strategy, st.integers(0, 3)).map(lambda pair: with_record(pair[0], pair[1] == 0))


@schemathesis.check
def refusals_are_problem_documents(ctx, response, case):
    """Every refusal, of any route and any method, is a problem document
    whose `status` is the response's own."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        raise AssertionError(f"{response.status_code} answered as {content_type!r}, not application/problem+json")
    problem = json.loads(response.content)
    if problem.get("status") != response.status_code or not problem.get("code"):
        raise AssertionError(f"problem document does not match its response: {problem}")
    return None


@schemathesis.check
def enrol_refuses_only_keys_off_the_curve(ctx, response, case):
    """`positive_data_acceptance` for `POST /v1/enrol`: a request the
    document allows is accepted, or refused for its code (403), or refused
    as `request.field` naming `public_key` for a key that libsodium, too,
    finds is no point of the curve (libsodium is the stricter of the two:
    a key it takes, the registry must take)."""
    if case.method.upper() != "POST" or case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 413, 415, 422):
        return None
    problem = json.loads(response.content)
    key = case.body.get("public_key") if isinstance(case.body, dict) else None
    if problem.get("code") == "request.field" and problem.get("detail") == "public_key" and isinstance(key, str):
        try:
            on_curve = nacl.bindings.crypto_core_ed25519_is_valid_point(bytes.fromhex(key))
        except ValueError:
            on_curve = False
        if not on_curve:
            return None
    raise AssertionError(f"an enrolment the document allows was refused: {response.status_code} {problem}")
