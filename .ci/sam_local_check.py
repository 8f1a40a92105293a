"""`sam local invoke` of every function in template.yaml with its sample events, each result checked.

Run by `bash .ci/sam.sh local` (`make sam-local`) with the project's .venv, once Docker, the Lambda
image and `sam build` (for this machine's architecture) are ready:

1. starts a moto server on HOST (the Docker bridge's gateway address, which the function
   containers reach) on a free port, and creates there what the functions use: the table (from
   template.yaml, through nudge.sim.infra), the dead-letter queues, the bus, the schedule group,
   the SES identities and configuration set;
2. writes the functions' environment for `--env-vars` (AWS_ENDPOINT_URL = the moto server, the
   NUDGE_* names = those resources) and a copy of the built template that declares
   AWS_ENDPOINT_URL (SAM passes only variables the template declares);
3. invokes each function in template.yaml with each of its events (.ci/sam-local-events.txt);
   an event that is a DynamoDB stream INSERT has its new image put in the table first, as the
   record says it was written;
4. checks each invoke: SAM exits 0 even when the handler raised or timed out, so its output is
   read: an errorMessage/errorType, a timeout, no response, a reported batch item failure, an
   `error` or `malformed` result, an HTTP status of 400 or more all fail. Ingest must have written the customer's profile
   (GetItem C#<id>/PROFILE on the moto server, a newer version than before), dispatch must have
   moved the outbox item on;
5. prints one line per function and event, stops the moto server, exits 1 if anything failed.

`--break-moto` stops the moto server before the first invoke, which must then fail: the proof
that a handler's error fails the target (.ci/run runs it).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from nudge.sim.infra import CfnLoader  # the one CloudFormation-aware YAML loader

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
CONFIG = ROOT / "config"
TEMPLATE = ROOT / "template.yaml"
MAP_FILE = ROOT / ".ci" / "sam-local-events.txt"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
# Beside the built template, so its relative CodeUri/ContentUri paths stay valid.
LOCAL_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.sam-local.yaml"

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "nudge-local"
# The local stack's unsubscribe secret (a deploy generates its own): the tokens in
# events/unsubscribe_*.json are signed with it.
LOCAL_UNSUBSCRIBE_SECRET = "nudge-local-unsubscribe-secret-for-sam-local-only"
LOCAL_WEBHOOK_SECRET = "bnVkZ2UtbG9jYWwtd2ViaG9vay1zZWNyZXQtc2FtLWxvY2Fs"  # base64, 36 bytes
INVOKE_TIMEOUT = 300  # seconds for one `sam local invoke` (image build + container + handler)

# What SAM logs (and still exits 0) when the container timed out or never answered.
TIMEOUT_MARKERS = (
    "timed out after",
    "No response from invoke container",
    "Timed out while attempting to establish a connection",
)


# ---------------------------------------------------------------------------------------------
# The functions and their events
# ---------------------------------------------------------------------------------------------


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)


@dataclass(frozen=True)
class Function:
    logical_id: str  # IngestFunction
    name: str  # ingest: its folder under functions/ (CodeUri)


def template_functions(path: Path = TEMPLATE) -> list[Function]:
    """Every AWS::Serverless::Function in the template, in template order."""
    doc = load_template(path)
    default_code = ((doc.get("Globals") or {}).get("Function") or {}).get("CodeUri")
    out = []
    for logical_id, resource in (doc.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code = (resource.get("Properties") or {}).get("CodeUri", default_code)
        name = Path(code.rstrip("/")).name if isinstance(code, str) else logical_id
        out.append(Function(logical_id, name))
    return out


def read_event_map(path: Path = MAP_FILE) -> dict[str, list[str]]:
    """function name -> its selectors (globs or @accepted), in file order."""
    mapping: dict[str, list[str]] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *selectors = line.split()
        if not selectors:
            raise ValueError(f"{path.name}:{number}: '{name}' has no event files")
        mapping.setdefault(name, []).extend(selectors)
    return mapping


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def accepted_envelopes(events: Path = EVENTS, config: Path = CONFIG) -> list[Path]:
    """EventBridge envelopes in ``events`` whose source the config accepts, oldest first."""
    from nudge.config import load_config

    sources = load_config(str(config)).settings.sources
    try:
        from nudge.core.events import source_allowed
    except ImportError:  # older nudge: exact names only

        def source_allowed(source: str, allowed: list[str] | None) -> bool:
            return allowed is None or source in allowed

    found = []
    for path in sorted(events.glob("*.json")):
        doc = _load_json(path)
        if not isinstance(doc, dict) or "detail-type" not in doc:
            continue
        if source_allowed(str(doc.get("source", "")), sources):
            found.append((str(doc.get("time", "")), path.name, path))
    return [path for _time, _name, path in sorted(found)]


def _select(selector: str, events: Path, config: Path) -> list[Path]:
    if selector == "@accepted":
        return accepted_envelopes(events, config)
    if selector.startswith("@"):
        raise ValueError(f"unknown selector {selector} in {MAP_FILE.name}")
    return sorted(p for p in events.iterdir() if fnmatch.fnmatch(p.name, selector))


def plan_invokes(
    functions: list[Function],
    mapping: dict[str, list[str]],
    events: Path = EVENTS,
    config: Path = CONFIG,
) -> list[tuple[Function, list[Path]]]:
    """Each function with its events: those in the map's order first, then template order."""
    order = {name: i for i, name in enumerate(mapping)}
    ranked = sorted(functions, key=lambda f: order.get(f.name, len(order)))
    planned = []
    for function in ranked:
        selectors = mapping.get(function.name) or [
            f"{function.name}.json",
            f"{function.name}_*.json",
        ]
        files: list[Path] = []
        for selector in selectors:
            files.extend(p for p in _select(selector, events, config) if p not in files)
        planned.append((function, files))
    return planned


# ---------------------------------------------------------------------------------------------
# Reading SAM's output
# ---------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    ok: bool
    summary: str  # the handler's result as compact JSON, or what went wrong, on one line
    detail: list[str] = field(default_factory=list)  # stack trace or log lines, when not ok
    result: Any = None


def _compact(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _response(stdout: str) -> Any:
    """The function's response: SAM prints it (JSON) on stdout, after anything else there."""
    text = stdout.strip()
    if not text:
        raise ValueError("no response")
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line:
            return json.loads(line)
    raise ValueError("no response")


def _log_tail(stderr: str, lines: int = 25) -> list[str]:
    """The handler's error in the function's log: from the last traceback or ERROR line on."""
    # The emulator's own "[ERROR] ... LAMBDA_RUNTIME Failed to get next invocation" is logged
    # when SAM stops the container after every invoke: not the handler's.
    rows = [r for r in stderr.splitlines() if r.strip() and "LAMBDA_RUNTIME" not in r]
    start = None
    for marker in ("Traceback", "[ERROR]"):
        hits = [i for i, row in enumerate(rows) if marker in row]
        if hits:
            start = hits[-1]
            break
    picked = rows[start:] if start is not None else rows
    return picked[-lines:]


def _trace(frames: Any, limit: int = 12) -> list[str]:
    """The stack trace's frames in the function's own code and layers (not the runtime's)."""
    entries = [str(f).rstrip() for f in frames or [] if str(f).strip()]
    own = [
        e for e in entries if not e.lstrip().startswith(('File "/var/runtime/', 'File "/var/lang/'))
    ]
    lines: list[str] = []
    for entry in (own or entries)[-limit:]:
        lines.extend(entry.splitlines())
    return lines


def check_invoke(returncode: int, stdout: str, stderr: str) -> Outcome:
    """Did the handler succeed? SAM exits 0 even when it raised or timed out: read the output."""
    if returncode != 0:
        return Outcome(False, f"sam exited {returncode}", _log_tail(stderr))
    for row in stderr.splitlines():
        if any(marker in row for marker in TIMEOUT_MARKERS):
            return Outcome(False, f"timeout: {row.strip()}", _log_tail(stderr))
    try:
        result = _response(stdout)
    except ValueError:
        return Outcome(False, "no response from the function", _log_tail(stderr))
    if isinstance(result, dict) and ("errorMessage" in result or "errorType" in result):
        kind = result.get("errorType") or "Error"
        message = " ".join(str(result.get("errorMessage", "")).split())
        return Outcome(False, f"{kind}: {message}", _trace(result.get("stackTrace")), result)
    if isinstance(result, dict):
        failures = result.get("batchItemFailures")
        if failures:
            return Outcome(
                False,
                f"{len(failures)} batch item failure(s): {_compact(result)}",
                _log_tail(stderr),
                result,
            )
        for key in ("error", "malformed"):
            if result.get(key):
                return Outcome(False, f"{key}: {result[key]}", _log_tail(stderr), result)
        status = result.get("statusCode")
        if isinstance(status, int) and status >= 400:  # an HTTP handler's error response
            body = " ".join(str(result.get("body", "")).split())[:200]
            return Outcome(False, f"HTTP {status}: {body}", _log_tail(stderr), result)
    return Outcome(True, _compact(result), [], result)


# ---------------------------------------------------------------------------------------------
# The moto server and what the functions need on it
# ---------------------------------------------------------------------------------------------
def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """`moto_server` from this venv, bound to ``host`` on a free port; stopped by its pid."""

    def __init__(self, host: str, log: Path, pidfile: Path | None) -> None:
        self.host = host
        self.port = free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.log = log
        self.pidfile = pidfile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        server = Path(sys.executable).parent / "moto_server"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(server), "-H", self.host, "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        if self.pidfile:
            self.pidfile.write_text(str(self.proc.pid))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"moto_server exited ({self.log}):\n{self.log.read_text()[-2000:]}"
                )
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answered
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto_server did not answer on {self.url} in 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.pidfile:
            self.pidfile.unlink(missing_ok=True)


def aws_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    ).client(service, endpoint_url=endpoint, config=Config(retries={"max_attempts": 1}))


def create_resources(endpoint: str) -> dict[str, str]:
    """Create on the moto server what the functions use; returns their environment."""
    from nudge.config import load_config
    from nudge.sim.infra import create_table, read_template

    table, bus, group, config_set = PREFIX, PREFIX, f"{PREFIX}-waits", f"{PREFIX}-messages"
    table_props, _pattern = read_template(TEMPLATE)
    create_table(aws_client("dynamodb", endpoint), table, table_props)
    sqs = aws_client("sqs", endpoint)
    dlq_url = sqs.create_queue(QueueName=f"{PREFIX}-ingest-dlq")["QueueUrl"]
    wake_dlq = sqs.create_queue(QueueName=f"{PREFIX}-wake-dlq")["QueueUrl"]
    wake_dlq_arn = sqs.get_queue_attributes(QueueUrl=wake_dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    aws_client("events", endpoint).create_event_bus(Name=bus)
    aws_client("scheduler", endpoint).create_schedule_group(Name=group)
    sender = load_config(str(CONFIG)).settings.sender.email or ""
    if sender:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
        aws_client("ses", endpoint).verify_email_identity(EmailAddress=address)
        aws_client("sesv2", endpoint).create_email_identity(EmailIdentity=address.split("@")[-1])
    aws_client("sesv2", endpoint).create_configuration_set(ConfigurationSetName=config_set)
    # the deploy generates the secret; here it is the one the sample requests are signed with
    secret_arn = aws_client("secretsmanager", endpoint).create_secret(
        Name=f"{PREFIX}-unsubscribe", SecretString=LOCAL_UNSUBSCRIBE_SECRET
    )["ARN"]
    # the webhook signing key (template.yaml WebhookSecret; base64, as the deploy's is read)
    webhook_arn = aws_client("secretsmanager", endpoint).create_secret(
        Name=f"{PREFIX}-webhook", SecretString=LOCAL_WEBHOOK_SECRET
    )["ARN"]
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "NUDGE_TABLE": table,
        "NUDGE_BUS_NAME": bus,
        "NUDGE_DLQ_URL": dlq_url,
        "NUDGE_SCHEDULER_GROUP": group,
        "NUDGE_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-scheduler",
        "NUDGE_WAKE_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-wake",
        "NUDGE_WAKE_DLQ_ARN": wake_dlq_arn,
        "NUDGE_SES_CONFIGURATION_SET": config_set,
        "NUDGE_UNSUBSCRIBE_SECRET_ARN": secret_arn,
        "NUDGE_WEBHOOK_SECRET_ARN": webhook_arn,
    }


_ISO = re.compile(r"\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def recent(text: str, now: datetime) -> str:
    """``text`` with every ISO-8601 time moved by one offset, so the latest is 10 minutes before
    ``now``: ingest parks events dated in the future (settings.ingest.max_future), and the
    samples are dated on the sample day. Their order and spacing stay as they were."""
    found = [
        (m.group(0), datetime.fromisoformat(m.group(1) + (m.group(2) or "") + _offset(m.group(3))))
        for m in _ISO.finditer(text)
    ]
    if not found:
        return text
    shift = now - timedelta(minutes=10) - max(at for _t, at in found)

    def moved(m: re.Match[str]) -> str:
        at = datetime.fromisoformat(m.group(1) + (m.group(2) or "") + _offset(m.group(3))) + shift
        fraction = m.group(2) or ""
        if fraction:
            fraction = "." + f"{at.microsecond:06d}"[: len(fraction) - 1].ljust(
                len(fraction) - 1, "0"
            )
        return at.strftime("%Y-%m-%dT%H:%M:%S") + fraction + m.group(3)

    return _ISO.sub(moved, text)


def _offset(zone: str) -> str:
    return "+00:00" if zone == "Z" else zone


def fresh_event(function: Function, path: Path, logs: Path) -> Path:
    """The event to invoke ``function`` with: unsubscribe tokens issued now, and for ingest the
    sample's times moved to just before now (``recent``)."""
    path = fresh_tokens(path, logs)
    if function.name != "ingest":
        return path

    out = logs / f"event-{path.name.removeprefix('event-')}"
    out.write_text(recent(path.read_text(encoding="utf-8"), datetime.now(UTC)), encoding="utf-8")
    return out


def fresh_tokens(path: Path, logs: Path) -> Path:
    """``path``, or a copy of it in ``logs`` whose unsubscribe token is issued now (the samples'
    tokens carry their issue time and expire a year later; the check must not)."""

    from nudge.core.tokens import Keyring, make_token, read_token

    text = path.read_text(encoding="utf-8")
    found = sorted(set(re.findall(r"n2\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", text)))
    if not found:
        return path
    keys = Keyring((LOCAL_UNSUBSCRIBE_SECRET,))
    for old in found:
        said = read_token(old, keys, datetime.now(UTC), timedelta(days=36500))
        new = make_token(said.customer_id, said.channel, datetime.now(UTC), keys)
        text = text.replace(old, new)
        event = json.loads(text)
        if event.get("isBase64Encoded") and event.get("body"):
            body = base64.b64decode(event["body"]).decode().replace(old, new)
            event["body"] = base64.b64encode(body.encode()).decode()
            event.get("headers", {})["content-length"] = str(len(body))
            text = json.dumps(event, indent=2)
    out = logs / f"event-{path.name}"
    out.write_text(text, encoding="utf-8")
    return out


def write_local_template(built: Path = BUILT_TEMPLATE, out: Path = LOCAL_TEMPLATE) -> None:
    """The built template, also declaring AWS_ENDPOINT_URL so `--env-vars` may set it."""
    doc = load_template(built)
    function = doc.setdefault("Globals", {}).setdefault("Function", {})
    variables = function.setdefault("Environment", {}).setdefault("Variables", {})
    variables.setdefault("AWS_ENDPOINT_URL", "")
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# What each invoke must have left on the moto server
# ---------------------------------------------------------------------------------------------
def profile_version(ddb: Any, customer_id: str) -> int:
    item = ddb.get_item(
        TableName=PREFIX,
        Key={"pk": {"S": f"C#{customer_id}"}, "sk": {"S": "PROFILE"}},
        ConsistentRead=True,
    ).get("Item")
    return int(item["version"]["N"]) if item else 0


def stream_inserts(event: Any) -> list[dict[str, Any]]:
    """New images of the DynamoDB stream INSERT records in an event."""
    records = event.get("Records") if isinstance(event, dict) else None
    return [
        r["dynamodb"]["NewImage"]
        for r in records or []
        if r.get("eventSource") == "aws:dynamodb"
        and r.get("eventName") == "INSERT"
        and (r.get("dynamodb") or {}).get("NewImage")
    ]


class Checks:
    """Before/after each invoke: put what a stream record says was written; check the effect."""

    def __init__(self, endpoint: str) -> None:
        self.ddb = aws_client("dynamodb", endpoint)

    def before(self, function: Function, event: Any) -> dict[str, Any]:
        for image in stream_inserts(event):
            self.ddb.put_item(TableName=PREFIX, Item=image)
        state: dict[str, Any] = {}
        customer = ((event.get("detail") or {}) if isinstance(event, dict) else {}).get(
            "customer_id"
        )
        if function.name == "ingest" and customer:
            state["version"] = profile_version(self.ddb, str(customer))
        return state

    def after(self, function: Function, event: Any, result: Any, state: dict[str, Any]) -> str:
        """A note on what the invoke left in moto; raises AssertionError when it is wrong."""
        notes = []
        catalog = (
            isinstance(result, dict) and "product_id" in result and "customer_id" not in result
        )
        if function.name == "ingest" and catalog:  # a catalog event: the product, no customer
            product = str(result["product_id"])
            key = {"pk": {"S": f"PRODUCT#{product}"}, "sk": {"S": "STATE"}}
            item = self.ddb.get_item(TableName=PREFIX, Key=key, ConsistentRead=True).get("Item")
            assert item, f"no product PRODUCT#{product}/STATE on the moto server"
            notes.append(f"product PRODUCT#{product}")
        elif function.name == "ingest" and isinstance(result, dict):
            customer = result.get("customer_id")
            assert customer, "ingest returned no customer_id"
            version = profile_version(self.ddb, str(customer))
            assert version, f"no profile C#{customer}/PROFILE on the moto server"
            if "version" in state and not result.get("duplicate"):
                assert version > state["version"], (
                    f"profile C#{customer} still at version {version}: the event was not written"
                )
            notes.append(f"profile C#{customer} v{version}")
        for image in stream_inserts(event):
            if image.get("kind", {}).get("S") != "outbox":
                continue
            key = {"pk": image["pk"], "sk": image["sk"]}
            item = self.ddb.get_item(TableName=PREFIX, Key=key, ConsistentRead=True).get("Item")
            sk = image["sk"]["S"]
            assert item, f"outbox item {sk} is gone"
            status = item["status"]["S"]
            assert status != "sending", f"outbox item {sk} left claimed (sending)"
            assert not (status == "pending" and item["send_at"] == image["send_at"]), (
                f"outbox item {sk} untouched (still pending for {image['send_at']['S']})"
            )
            notes.append(f"outbox {sk} {status}")
        return ", ".join(notes)


# ---------------------------------------------------------------------------------------------
# Invoking
# ---------------------------------------------------------------------------------------------
@dataclass
class Invoker:
    sam: str
    image: str
    arch: str
    env_file: Path
    logs: Path

    def run(self, function: Function, event: Path) -> tuple[int, str, str]:
        cmd = [
            self.sam,
            "local",
            "invoke",
            function.logical_id,
            "--template",
            str(LOCAL_TEMPLATE),
            "--event",
            str(event),
            "--env-vars",
            str(self.env_file),
            "--parameter-overrides",
            f"Architecture={self.arch}",
            "--skip-pull-image",
            "--invoke-image",
            self.image,
            "--region",
            REGION,
        ]
        try:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=INVOKE_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            code, err = 124, err + f"\nsam local invoke timed out after {INVOKE_TIMEOUT} seconds"
        log = self.logs / f"invoke-{function.name}-{event.stem}.log"
        log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{out}\n--- stderr\n{err}", encoding="utf-8")
        return code, out, err


def line(status: str, function: str, event: str, text: str) -> None:
    print(f"{status:<5} {function:<18} {event:<44} {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    logs = Path(args.logs).resolve()
    logs.mkdir(parents=True, exist_ok=True)
    functions = template_functions()
    planned = plan_invokes(functions, read_event_map())
    missing = [f for f, files in planned if not files]
    todo = [(f, e) for f, files in planned for e in files]
    if args.break_moto:
        todo = todo[:1]
    print(
        f"sam-local: {len(functions)} functions in template.yaml, {len(todo)} invokes"
        f"{' (moto server stopped first: this must fail)' if args.break_moto else ''}",
        flush=True,
    )
    moto = MotoServer(
        args.host, logs / "moto.log", Path(args.moto_pidfile) if args.moto_pidfile else None
    )
    passed = failed = 0
    try:
        moto.start()
        env = create_resources(moto.url)
        env_file = logs / "env-vars.json"
        env_file.write_text(json.dumps({"Parameters": env}, indent=2), encoding="utf-8")
        write_local_template()
        checks = Checks(moto.url)
        invoker = Invoker(args.sam, args.image, args.arch, env_file, logs)
        print(f"sam-local: moto server {moto.url}, image {args.image}, {args.arch}", flush=True)
        for function in [] if args.break_moto else missing:
            failed += 1
            line(
                "FAIL",
                function.logical_id,
                "-",
                f"no sample event: add events/{function.name}_*.json or a line in "
                f".ci/{MAP_FILE.name}",
            )
        if args.break_moto:
            moto.stop()
        for function, path in todo:
            event = _load_json(path)
            state = {} if args.break_moto else checks.before(function, event)
            started = time.monotonic()
            code, out, err = invoker.run(function, fresh_event(function, path, logs))
            took = f"{time.monotonic() - started:4.1f}s"
            outcome = check_invoke(code, out, err)
            note = ""
            if outcome.ok:
                try:
                    note = checks.after(function, event, outcome.result, state)
                except AssertionError as exc:
                    outcome = Outcome(False, f"{outcome.summary}; but {exc}", [], outcome.result)
            if outcome.ok:
                passed += 1
                line(
                    "ok",
                    function.logical_id,
                    path.name,
                    f"{took}  {outcome.summary}{'  [' + note + ']' if note else ''}",
                )
            else:
                failed += 1
                line("FAIL", function.logical_id, path.name, f"{took}  {outcome.summary}")
                for row in outcome.detail:
                    print(f"      | {row}", flush=True)
                print(
                    f"      (full output: {logs / f'invoke-{function.name}-{path.stem}.log'})",
                    flush=True,
                )
    finally:
        moto.stop()
    print(f"sam-local: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sam", required=True, help="the sam executable")
    parser.add_argument("--image", required=True, help="--invoke-image for every function")
    parser.add_argument("--arch", required=True, choices=["x86_64", "arm64"])
    parser.add_argument(
        "--host", required=True, help="address for the moto server (bridge gateway)"
    )
    parser.add_argument("--logs", default=str(ROOT / ".sam-local"))
    parser.add_argument("--moto-pidfile", default="")
    parser.add_argument("--break-moto", action="store_true")
    args = parser.parse_args(list(argv) if argv is not None else None)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the moto server
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
