#!/usr/bin/env python3
"""rdsguard's AWS emulator: moto 5.2.5 served in-process, with the gaps that
matter to rdsguard closed and a few test controls added (see README.md).

    .venv/bin/python tests/emulator/launcher.py [--host 127.0.0.1] [--port 0]

First stdout line: ``READY http://HOST:PORT``. Exits on stdin EOF (so a dying
test process takes the emulator with it), SIGTERM or SIGINT.
"""
import argparse
import datetime
import functools
import io
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

# --- (c) Per-account clock --------------------------------------------------
# Every moto timestamp comes from moto.core.utils.utcnow. Replace it *before*
# the service modules are imported, so their `from moto.core.utils import
# utcnow` binds our version; modules imported earlier are swept further down.
# The middleware (below) puts the calling account of each AWS request in a
# thread-local; our utcnow adds that account's offset (or the default one).
import moto.core.utils as moto_utils

_real_utcnow = moto_utils.utcnow
_request = threading.local()  # .account: calling account of this thread's AWS request
_lock = threading.Lock()  # guards every piece of state below
_clock = {}  # account id (None = default for all) -> datetime.timedelta


def _offset(account):
    with _lock:
        return _clock.get(account, _clock.get(None, datetime.timedelta()))


def utcnow():
    return _real_utcnow() + _offset(getattr(_request, "account", None))


moto_utils.utcnow = utcnow

from moto.core.responses import PaginatedResult  # noqa: E402
from moto.core.routing import get_service_router  # noqa: E402
from moto.core.request import Request as MotoRequest  # noqa: E402
from moto.iam.models import get_account_id_from  # noqa: E402
from moto.kms.models import KmsBackend  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)
from moto.rds.exceptions import (  # noqa: E402
    DBClusterSnapshotNotFoundError, DBSnapshotNotFoundFault)
from moto.rds.models import DBClusterSnapshot, DBSnapshot, RDSBackend, rds_backends  # noqa: E402
from moto.rds.responses import RDSResponse  # noqa: E402
from moto.rds.utils import split_arn  # noqa: E402
from moto.sts.models import sts_backends  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

for _mod in list(sys.modules.values()):
    if getattr(_mod, "__name__", "").startswith("moto"):
        for _name, _value in list(vars(_mod).items()):
            if _value is _real_utcnow:
                setattr(_mod, _name, utcnow)


# --- (a) Cross-account use of shared snapshots ------------------------------
# Moto resolves a snapshot ARN in the *caller's* account. AWS resolves it in
# the owner's account and allows it when the caller (or "all") is in the
# snapshot's `restore` attribute; otherwise the snapshot is "not found".
_get_snapshot = RDSBackend.get_snapshot


def get_snapshot(self, identifier, resource_type, not_found_exception):
    if identifier.startswith("arn:"):
        region, owner, _, name = split_arn(identifier)
        if owner != self.account_id:
            try:
                snapshot = rds_backends[owner][region].resource_map[resource_type].get(name)
            except KeyError:  # unknown region
                snapshot = None
            shared = snapshot is not None and (
                {self.account_id, "all"} & set(snapshot.attributes["restore"]))
            if not shared:
                raise not_found_exception(identifier)
            return snapshot
    return _get_snapshot(self, identifier, resource_type, not_found_exception)


RDSBackend.get_snapshot = get_snapshot  # used by both copy operations

# The restore operations look the snapshot up with describe_*_snapshots in the
# caller's account. For an ARN we resolve it with get_snapshot (above) first and
# hand it to that describe call through a thread-local.
_pinned = threading.local()


def _restore_via_arn(restore, resource_type, not_found_exception):
    @functools.wraps(restore)
    def wrapper(self, from_snapshot_id, overrides):
        if from_snapshot_id.startswith("arn:"):
            _pinned.snapshot = self.get_snapshot(from_snapshot_id, resource_type, not_found_exception)
        try:
            return restore(self, from_snapshot_id, overrides)
        finally:
            _pinned.snapshot = None
    return wrapper


def _describe_pinned(describe):
    @functools.wraps(describe)
    def wrapper(self, *args, **kwargs):
        pinned, _pinned.snapshot = getattr(_pinned, "snapshot", None), None
        return [pinned] if pinned is not None else describe(self, *args, **kwargs)
    return wrapper


RDSBackend.restore_db_instance_from_db_snapshot = _restore_via_arn(
    RDSBackend.restore_db_instance_from_db_snapshot, DBSnapshot, DBSnapshotNotFoundFault)
RDSBackend.restore_db_cluster_from_snapshot = _restore_via_arn(
    RDSBackend.restore_db_cluster_from_snapshot, DBClusterSnapshot, DBClusterSnapshotNotFoundError)
RDSBackend.describe_db_snapshots = _describe_pinned(RDSBackend.describe_db_snapshots)
RDSBackend.describe_db_cluster_snapshots = _describe_pinned(RDSBackend.describe_db_cluster_snapshots)


# --- (b) Copies record their source -----------------------------------------
# AWS: DBSnapshot.SourceDBSnapshotIdentifier is the source ARN "only in the case
# of a cross-account or cross-Region copy", SourceRegion is set for
# cross-Region copies; DBClusterSnapshot.SourceDBClusterSnapshotArn is set for
# every copy. Moto's serializer emits them once the model has the attributes.
_copy_db_snapshot = RDSBackend.copy_db_snapshot
_copy_db_cluster_snapshot = RDSBackend.copy_db_cluster_snapshot


def copy_db_snapshot(self, source_db_snapshot_identifier, *args, **kwargs):
    copy = _copy_db_snapshot(self, source_db_snapshot_identifier, *args, **kwargs)
    source = self.get_db_snapshot(source_db_snapshot_identifier)
    if (source.account_id, source.region) != (self.account_id, self.region_name):
        copy.source_db_snapshot_identifier = source.arn
    if source.region != self.region_name:
        copy.source_region = source.region
    return copy


def copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier, *args, **kwargs):
    copy = _copy_db_cluster_snapshot(self, source_db_cluster_snapshot_identifier, *args, **kwargs)
    copy.source_db_cluster_snapshot_arn = self.get_db_cluster_snapshot(
        source_db_cluster_snapshot_identifier).arn
    return copy


RDSBackend.copy_db_snapshot = copy_db_snapshot
RDSBackend.copy_db_cluster_snapshot = copy_db_cluster_snapshot


# --- (f) alias/aws/* keys are AWS managed --------------------------------------
# Moto creates the key behind a reserved alias (alias/aws/rds, ...) the first
# time the alias is used (e.g. DescribeKey KeyId=alias/aws/rds) but marks it
# CUSTOMER. AWS reports KeyManager=AWS for these keys.
_generate_default_keys = KmsBackend._generate_default_keys


def generate_default_keys(self, alias_name):
    key_id = _generate_default_keys(self, alias_name)
    if key_id is not None:
        self.keys[key_id].key_manager = "AWS"
        if alias_name == "alias/aws/rds":
            self.keys[key_id].description = (
                "Default key that protects my RDS database volumes when no other key is defined")
    return key_id


KmsBackend._generate_default_keys = generate_default_keys


# --- (g) DescribeDB(Cluster)Snapshots page with MaxRecords/Marker ------------
# Moto returns everything and no Marker; wrap the result like moto already does
# for DescribeDBInstances. The Marker encodes the ARN of the next snapshot.
def _paginated(describe, operation):
    moto_utils.get_pagination_model("rds")[operation].setdefault("unique_attribute", "arn")

    @functools.wraps(describe)
    def wrapper(self):
        return PaginatedResult(describe(self).result)
    return wrapper


RDSResponse.describe_db_snapshots = _paginated(RDSResponse.describe_db_snapshots, "DescribeDBSnapshots")
RDSResponse.describe_db_cluster_snapshots = _paginated(
    RDSResponse.describe_db_cluster_snapshots, "DescribeDBClusterSnapshots")


# --- Request inspection -------------------------------------------------------
_SIGV4 = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_faults = {}  # id -> fault dict (d)
_fault_ids = itertools.count(1)
_calls = []  # (e)


@functools.lru_cache(maxsize=None)
def _router(service):
    return get_service_router(service)


def _inspect(environ):
    """Buffer the body (moto still reads it afterwards) and describe a signed
    AWS request as service/operation/account/region/protocol; None if unsigned."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    body = stream.read(length) if length else (
        stream.read() if environ.get("wsgi.input_terminated") else b"")
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    query = parse_qs(environ.get("QUERY_STRING", ""))
    # SigV4 header, or the X-Amz-Credential parameter of a presigned URL
    match = _SIGV4.search(environ.get("HTTP_AUTHORIZATION")
                          or "Credential=" + query.get("X-Amz-Credential", [""])[0])
    if not match:
        return None, body
    access_key, region, service = match.groups()
    # The calling account, in the order moto itself uses (core/responses.py,
    # BaseResponse.get_current_account): env var, header, access key.
    account = (os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
               or get_account_id_from(access_key))
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:  # awsJson protocols: X-Amz-Target: Prefix.Operation
        protocol, operation = "json", target.rsplit(".", 1)[-1]
    else:
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            query.update(parse_qs(body.decode("utf-8", "replace")))
        if "Action" in query:  # query protocol (rds, sts, iam, ...)
            protocol, operation = "query", query["Action"][0]
        else:  # rest-json: ask moto's router, else "METHOD /path"
            protocol = "rest-json"
            try:
                env = dict(environ, **{"wsgi.input": io.BytesIO(body)})
                operation = _router(service).match(MotoRequest(env))[0].name
            except Exception:
                operation = f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '/')}"
    return dict(service=service, operation=operation, account_id=account,
                region=region, protocol=protocol, access_key=access_key,
                json_type=environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"), body


def _take_fault(call, body):
    """The first active fault matching this call (its hit counted), or None."""
    with _lock:
        for fault in _faults.values():
            if fault["times"] is not None and fault["hits"] >= fault["times"]:
                continue
            if any(fault[k] is not None and fault[k].lower() != call[k].lower()
                   for k in ("service", "operation", "account_id", "region")):
                continue
            if fault["body_contains"] is not None and fault["body_contains"].encode() not in body:
                continue
            fault["hits"] += 1
            return dict(fault)
    return None


def _fault_response(fault, call):
    """An error shaped like the AWS protocol of the request, so SDKs parse the code."""
    request_id, code, message = str(uuid.uuid4()), fault["code"], fault["message"]
    if call["protocol"] == "query":
        kind = "Sender" if fault["http_status"] < 500 else "Receiver"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
        headers = [("Content-Type", "text/xml")]
    else:
        body = json.dumps({"__type": code, "message": message})
        ctype = call["json_type"] if call["protocol"] == "json" else "application/json"
        headers = [("Content-Type", ctype), ("x-amzn-ErrorType", code)]
    return fault["http_status"], headers + [("x-amzn-RequestId", request_id)], body


# --- (h) STS sessions that expire ----------------------------------------------
# Moto never checks a session's Expiration. For the accounts chosen here, a
# request signed with the keys of an STS session (AssumeRole) acting in that
# account is refused once the session has expired, as AWS does. "Now" is the
# account's clock (real time unless moved). A session issued while the
# *caller's* clock is moved back expires early in real time: with the
# management account at -3580 s, AssumeRole hands out 20-second sessions.
_expiry = set()  # account ids whose sessions expire (None: every account)
EXPIRED = "The security token included in the request is expired"


def _expired_session(call):
    """An ExpiredToken error (a fault dict) for a request signed by an expired session, else None."""
    with _lock:
        if not {call["account_id"], None} & _expiry:
            return None
    backend = sts_backends[call["account_id"]][get_partition(call["region"])]
    session = backend.get_assumed_role_from_access_key(call["access_key"])
    if session is None or session.expiration > _real_utcnow() + _offset(call["account_id"]):
        return None
    if call["protocol"] == "query":
        return {"code": "ExpiredToken", "message": EXPIRED, "http_status": 403}
    return {"code": "ExpiredTokenException", "message": EXPIRED, "http_status": 400}


# --- Control routes: /_rdsguard/{clock,faults,calls,expiry} -------------------------
class BadRequest(Exception):
    pass


def _clock_state():
    return {"real_now": _real_utcnow().isoformat() + "Z",
            "default_offset_seconds": _clock[None].total_seconds() if None in _clock else None,
            "accounts": {a: o.total_seconds() for a, o in _clock.items() if a is not None}}


def _control(method, path, query, body):
    """Handle a control request; returns (status, JSON-serialisable object)."""
    filter_account = query.get("account_id", [None])[0]
    with _lock:
        if path == "/_rdsguard/clock":
            if method == "POST":
                account = body.get("account_id")
                if "now" in body:
                    now = datetime.datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
                    if now.tzinfo is not None:
                        now = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
                    _clock[account] = now - _real_utcnow()
                elif "offset_seconds" in body:
                    _clock[account] = datetime.timedelta(seconds=float(body["offset_seconds"]))
                else:
                    raise BadRequest("need offset_seconds or now")
            elif method == "DELETE":
                if "account_id" in query:
                    _clock.pop(filter_account, None)
                else:
                    _clock.clear()
            return 200, _clock_state()
        if path == "/_rdsguard/expiry":
            if method == "POST":
                _expiry.add(body.get("account_id"))
            elif method == "DELETE":
                if "account_id" in query:
                    _expiry.discard(filter_account)
                else:
                    _expiry.clear()
            return 200, {"accounts": sorted(a for a in _expiry if a is not None),
                         "all_accounts": None in _expiry}
        if path == "/_rdsguard/calls":
            if method == "DELETE":
                _calls[:] = [c for c in _calls if filter_account and c["account_id"] != filter_account]
                return 200, {}
            return 200, {"calls": [c for c in _calls
                                   if filter_account in (None, c["account_id"])]}
        if path == "/_rdsguard/faults":
            if method == "POST":
                if not body.get("code") and not body.get("delay_seconds"):
                    raise BadRequest("code (an error to answer) or delay_seconds is required")
                fault = {k: None if body.get(k) is None else str(body[k]) for k in
                         ("service", "operation", "account_id", "region", "body_contains")}
                fault.update(id=next(_fault_ids), code=body.get("code") and str(body["code"]), hits=0,
                             delay_seconds=float(body.get("delay_seconds") or 0),
                             times=None if body.get("times") is None else int(body["times"]),
                             message=body.get("message") or f"Injected fault {body.get('code')}",
                             http_status=int(body.get("http_status") or 400))
                _faults[fault["id"]] = fault
                return 200, {"id": fault["id"]}
            if method == "DELETE":
                for fid in [i for i, f in _faults.items()
                            if filter_account in (None, f["account_id"])]:
                    del _faults[fid]
                return 200, {}
            return 200, {"faults": list(_faults.values())}
        match = re.fullmatch(r"/_rdsguard/faults/(\d+)", path)
        if match and method == "DELETE":
            found = _faults.pop(int(match.group(1)), None)
            return (200, {}) if found else (404, {"error": "no such fault"})
    return 404, {"error": f"no route {method} {path}"}


class Middleware:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_rdsguard/"):
            return self._control(environ, start_response, path)
        call, body = _inspect(environ)
        if call is None:
            return self.app(environ, start_response)
        with _lock:
            _calls.append({k: call[k] for k in ("service", "operation", "account_id", "region")})
        expired = _expired_session(call)
        if expired is not None:
            status, headers, text = _fault_response(expired, call)
            start_response(f"{status} Expired", headers)
            return [text.encode()]
        fault = _take_fault(call, body)
        if fault is not None and fault["code"]:
            status, headers, text = _fault_response(fault, call)
            start_response(f"{status} Injected", headers)
            return [text.encode()]
        _request.account = call["account_id"]
        try:  # moto builds the whole response inside this call
            response = self.app(environ, start_response)
        finally:
            _request.account = None
        if fault is not None and fault["delay_seconds"] > 0:
            # A delay fault: the request is carried out, but its answer is held back, as when a
            # client dies after AWS accepted its call (tests kill the client in this window).
            time.sleep(fault["delay_seconds"])
        return response

    def _control(self, environ, start_response, path):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
            status, result = _control(environ["REQUEST_METHOD"], path,
                                      parse_qs(environ.get("QUERY_STRING", "")), body)
        except (BadRequest, ValueError, TypeError, AttributeError) as error:
            status, result = 400, {"error": str(error)}
        payload = json.dumps(result).encode()
        # An explicit length (not chunked) so the simplest HTTP client can read the answer.
        start_response(f"{status} {'OK' if status == 200 else 'Error'}",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(payload)))])
        return [payload]


class QuietHandler(MotoRequestHandler):
    def log_request(self, *args):  # no per-request access log
        pass


def _wait_for_eof(stop):
    # os.read on the raw fd: a daemon thread blocked in sys.stdin's buffered
    # reader would abort the interpreter at exit ("could not acquire lock").
    try:
        while os.read(0, 65536):
            pass
    except OSError:  # no usable stdin counts as EOF
        pass
    stop.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ignore-stdin", action="store_true",
                        help="do not exit on stdin EOF (for manual runs in the background)")
    args = parser.parse_args()

    app = Middleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                     daemon=True).start()
    print(f"READY http://{args.host}:{server.server_port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.ignore_stdin:
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    while not stop.wait(0.1):
        pass
    server.shutdown()


if __name__ == "__main__":
    main()
