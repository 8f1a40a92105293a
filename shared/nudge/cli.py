"""The ``nudge`` command line (docs/reference.md#command-line)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _validate(args: argparse.Namespace) -> int:
    from nudge.config.whole import check_config

    problems = sorted(check_config(args.config_dir), key=lambda p: (p.file, p.line, p.column))
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


def _score_fit(args: argparse.Namespace) -> int:
    from nudge.scoring.fit_cli import fit_command

    return fit_command(args.summary, args.out)


def _privacy(args: argparse.Namespace) -> int:
    import os

    from nudge.env import reset_env

    for value, name in (
        (args.table, "NUDGE_TABLE"),
        (args.scheduler_group, "NUDGE_SCHEDULER_GROUP"),
    ):
        if value:
            os.environ[name] = value
    reset_env()
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
        "--compile",
        action="store_true",
        help="if valid, write the compiled-config artefact the functions start from faster",
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
        p.add_argument("--table", help="DynamoDB table of a deployment (default $NUDGE_TABLE)")
        p.add_argument(
            "--scheduler-group",
            dest="scheduler_group",
            help="its schedule group (default $NUDGE_SCHEDULER_GROUP)",
        )
        p.set_defaults(func=_privacy)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nudge`` console script."""
    args: Any = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
