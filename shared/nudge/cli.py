"""The ``nudge`` command line (docs/reference.md#command-line)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _moment(text: str) -> str:
    """An ``--at`` value: an ISO 8601 time (a date alone is its midnight UTC)."""
    from nudge.core.clock import parse_time

    full = text if "T" in text or " " in text else f"{text}T00:00:00Z"
    try:
        parse_time(full)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r} ({exc})") from None
    return full


def _validate(args: argparse.Namespace) -> int:
    if getattr(args, "at", None):  # windows and broadcasts judged as of then, not now
        from nudge.core.clock import frozen, parse_time

        with frozen(parse_time(args.at)):
            return _validate(argparse.Namespace(**{**vars(args), "at": None}))
    from nudge.config.whole import check_config

    problems = check_config(args.config_dir)
    if getattr(args, "table", None) and not any(p.severity == "error" for p in problems):
        import botocore.exceptions as boto_errors

        try:
            problems += _journey_changes(args.config_dir, args.table)
        except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
            print(f"validate: reading table {args.table}: {exc}", file=sys.stderr)
            return 1
    problems = sorted(problems, key=lambda p: (p.file, p.line, p.column))
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    if errors or (warnings and args.strict):
        strict = " (--strict: warnings count as errors)" if warnings and args.strict else ""
        print(
            f"{errors} error(s), {warnings} warning(s) in {args.config_dir}{strict}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.config_dir}: ok" + (f" ({warnings} warning(s))" if warnings else ""))
    if args.compile:
        from pathlib import Path

        from nudge.config.artefact import write_artefact

        print(f"compiled config written to {write_artefact(Path(args.config_dir))}")
    return 0


def _journey_changes(config_dir: str, table: str) -> list[Any]:
    """Warnings for journeys edited while customers are in them, counted over the table's
    profiles (one paged scan: an offline check, never the event path)."""
    import os

    from nudge.aws import store
    from nudge.config import load_config
    from nudge.config.journeys import journey_changes
    from nudge.config.load import read_config
    from nudge.env import reset_env

    os.environ["NUDGE_TABLE"] = table
    reset_env()
    config = load_config(config_dir)
    sources = {t.id: src for t, src in read_config(config_dir).triggers if t.steps is not None}

    def profiles() -> Any:
        key = None
        while True:
            items, key = store.scan_profiles(0, 1, key)
            yield from (item["doc"] for item in items)
            if key is None:
                return

    return journey_changes(config, profiles(), sources)


def _schema(args: argparse.Namespace) -> int:
    from nudge.config.jsonschema import config_schema, write_schemas

    if args.out:
        for path in write_schemas(args.out, args.config):
            print(path)
        return 0
    print(json.dumps(config_schema(args.config), indent=2))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from nudge.config import ConfigInvalid
    from nudge.sim import Simulation, SimulationError
    from nudge.sim.report import render_report
    from nudge.sim.runner import check_times, parse_start, parse_until, read_events

    try:
        events = read_events(args.events)
        start = parse_start(args.start) if args.start else None
        until = parse_until(args.until) if args.until else None
        check_times(events, start, until)
        sim = Simulation(args.config, start=start, daily=not args.no_daily, backend=args.backend)
    except ConfigInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print("simulate: the config has errors; nothing was run", file=sys.stderr)
        return 1
    except (SimulationError, ValueError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    from nudge.sim.progress import Progress

    bar = Progress()
    with sim:
        sim.run(events, until, progress=bar)  # the clock starts at --start, else the first event
        bar.close()
        result = sim.output(events)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    if args.report:
        print(render_report(result))
        print()
    sent = len(result["messages"])
    print(f"{len(events)} events, {len(result['decisions'])} decisions, {sent} messages -> {out}")
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    failed = [d for d in result["decisions"] if d["outcome"] == "failed"]
    if failed and not args.allow_failed:
        for d in failed:
            cause = (d.get("detail") or {}).get("error") or ""
            print(
                f"failed: {d['trigger']} to {d['customer_id']} at {d['at']}: {d['reason']}"
                + (f" ({cause})" if cause else ""),
                file=sys.stderr,
            )
        print(
            f"simulate: {len(failed)} message(s) failed; exit 2 (--allow-failed accepts them)",
            file=sys.stderr,
        )
        return 2
    return 0


def _explain(args: argparse.Namespace) -> int:
    from nudge.explain import explain_command

    return explain_command(args)


def _report_lift(args: argparse.Namespace) -> int:
    from datetime import datetime

    from nudge.core.clock import parse_time
    from nudge.lift.measure import lift_report
    from nudge.lift.page import render_html
    from nudge.lift.render import render_table
    from nudge.lift.source import LiftSourceError, from_file, from_table, period_time

    try:
        data = (
            from_file(args.from_file, args.config)
            if args.from_file
            else from_table(args.table, args.config)
        )
        now = parse_time(data.now) if data.now else datetime.now().astimezone()
        since = period_time("--since", args.since, now)
        until = period_time("--until", args.until, now)
    except LiftSourceError as exc:
        print(f"report lift: {exc}", file=sys.stderr)
        return 1
    ids = {d.get("trigger") for d in data.decisions} | set(data.targets)
    if args.trigger and args.trigger not in ids:
        known = ", ".join(sorted(i for i in ids if i)) or "none"
        print(
            f"report lift: no trigger or campaign {args.trigger!r} (known: {known})",
            file=sys.stderr,
        )
        return 1
    report = lift_report(data, since=since, until=until, only=args.trigger)
    if args.html:
        out = Path(args.html)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(report))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_table(report))
        if args.html:
            print(f"\nchart page -> {args.html}")
    return 0


def _score_fit(args: argparse.Namespace) -> int:
    from nudge.scoring.fit_cli import fit_command

    return fit_command(args.summary, args.out)


def _use_deployment(args: argparse.Namespace) -> None:
    """Point the handlers' code at a deployment: ``--config``, ``--table`` and
    ``--scheduler-group`` (where the command has them) become its environment."""
    import os

    from nudge.env import reset_env

    for attr, name in (
        ("config", "NUDGE_CONFIG_DIR"),
        ("table", "NUDGE_TABLE"),
        ("scheduler_group", "NUDGE_SCHEDULER_GROUP"),
    ):
        value = getattr(args, attr, None)
        if value:
            os.environ[name] = value
    reset_env()


def _deployment_options(p: argparse.ArgumentParser) -> None:
    """``--table`` and ``--scheduler-group``: the deployment a command acts on."""
    p.add_argument("--table", help="DynamoDB table of a deployment (default $NUDGE_TABLE)")
    p.add_argument(
        "--scheduler-group",
        dest="scheduler_group",
        help="its schedule group (default $NUDGE_SCHEDULER_GROUP)",
    )


def _privacy(args: argparse.Namespace) -> int:
    _use_deployment(args)
    from nudge.flows.privacy import erase_customer, export_customer

    if args.privacy_command == "export":
        result = export_customer(args.customer_id)
    else:
        result = erase_customer(args.customer_id)
    if result is None:
        print(f"nothing held about {args.customer_id} (unknown or erased)", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


def _broadcast(args: argparse.Namespace) -> int:
    _use_deployment(args)
    from nudge.flows.broadcast import NotABroadcast, cancel, send_proof

    try:
        if args.broadcast_command == "test":
            sent = send_proof(args.campaign_id)
            for proof in sent:
                print(
                    f"proof of variant {proof['variant']} sent to {proof['to']} ({proof['channel']})"
                )
            if not sent:
                print(f"{args.campaign_id} has no test_to addresses", file=sys.stderr)
                return 1
        else:
            print(json.dumps(cancel(args.campaign_id), indent=2))
    except NotABroadcast as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def _sources(args: argparse.Namespace) -> int:
    import os

    from nudge.env import reset_env

    if args.table:
        os.environ["NUDGE_TABLE"] = args.table
    if not os.environ.get("NUDGE_TABLE"):
        print("sources: give --table or set NUDGE_TABLE", file=sys.stderr)
        return 2
    reset_env()
    from nudge.aws.store import SOURCE_OUTCOMES, source_counts

    rows = source_counts()
    if not rows:
        print(f"no partner events counted yet in {os.environ['NUDGE_TABLE']}")
        return 0
    head = ("source", "topic", *SOURCE_OUTCOMES, "last counted", "last reason skipped")
    table = [head]
    for r in rows:
        counts = (str(r[o]) for o in SOURCE_OUTCOMES)
        table.append(
            (r["partner"], r["topic"], *counts, r["last_at"] or "-", r["last_reason"] or "")
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head) - 1)]
    numeric = range(2, 2 + len(SOURCE_OUTCOMES))
    for row in table:
        cells = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join([*cells, row[-1]]).rstrip())
    unmapped = sum(r["unmapped"] for r in rows)
    if unmapped:
        print(
            f"\n{unmapped} event(s) of topics nudge does not map: unsubscribe those topics, "
            "or see docs/sources.md for the ones it does"
        )
    return 0


def _dlq_queues(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """The DLQ URLs to act on (``--queue``, or a stack's outputs) and the ingest queue."""
    from nudge.aws.dlq import stack_queues

    queues: list[str] = list(args.queue or [])
    source = getattr(args, "to", None)
    if args.stack:
        found = stack_queues(args.stack)
        queues += [url for key, url in sorted(found.items()) if key.endswith("DLQUrl")]
        source = source or found.get("IngestQueueUrl")
    return queues, source


def _dlq(args: argparse.Namespace) -> int:
    from nudge.aws.dlq import parked, redrive

    queues, source = _dlq_queues(args)
    if not queues:
        print(
            "name the queues: --stack STACK (its *DLQUrl outputs) or --queue URL", file=sys.stderr
        )
        return 2
    total = 0
    listing: list[dict[str, Any]] = []
    for url in queues:
        items = parked(url, args.max)
        total += len(items)
        if args.dlq_command == "list":
            if args.json:
                listing += [item.as_dict() for item in items]
                continue
            print(f"{url.rsplit('/', 1)[-1]}: {len(items)} parked")
            for item in items:
                print(f"  {item.message_id}  {item.reason}")
            continue
        for item in items:
            print(f"  {item.message_id}  {redrive(item, source)}  ({item.reason})")
    if args.dlq_command == "list" and args.json:
        print(json.dumps(listing, indent=2))
    elif args.dlq_command == "redrive":
        print(f"{total} message(s) handled")
    return 0


def _test(args: argparse.Namespace) -> int:
    from nudge.sim.scenario import (
        ScenarioError,
        find_scenarios,
        junit_xml,
        load_scenarios,
        render_failure,
        run_scenario,
        write_actual,
    )

    config = Path(args.config) if args.config else None
    paths = args.paths or ["config/tests"]
    try:
        files = find_scenarios(paths)
    except ScenarioError as exc:
        print(f"test: {exc}", file=sys.stderr)
        return 2
    if not files:
        print(f"test: no scenario files in {' '.join(paths)}", file=sys.stderr)
        return 2
    results = []
    broken = 0
    for path in files:
        try:
            scenarios = load_scenarios(path, config)
        except ScenarioError as exc:
            print(f"ERROR {exc}")
            broken += 1
            continue
        played = []
        for scenario in scenarios:
            result = run_scenario(scenario, args.backend)
            played.append(result)
            if result.ok:
                print(f"ok    {path}: {scenario.name}  ({result.seconds:.2f}s)")
            else:
                print(render_failure(result))
        results += played
        ran = [r for r in played if r.error is None]
        if args.update and ran:
            print(f"      actual timelines -> {write_actual(ran)}")
    if args.junit:
        Path(args.junit).parent.mkdir(parents=True, exist_ok=True)
        Path(args.junit).write_text(junit_xml(results), encoding="utf-8")
    failed = sum(not r.ok for r in results)
    unreadable = f", {broken} file(s) unreadable" if broken else ""
    print(f"{len(results)} scenario(s), {failed} failed{unreadable}")
    failed += broken
    return 1 if failed else 0


def _preview(args: argparse.Namespace) -> int:
    from nudge.preview import (
        PreviewError,
        profile_from_file,
        profile_from_table,
        render_preview,
        render_report,
    )

    try:
        profile = None
        if args.profile:
            profile = profile_from_file(Path(args.profile))
        elif args.customer:
            import os

            table = args.table or os.environ.get("NUDGE_TABLE")
            if not table:
                print("preview: --customer needs --table (or NUDGE_TABLE)", file=sys.stderr)
                return 2
            profile = profile_from_table(table, args.customer)
        event = json.loads(Path(args.event).read_text(encoding="utf-8")) if args.event else None
        preview = render_preview(args.config, args.name, profile, event)
    except (PreviewError, OSError, ValueError) as exc:
        print(f"preview: {exc}", file=sys.stderr)
        return 1
    html_path = None
    if preview.html is not None:
        html_path = Path(args.out or f"out/preview-{args.name}.html")
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(preview.html, encoding="utf-8")
    if args.json:
        print(json.dumps({**preview.as_dict(), "html_file": str(html_path or "")}, indent=2))
    else:
        print(render_report(preview, html_path))
    if args.open and html_path is not None:
        import webbrowser

        webbrowser.open(html_path.resolve().as_uri())
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from nudge.config import ConfigInvalid
    from nudge.sim import SimulationError
    from nudge.sim.backtest import (
        backtest,
        events_from_archive,
        events_from_table,
        render_backtest,
        since_filter,
    )
    from nudge.sim.runner import read_events

    try:
        if args.events:
            events = since_filter(read_events(args.events), args.since)
        elif args.archive:
            events = events_from_archive(args.archive, args.since)
        else:
            import os

            from nudge.core.clock import now
            from nudge.env import reset_env

            os.environ["NUDGE_TABLE"] = args.table
            reset_env()
            events = events_from_table(args.since, now())
            kinds = sorted({str(e["detail-type"]) for e in events} - {"customer_updated"})
            print(
                "backtest: the table keeps only the history the deployed config reads "
                f"(docs/storage.md); replaying {', '.join(kinds) or 'nothing'}. For every "
                "event, replay an archive (--archive).",
                file=sys.stderr,
            )
        if not events:
            print("backtest: no events to replay", file=sys.stderr)
            return 1
        report = backtest(args.base, args.change, events, args.backend)
    except ConfigInvalid as exc:
        for error in exc.errors:
            print(error, file=sys.stderr)
        print("backtest: a config has errors; nothing was run", file=sys.stderr)
        return 1
    except (SimulationError, ValueError) as exc:
        print(f"backtest: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(render_backtest(report), end="")
    return 0


def _invoke(args: argparse.Namespace) -> int:
    from nudge.sim.invoke import InvokeError, invoke, render_invocation
    from nudge.sim.runner import parse_start

    try:
        at = parse_start(args.at) if args.at else None
        given = [Path(g) for g in args.given or ()]
        events = [Path(e) for e in args.event]
        done = invoke(args.function, events, Path(args.config), at=at, given=given)
    except (InvokeError, ValueError) as exc:
        print(f"invoke: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([d.as_dict() for d in done], indent=2, default=str))
    else:
        print("\n".join(render_invocation(d) for d in done))
    return 1 if any(d.error for d in done) else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(prog="nudge", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "validate", help="check the config; problems name file:line:column, the key and a hint"
    )
    p.add_argument("config_dir", nargs="?", default="config")
    p.add_argument(
        "--strict", action="store_true", help="fail on warnings too (CI: make lint uses it)"
    )
    p.add_argument(
        "--table",
        metavar="TABLE",
        help="also count the customers of a deployment's table that an edited journey affects",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="if valid, write the compiled-config artefact the functions start from faster",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        type=_moment,
        help="judge active windows and broadcast times as of TIME (ISO 8601) instead of now: "
        "a config for a coming season, or the sample config's 2027 day",
    )
    p.set_defaults(func=_validate)
    p = sub.add_parser(
        "schema",
        help="JSON Schemas of the config files for editors (docs/config.md, Editor support)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="write one <kind>.schema.json per file kind into DIR"
    )
    p.add_argument(
        "--config",
        metavar="DIR",
        default="config",
        help="take custom events from this config's settings.yaml (default: config)",
    )
    p.set_defaults(func=_schema)
    p = sub.add_parser(
        "simulate", help="run the real handlers on a simulated AWS with a simulated clock"
    )
    p.add_argument("--config", required=True)
    p.add_argument("--events", required=True)
    start_help = "start the clock here (default: the first event's time; no event may be earlier)"
    p.add_argument("--start", metavar="TIME", help=start_help)
    until_help = "stop at this time, or this long after the last event (2d, 36h; default 7d)"
    p.add_argument("--until", metavar="TIME|DURATION", help=until_help)
    p.add_argument("--out", required=True)
    p.add_argument("--report", action="store_true", help="print who got what, when and why not")
    p.add_argument("--no-daily", action="store_true", help="skip the daily 03:00 recompute")
    p.add_argument(
        "--allow-failed",
        action="store_true",
        help="exit 0 even when a message failed (template_error, provider_error); default exit 2",
    )
    p.add_argument(
        "--backend",
        choices=("memory", "moto"),
        default="memory",
        help="where the simulated AWS lives: nudge's in-memory AWS (default, fast) or moto",
    )
    p.set_defaults(func=_simulate)
    p = sub.add_parser("explain", help="why a customer did or did not get each message")
    p.add_argument("customer_id")
    p.add_argument("--trigger", metavar="ID", help="only this trigger or campaign (must exist)")
    since_help = "only decisions since this time (2027-02-10T00:00:00Z) or this long ago (7d, 12h)"
    p.add_argument("--since", metavar="TIME|DURATION", help=since_help)
    p.add_argument("--from-file", dest="from_file", help="a `nudge simulate` output file")
    p.add_argument("--table", help="DynamoDB table of a deployment (default $NUDGE_TABLE)")
    config_help = "with --table: the config whose trigger ids --trigger may name (default ./config)"
    p.add_argument("--config", metavar="DIR", help=config_help)
    p.set_defaults(func=_explain)
    p = sub.add_parser(
        "sources", help="partner events received per source and topic: mapped, skipped, unmapped"
    )
    p.add_argument("--table", help="DynamoDB table of a deployment (default $NUDGE_TABLE)")
    p.set_defaults(func=_sources)
    p = sub.add_parser("report", help="reports over what nudge decided")
    report = p.add_subparsers(dest="report_command", required=True)
    p = report.add_parser(
        "lift",
        help="what each trigger and campaign added: treated vs control with 95%% intervals, "
        "sample-ratio check, power, funnel (docs/lift.md)",
    )
    p.add_argument("--from-file", dest="from_file", help="a `nudge simulate` output file")
    p.add_argument("--table", help="DynamoDB table of a deployment (default $NUDGE_TABLE)")
    p.add_argument(
        "--config",
        metavar="DIR",
        help="the config whose control-group shares the sample-ratio check uses (with --table; "
        "default ./config)",
    )
    p.add_argument("--trigger", metavar="ID", help="only this trigger or campaign")
    p.add_argument(
        "--since", metavar="TIME|DURATION", help=since_help.replace("decisions", "messages")
    )
    p.add_argument(
        "--until", metavar="TIME|DURATION", help="only messages before this time (or this long ago)"
    )
    p.add_argument("--json", action="store_true", help="the report as JSON (docs/lift.md#json)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained page with charts")
    p.set_defaults(func=_report_lift)
    p = sub.add_parser("score", help="predictive scores")
    score = p.add_subparsers(dest="score_command", required=True)
    p = score.add_parser("fit", help="fit BG/NBD and Gamma-Gamma on a summary CSV")
    p.add_argument("--summary", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=_score_fit)
    p = sub.add_parser("privacy", help="export or erase everything held about a customer")
    privacy = p.add_subparsers(dest="privacy_command", required=True)
    for name, text in (
        ("export", "print everything held about the customer as JSON"),
        ("erase", "delete it all, cancel its schedules, keep a tombstone"),
    ):
        p = privacy.add_parser(name, help=text)
        p.add_argument("customer_id")
        _deployment_options(p)
        p.set_defaults(func=_privacy)
    p = sub.add_parser("broadcast", help="send a broadcast's proof to its test_to; cancel one")
    broadcast = p.add_subparsers(dest="broadcast_command", required=True)
    for name, text in (
        ("test", "send every variant, as a customer named Test sees it, to test_to"),
        ("cancel", "stop a broadcast: no run if not started, no more messages if it has"),
    ):
        p = broadcast.add_parser(name, help=text)
        p.add_argument("campaign_id")
        p.add_argument("--config", help="config directory (default $NUDGE_CONFIG_DIR)")
        _deployment_options(p)
        p.set_defaults(func=_broadcast)
    p = sub.add_parser("dlq", help="what is parked in the dead-letter queues, and why; redrive")
    dlq = p.add_subparsers(dest="dlq_command", required=True)
    for name, text in (
        ("list", "every parked message with its reason"),
        (
            "redrive",
            "send each parked message back (events to the ingest queue, failed "
            "invocations to their function) and delete it",
        ),
    ):
        p = dlq.add_parser(name, help=text)
        p.add_argument("--stack", help="a deployed stack: its *DLQUrl outputs")
        p.add_argument("--queue", action="append", metavar="URL", help="a DLQ (repeatable)")
        p.add_argument("--max", type=int, default=1000, help="at most this many per queue")
        if name == "list":
            p.add_argument("--json", action="store_true", help="as JSON, with the bodies")
        else:
            p.add_argument(
                "--to",
                metavar="URL",
                help="where events go back (default: the stack's IngestQueueUrl)",
            )
        p.set_defaults(func=_dlq)
    p = sub.add_parser(
        "test", help="run scenario files (config/tests/*.yaml): who gets what, when, and why not"
    )
    p.add_argument(
        "paths", nargs="*", metavar="PATH", help="scenario files or folders (default config/tests)"
    )
    p.add_argument(
        "--config", metavar="DIR", help="the config to test (default: the folder above tests/)"
    )
    p.add_argument(
        "--update",
        action="store_true",
        help="also write what happened to <file>.actual.yaml beside each file, for review",
    )
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML for CI")
    p.add_argument(
        "--backend",
        choices=("memory", "moto"),
        default="memory",
        help="where the simulated AWS lives (default memory; moto for fidelity)",
    )
    p.set_defaults(func=_test)
    p = sub.add_parser(
        "preview",
        help="render a template, trigger or campaign for a profile; size, alt text, links, SMS",
    )
    p.add_argument("name", metavar="TEMPLATE|TRIGGER", help="a template, trigger or campaign")
    p.add_argument("--config", metavar="DIR", default="config", help="default: config")
    p.add_argument("--customer", metavar="ID", help="a real customer's profile (with --table)")
    p.add_argument("--table", help="DynamoDB table of a deployment (default $NUDGE_TABLE)")
    p.add_argument(
        "--profile", metavar="FILE", help="a profile or traits as JSON (default: a sample)"
    )
    p.add_argument(
        "--event",
        metavar="FILE",
        help="the event that fired it (default: events/<the trigger's event>.json)",
    )
    p.add_argument(
        "--out", metavar="FILE", help="where the HTML goes (default out/preview-NAME.html)"
    )
    p.add_argument("--open", action="store_true", help="open the HTML in a browser")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=_preview)
    p = sub.add_parser(
        "backtest",
        help="replay the same events through two configs: messages added/removed, who, caps, "
        "sends to customers who ordered anyway",
    )
    p.add_argument("--base", required=True, metavar="CONFIG_A", help="the config as it is")
    p.add_argument("--change", required=True, metavar="CONFIG_B", help="the config as changed")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--events", metavar="FILE", help="past events, one envelope a line")
    source.add_argument(
        "--table", metavar="T", help="a deployment's table: its customers' recent event history"
    )
    source.add_argument(
        "--archive",
        metavar="NAME",
        help="an EventBridge archive of the nudge bus, replayed to a temporary queue",
    )
    p.add_argument(
        "--since",
        metavar="DURATION",
        help="only the last 30d, 12h, ... (before the last event; with --table or --archive, "
        "before now)",
    )
    p.add_argument("--json", action="store_true", help="the comparison as JSON, for CI")
    p.add_argument(
        "--backend",
        choices=("memory", "moto"),
        default="memory",
        help="where the simulated AWS lives (default memory)",
    )
    p.set_defaults(func=_backtest)
    p = sub.add_parser(
        "invoke",
        help="run a function's handler in-process on moto with the template's environment "
        "(sam local invoke without Docker); prints its answer and what changed in the table",
    )
    p.add_argument("function", help="its folder under functions/ (ingest) or logical id")
    p.add_argument(
        "-e",
        "--event",
        action="append",
        required=True,
        metavar="FILE",
        help="the event (repeat: invoked in turn on the same deployment)",
    )
    p.add_argument("--config", metavar="DIR", default="config", help="default: config")
    p.add_argument(
        "--at", metavar="TIME", help="the clock (default: the event's own time, else now)"
    )
    p.add_argument(
        "--given",
        action="append",
        metavar="FILE",
        help="a storefront event played first through bus, ingest and dispatch (repeatable): "
        "the customer the invoke is about",
    )
    p.add_argument("--json", action="store_true", help="as JSON")
    p.set_defaults(func=_invoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nudge`` console script."""
    args: Any = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
