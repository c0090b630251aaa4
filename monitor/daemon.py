"""One cycle, `monitor run --once`, and what the daemon (monitor.scheduler) builds on.

A cycle claims every enabled source (leases in the database, so a daemon or
another `--once` running meanwhile is not doubled), polls them on a thread
pool with each poll's hard deadline, then delivers due alerts. Only
``guarded_poll`` catches broad exceptions: a bug in one source's poll must not
stop the others.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import multiprocessing.process
import os
import queue
import sys
import time
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection

from monitor.config import Config, Source
from monitor.http import HttpClient, HttpSettings
from monitor.notify.attempts import DeliveryPolicy
from monitor.notify.base import Notifier
from monitor.notify.health import alarm_failing_notifiers
from monitor.notify.outbox import DeliveryReport, deliver_all_due
from monitor.pipeline import (
    LeaseLost,
    PollReport,
    QuietPolls,
    Runtime,
    claim_sources,
    describe_error,
    new_owner_id,
    poll_source,
    record_failure,
    release_leases,
    sync_sources,
)
from monitor.rules.analysis import Analyzer
from monitor.rules.engine import RuleSet
from monitor.sources.base import FetchState
from monitor.store.models import utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)


def http_settings(config: Config) -> HttpSettings:
    settings = config.settings
    return HttpSettings(
        user_agent=settings.user_agent,
        timeout_seconds=settings.http_timeout.total_seconds(),
        max_response_bytes=settings.max_response_bytes,
        proxy=settings.proxy,
        max_connections=settings.max_connections,
        per_host_connections=settings.per_host_connections,
        per_host_delay=settings.per_host_delay,
        retries=settings.http_retries,
    )


def build_http_client(config: Config) -> HttpClient:
    return HttpClient(http_settings(config))


def build_runtime(config: Config, db: Database) -> Runtime:
    http = build_http_client(config)
    http.before_parsing = db.stand_aside_for_writer
    return Runtime(
        config=config,
        db=db,
        http=http,
        rules=RuleSet.from_config(config),
        analyzer=Analyzer.from_config(config),
        owner=new_owner_id(),
    )


def guarded_poll(
    runtime: Runtime, source: Source, fetch_state: FetchState | None = None
) -> PollReport:
    """The one place that catches everything: record the failure, back off, go on."""
    started_at = utcnow()
    clock = time.monotonic()
    try:
        report = poll_source(runtime, source, claimed=True, fetch_state=fetch_state)
    except LeaseLost as exc:
        log.warning("%s", exc)
        return PollReport(source.id, "error", kind=source.kind, error=str(exc))
    except Exception as exc:
        log.exception("source %s: poll failed unexpectedly", source.id)
        try:
            report = record_failure(runtime, source, started_at, clock, exc, claimed=True)
        except Exception:
            # The database itself is failing; the lease runs out and the poll is retried.
            log.exception("source %s: could not record the failure", source.id)
            return PollReport(source.id, "error", error=describe_error(exc))
    _log_poll(report)
    return report


def _log_poll(report: PollReport) -> None:
    """One line per poll; in JSON logs its figures are fields of their own."""
    fields = {
        "source": report.source_id,
        "kind": report.kind,
        "status": report.status,
        "http_status": report.http_status,
        "new": report.new,
        "edited": report.edited,
        "deleted": report.deleted,
        "matches": report.matches,
        "alerts": report.alerts,
        "duration_s": round(report.seconds, 3),
    }
    if report.status == "error":
        fields["error"] = report.error
        log.warning(
            "source %s: error: %s (%.2fs)",
            report.source_id,
            report.error,
            report.seconds,
            extra=fields,
        )
    else:
        log.info(
            "source %s: %s http=%s new=%d edited=%d deleted=%d alerts=%d (%.2fs)",
            report.source_id,
            report.status,
            report.http_status,
            report.new,
            report.edited,
            report.deleted,
            report.alerts,
            report.seconds,
            extra=fields,
        )


def _report_of(future: Future[PollReport], source: Source) -> PollReport:
    """The poll's report; guarded_poll catches what a poll raises, so an exception
    here is the executor's own (a thread that could not start)."""
    try:
        return future.result()
    except Exception as exc:
        log.error("source %s: the poll could not run: %s", source.id, exc)
        return PollReport(source.id, "error", kind=source.kind, error=describe_error(exc))


@dataclass
class CycleSummary:
    polls: list[PollReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # leased by another process
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def failed(self) -> bool:
        polls_failed = any(p.status == "error" for p in self.polls)
        return polls_failed or self.delivery.failed > 0 or self.delivery.dead > 0


def poll_with_deadline(
    runtime: Runtime, source: Source, fetch_state: FetchState | None = None
) -> PollReport:
    deadline = runtime.config.settings.poll_timeout.total_seconds()
    with runtime.http.poll_deadline(deadline):
        return guarded_poll(runtime, source, fetch_state)


def poll_sources(
    runtime: Runtime,
    *,
    due_only: bool,
    only: Collection[str] | None = None,
) -> tuple[list[PollReport], list[str]]:
    """Claim and poll sources (``only``: of these ids), one more each time a poll
    ends (as many in flight as there are workers), so a lease is only ever taken by
    a poll that starts at once and a slow source holds up no other."""
    settings = runtime.config.settings
    workers = settings.max_concurrent_polls
    enabled = {
        source.id: source
        for source in runtime.config.enabled_sources()
        if only is None or source.id in only
    }
    remaining = dict(enabled)
    reports: list[PollReport] = []
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll")
    quiet = QuietPolls(runtime.db)
    runtime = replace(runtime, quiet=quiet)

    def poll(source_id: str, fetch_state: FetchState) -> PollReport:
        return poll_with_deadline(runtime, enabled[source_id], fetch_state)

    in_flight: dict[Future[PollReport], str] = {}  # running, or queued in the pool
    # Each poll's future puts itself here when done: this thread waits on one queue
    # (in C) instead of setting up a waiter on every future in flight per poll.
    finished: queue.SimpleQueue[Future[PollReport]] = queue.SimpleQueue()
    # Up to twice as many polls as workers are handed to the pool: the extra ones
    # wait in its queue, so a worker that finishes starts the next poll at once
    # instead of waiting for this thread's next claim (a write transaction, which
    # queues behind the polls' writes). Their leases start up to a poll early: only
    # where a lease outlasts two polls' deadlines.
    queued = 2 * workers if settings.poll_lease >= 2 * settings.poll_timeout else workers
    # Claimed in batches (half the queue or more): each claim is a write transaction.
    refill_at = queued // 2
    with pool:
        while True:
            if remaining and len(in_flight) <= refill_at:
                # The next few in turn (a source held elsewhere is skipped, not waited
                # for): a claim names only what it takes, not every source left.
                batch = list(itertools.islice(remaining, queued - len(in_flight)))
                claimed = claim_sources(
                    runtime.db,
                    runtime.owner,
                    batch,
                    due_only=due_only,
                    lease=settings.poll_lease,
                )
                for source_id in batch:
                    del remaining[source_id]
                for source_id, fetch_state in claimed.items():
                    future = pool.submit(poll, source_id, fetch_state)
                    in_flight[future] = source_id
                    future.add_done_callback(finished.put)
            if not in_flight:
                if remaining:
                    continue  # none of the batch could be claimed: the next one
                break
            future = finished.get()
            source_id = in_flight.pop(future)
            reports.append(_report_of(future, enabled[source_id]))
    quiet.flush()  # what fails to be written is logged: those sources are polled again
    polled = {report.source_id for report in reports}
    skipped = [] if due_only else sorted(set(enabled) - polled)
    return reports, skipped


def run_once(runtime: Runtime, notifiers: Mapping[str, Notifier]) -> CycleSummary:
    """Poll every enabled source now, whatever its schedule, then deliver due alerts."""
    sync_sources(runtime.db, runtime.config)
    processes = poll_process_count(runtime.config)
    if processes > 1:
        polls, skipped = poll_in_processes(runtime, processes)
    else:
        polls, skipped = poll_sources(runtime, due_only=False)
    policy = DeliveryPolicy.from_settings(runtime.config.settings)
    delivery = deliver_all_due(runtime.db, notifiers, runtime.owner, policy=policy)
    alarm_failing_notifiers(runtime.db, runtime.config.settings.notifier_alarm_after, notifiers)
    return CycleSummary(polls=polls, skipped=skipped, delivery=delivery)


# auto never starts more: each process has its own database connections (up to
# max_concurrent_polls in use), and PostgreSQL allows 100 clients by default.
MAX_AUTO_POLL_PROCESSES = 4


def poll_process_count(config: Config) -> int:
    """settings.poll_processes; ``auto``: as many as the CPUs this process may run on
    (one more only adds a contender for the CPU that SQLite's one writer needs: it
    measured slower, in both cycles of bench/poll.py), at most MAX_AUTO_POLL_PROCESSES,
    and only on Linux (a forked child on macOS may crash in system frameworks). Never a
    process that would not have all its poll workers busy (a few sources are polled
    by one process)."""
    setting = config.settings.poll_processes
    if setting != "auto":
        wanted = setting
    elif sys.platform.startswith("linux"):
        wanted = min(len(os.sched_getaffinity(0)), MAX_AUTO_POLL_PROCESSES)
    else:
        return 1
    sources = len(config.enabled_sources())
    per_process = config.settings.max_concurrent_polls
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # the children are forks of this process: its config, rules, lexicons
    return max(1, min(wanted, sources // per_process))


def poll_in_processes(runtime: Runtime, processes: int) -> tuple[list[PollReport], list[str]]:
    """Share the sources among this process and ``processes - 1`` forked children,
    each polling its share with its own threads, connections and lease owner.

    Python runs one thread at a time per process, and a poll's parsing and
    analysis are CPU work: several processes use several CPUs. The shares are
    fixed (every n-th source), so no two processes ever ask for the same source;
    the leases still guard against other processes. A child that dies is
    reported as the failure of each of its sources, and its leases released.
    """
    ids = [source.id for source in runtime.config.enabled_sources()]
    shares = [ids[index::processes] for index in range(processes)]
    context = multiprocessing.get_context("fork")
    children: list[tuple[multiprocessing.process.BaseProcess, Connection, str, list[str]]] = []
    # Forked before this process starts any thread of its own (a fork copies only
    # the thread that forks; a lock held by another thread would stay held), and with
    # no database connection open (a child must not share one, not even its copy).
    runtime.db.dispose()
    runtime.http.prepare()  # its imports and TLS context, loaded once for all
    for share in shares[1:]:
        receiver, sender = context.Pipe(duplex=False)
        owner = new_owner_id()
        child: multiprocessing.process.BaseProcess = context.Process(
            target=_poll_share,
            args=(runtime, owner, share, sender),
            name=f"monitor-poll-{len(children) + 1}",
            daemon=True,
        )
        child.start()
        sender.close()
        children.append((child, receiver, owner, share))
    try:
        polls, skipped = poll_sources(runtime, due_only=False, only=set(shares[0]))
    except BaseException:
        # Interrupted (Ctrl-C): the children stop too, and their sources are freed now.
        for child, _, owner, _ in children:
            child.terminate()
            child.join()
            with contextlib.suppress(Exception):
                release_leases(runtime.db, owner)
        raise
    for child, receiver, owner, share in children:
        try:
            child_polls, child_skipped = receiver.recv()
        except (EOFError, OSError):
            child.join()
            child_polls, child_skipped = _lost_share(runtime, child, owner, share), []
        finally:
            receiver.close()
        child.join()
        polls.extend(child_polls)
        skipped.extend(child_skipped)
    return polls, sorted(skipped)


def _poll_share(runtime: Runtime, owner: str, share: list[str], sender: Connection) -> None:
    """A child's work: its share of the sources, its reports sent back."""
    runtime.db.after_fork()
    child_runtime = replace(runtime, http=runtime.http.for_forked_process(), owner=owner)
    try:
        sender.send(poll_sources(child_runtime, due_only=False, only=set(share)))
    finally:
        child_runtime.http.close()
        child_runtime.db.dispose()
        sender.close()


def _lost_share(
    runtime: Runtime, child: multiprocessing.process.BaseProcess, owner: str, share: list[str]
) -> list[PollReport]:
    """The reports of a child that died: each of its sources failed; its leases go."""
    error = f"the poll process {child.name} died (exit code {child.exitcode})"
    log.error("%s; its %d sources were not polled", error, len(share))
    try:
        release_leases(runtime.db, owner)
    except Exception as exc:  # the database is failing too: the leases run out
        log.error("could not release the leases of %s: %s", child.name, describe_error(exc))
    sources = {source.id: source for source in runtime.config.enabled_sources()}
    return [
        PollReport(source_id, "error", kind=sources[source_id].kind, error=error)
        for source_id in share
    ]
