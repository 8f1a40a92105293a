"""``nudge invoke``: the Docker-free twin of ``sam local invoke``. A function's entry point
(``functions/<name>/app.py``) runs in-process on moto with the environment ``template.yaml`` gives
it (Globals and the function's own ``Environment``, each resource named by its local twin), and
what it answered and what changed in the table are shown (docs/testing-rules.md#invoke)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nudge.core.clock import iso, parse_time
from nudge.sim.infra import ACCOUNT, REGION, find_template, load_template

# The unsubscribe secret the sample events in events/ are signed with (the same key `make
# sam-local` gives its local stack); a deploy generates its own.
SAMPLE_UNSUBSCRIBE_SECRET = "nudge-local-unsubscribe-secret-for-sam-local-only"
# what Lambda adds that the template does not say, and what is switched off locally
LOCAL_ONLY = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true"}


class InvokeError(ValueError):
    """The function or its event cannot be found or read."""


@dataclass
class Function:
    """A function of the template: its logical id, folder under ``functions/`` and variables."""

    logical_id: str
    name: str
    variables: dict[str, Any]


@dataclass
class Invocation:
    """What one invoke answered and changed."""

    function: str
    event: str
    result: Any = None
    error: str | None = None
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0

    def as_dict(self) -> dict[str, Any]:
        """As JSON for ``--json``."""
        return dict(self.__dict__)


def template_functions(template: Path) -> dict[str, Function]:
    """Every ``AWS::Serverless::Function``, by folder name (``ingest``) and logical id, with
    its variables: Globals' overlaid by its own."""
    doc = load_template(template)
    glob = (doc.get("Globals") or {}).get("Function") or {}
    common = ((glob.get("Environment") or {}).get("Variables")) or {}
    out: dict[str, Function] = {}
    for logical_id, resource in (doc.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        code = props.get("CodeUri", glob.get("CodeUri"))
        name = Path(str(code).rstrip("/")).name if isinstance(code, str) else logical_id
        own = ((props.get("Environment") or {}).get("Variables")) or {}
        function = Function(logical_id, name, {**common, **own})
        out[name] = function
        out[logical_id] = function
    return out


def _parameter_default(doc: dict[str, Any], name: str) -> str | None:
    param = (doc.get("Parameters") or {}).get(name)
    if isinstance(param, dict) and "Default" in param:
        return str(param["Default"])
    return None


def resolve_environment(
    template: Path, function: Function, config_dir: Path, local: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The function's environment, locally: literals as written, parameters at their defaults,
    ``NUDGE_CONFIG_DIR`` (the config layer at /opt) the local config, every resource reference
    its local twin (``local``: what the simulated deployment set). Returns it and a note per
    variable that has no local value (left unset)."""
    doc = load_template(template)
    env: dict[str, str] = {}
    notes: list[str] = []
    for key, value in function.variables.items():
        if key == "NUDGE_CONFIG_DIR":
            env[key] = str(config_dir)
        elif isinstance(value, str | int | float | bool):
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
        elif isinstance(value, dict) and "Ref" in value and _parameter_default(doc, value["Ref"]):
            env[key] = str(_parameter_default(doc, value["Ref"]))
        elif local.get(key):
            env[key] = local[key]
        else:
            notes.append(f"{key}: {json.dumps(value)} has no local twin; left unset")
    return env, notes


def event_time(event: Any) -> datetime | None:
    """When the event happened, to start the clock there: an envelope's ``time``, an HTTP
    request's ``requestContext.timeEpoch``, a stream record's creation time."""
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("time"), str):
        with contextlib.suppress(ValueError):
            return parse_time(event["time"])
    epoch = (event.get("requestContext") or {}).get("timeEpoch")
    if isinstance(epoch, int | float):
        return datetime.fromtimestamp(epoch / 1000, tz=UTC)
    for record in event.get("Records") or ():
        created = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
        if isinstance(created, int | float):
            return datetime.fromtimestamp(created, tz=UTC)
    return None


class _Context:
    """What Lambda passes as the context (the fields nudge and Powertools read)."""

    def __init__(self, name: str) -> None:
        self.function_name = f"nudge-{name}"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nudge-{name}"
        self.aws_request_id = f"local-{name}"
        self.log_group_name = f"/aws/lambda/nudge-{name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty: nothing times out in-process."""
        return 30_000


def load_handler(root: Path, name: str) -> Any:
    """``handler`` of ``functions/<name>/app.py``."""
    path = root / "functions" / name / "app.py"
    if not path.exists():
        raise InvokeError(f"{path}: no such entry point")
    spec = importlib.util.spec_from_file_location(f"nudge_function_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _keyed(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    from nudge.aws.store import plain_item

    return {(i["pk"]["S"], i["sk"]["S"]): plain_item(i) for i in items}


def _changes(
    before: dict[tuple[str, str], dict[str, Any]], after: dict[tuple[str, str], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    added = [
        {"pk": k[0], "sk": k[1], "kind": after[k].get("kind")} for k in after if k not in before
    ]
    removed = [
        {"pk": k[0], "sk": k[1], "kind": before[k].get("kind")} for k in before if k not in after
    ]
    changed = []
    for k in after:
        if k in before and after[k] != before[k]:
            old, new = before[k], after[k]
            fields = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
            doc_old, doc_new = old.get("doc"), new.get("doc")
            if isinstance(doc_old, dict) and isinstance(doc_new, dict):
                inner = sorted(
                    f for f in set(doc_old) | set(doc_new) if doc_old.get(f) != doc_new.get(f)
                )
                fields = [f for f in fields if f != "doc"] + [f"doc.{f}" for f in inner]
            row: dict[str, Any] = {
                "pk": k[0],
                "sk": k[1],
                "kind": new.get("kind"),
                "fields": fields,
            }
            if old.get("status") != new.get("status"):
                row["status"] = [old.get("status"), new.get("status")]
            changed.append(row)
    return added, removed, changed


def invoke(
    function: str,
    event_files: list[Path],
    config_dir: Path = Path("config"),
    root: Path | None = None,
    at: datetime | None = None,
    given: list[Path] = (),  # type: ignore[assignment]
) -> list[Invocation]:
    """Invoke ``function`` with each event in turn, in one in-process deployment on moto (as
    ``sam local invoke`` against one local stack), after the storefront events ``given`` went
    the deployed way (bus, ingest, dispatch) to set the scene; raises InvokeError."""
    from nudge.aws import clients as aws
    from nudge.config import get_config
    from nudge.env import reset_env
    from nudge.sim.runner import Simulation

    template = find_template(root or Path.cwd(), config_dir.resolve())
    if template is None:
        raise InvokeError("no template.yaml here or above the config")
    root = template.parent
    functions = template_functions(template)
    found = functions.get(function)
    if found is None:
        names = sorted({f.name for f in functions.values()})
        raise InvokeError(f"no function {function!r} in {template}; it has: {', '.join(names)}")
    events = []
    for path in event_files:
        try:
            events.append((path, json.loads(Path(path).read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            raise InvokeError(f"{path}: cannot read the event: {exc}") from None
    scene = []
    for path in given:
        try:
            scene.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InvokeError(f"{path}: cannot read the event: {exc}") from None
    times = [t for e in [*scene, *(e for _p, e in events)] if (t := event_time(e))]
    start = at or (min(times) if times else None)
    handler = load_handler(root, found.name)
    out: list[Invocation] = []
    with Simulation(config_dir, start=start or datetime.now(UTC), backend="moto") as sim:
        _sample_secret()
        local = dict(os.environ)
        local.update(_twins(sim))
        env, notes = resolve_environment(template, found, config_dir.resolve(), local)
        saved = {k: os.environ.get(k) for k in [*env, *LOCAL_ONLY]}
        os.environ.update({**env, **LOCAL_ONLY})
        reset_env()
        get_config.cache_clear()
        try:
            if scene:
                sim.run(scene, until=timedelta(0))
            for path, event in events:
                when = at or event_time(event)
                if when is not None:
                    sim.clock.set(when)
                _put_stream_inserts(event)
                before = _keyed(sim.table_items())
                emails, texts = len(sim.backend.emails()), len(sim.backend.sms())
                record = Invocation(found.name, str(path))
                try:
                    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
                        # logs to stderr, as SAM shows them; no "no metrics" warning per invoke
                        warnings.filterwarnings("ignore", "No application metrics to publish")
                        record.result = handler(event, _Context(found.name))
                except Exception as exc:  # any error is the invoke's answer, as Lambda reports it
                    record.error = f"{type(exc).__name__}: {exc}"
                after = _keyed(sim.table_items())
                record.added, record.removed, record.changed = _changes(before, after)
                record.sent = len(sim.backend.emails()) + len(sim.backend.sms()) - emails - texts
                out.append(record)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            aws.reset_clients()
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return out


def _twins(sim: Any) -> dict[str, str]:
    """Local twins of the resources the simulator does not name in ``ENV``."""
    from nudge.aws import clients as aws

    sqs = aws.client("sqs")
    out: dict[str, str] = {}
    wake = sim.dlqs.get("wake")
    if wake:
        attrs = sqs.get_queue_attributes(QueueUrl=wake, AttributeNames=["QueueArn"])
        out["NUDGE_WAKE_DLQ_ARN"] = attrs["Attributes"]["QueueArn"]
    name = "nudge-sim-messages"
    aws.client("sesv2").create_configuration_set(ConfigurationSetName=name)
    out["NUDGE_SES_CONFIGURATION_SET"] = name
    return out


def _sample_secret() -> None:
    """Sign and check unsubscribe links with the key the sample events were signed with."""
    from nudge.aws import clients as aws
    from nudge.aws.secrets import forget_keys

    arn = os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"]
    aws.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=SAMPLE_UNSUBSCRIBE_SECRET
    )
    forget_keys()


def _put_stream_inserts(event: Any) -> None:
    """A DynamoDB stream INSERT says its new image was written: write it first, as it was."""
    from nudge.aws import clients as aws
    from nudge.sim.infra import ENV

    if not isinstance(event, dict):
        return
    for record in event.get("Records") or ():
        image = (record.get("dynamodb") or {}).get("NewImage")
        if (
            record.get("eventSource") == "aws:dynamodb"
            and record.get("eventName") == "INSERT"
            and image
        ):
            aws.client("dynamodb").put_item(TableName=ENV["NUDGE_TABLE"], Item=image)


def render_invocation(inv: Invocation) -> str:
    """One invoke as a developer reads it: the answer, then the table's changes."""
    lines = [f"{inv.function} <- {inv.event}"]
    if inv.error:
        lines.append(f"  error: {inv.error}")
    else:
        lines.append("  result: " + json.dumps(inv.result, default=str)[:2000])
    if not (inv.added or inv.removed or inv.changed):
        lines.append("  table: unchanged")
    for row in inv.added:
        lines.append(f"  + {row['pk']} {row['sk']} ({row['kind']})")
    for row in inv.removed:
        lines.append(f"  - {row['pk']} {row['sk']} ({row['kind']})")
    for row in inv.changed:
        status = f" status {row['status'][0]} -> {row['status'][1]}" if "status" in row else ""
        lines.append(
            f"  ~ {row['pk']} {row['sk']} ({row['kind']}){status}: {', '.join(row['fields'])}"
        )
    if inv.sent:
        lines.append(f"  messages sent: {inv.sent}")
    return "\n".join(lines)


def stamp(when: datetime) -> str:
    """An ISO time."""
    return iso(when)
