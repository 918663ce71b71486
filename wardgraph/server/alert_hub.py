"""The process's alert hub: one LISTEN connection, and one re-read per group of subscribers.

Every process (each `serve` worker included) runs its own hub: each hears every notice, so a
subscriber on any process receives every alert it may see, once.

A notice (ids only: NOTIFY payloads reach listeners with no tenant set) is read once per group
of subscribers whose claims agree on everything the policies read (server/alert_groups.py), in
one short transaction under that group's claims; the same transaction appends one PHI
disclosure event per person it is about to reach; then the row goes to every member whose ward
filter it passes and whose token still holds. Token expiry is checked in memory; a partner
token's revocation arrives by NOTIFY on its own channel.

Nothing is lost across a listener reconnect. While connected, the hub takes a snapshot of the
database every few seconds on the listening connection. After a reconnect, before any new
notice, each group reads the escalations whose inserting transaction the older of the last two
snapshots did not see and one snapshot taken after LISTEN is back did (the same cut for every
group: what commits after it is notified), skipping those delivered since; the same step
re-checks every partner token held by a subscriber, for revocations sent while the hub was
not listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from wardgraph import errors
from wardgraph.auth.claims import Claims
from wardgraph.db import alerts as db
from wardgraph.db.auth import fetch_partner_token_claims
from wardgraph.db.errors import UNAVAILABLE
from wardgraph.db.session import SET_CONFIG, Session, claimed_transaction
from wardgraph.server.alert_groups import GroupKey, group_key
from wardgraph.server.metrics import Metrics

log = logging.getLogger("wardgraph.subscriptions")

CHANNEL = "wardgraph_escalations"
REVOCATIONS = "wardgraph_revocations"
CLOSE_TOKEN_INVALID = 4401  # the token expired or was revoked: authenticate again
CLOSE_TOO_SLOW = 4008  # the client fell a full queue behind: reconnect and resume
CLOSE_UNAVAILABLE = 1013  # the database is unavailable: try again later
# The listener takes a snapshot this often: what a reconnect replays from. It is also the
# ping that finds a dead peer that sent no FIN.
SNAPSHOT_SECONDS = 2.0
# How an operator (or a test) finds the listeners in pg_stat_activity.
LISTENER_NAME = "wardgraph-alert-listener"
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Notice:
    tenant_id: UUID
    escalation_id: UUID


@dataclass(frozen=True)
class Revocation:
    tenant_id: UUID
    partner_token_id: UUID


@dataclass(eq=False)
class Replay:
    """Deliver what committed while the listener was away, before any notice queued after
    this. It is queued before LISTEN (so ahead of every notice LISTEN brings) but reads only
    once LISTEN is in place (`listening`), or a row committed between its read and LISTEN
    would be lost. The snapshot it starts from is read when it runs: snapshots queued ahead
    of it move the start, and what was delivered since with it."""

    listening: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Snapshot:
    """A snapshot the listener took. It travels through the work queue so that the notices
    heard before it are counted as delivered before it."""

    snapshot: str


def parse_notice(payload: str) -> Notice | None:
    try:
        body = json.loads(payload)
        return Notice(UUID(body["tenantId"]), UUID(body["escalationId"]))
    except (ValueError, KeyError, TypeError):
        return None


def parse_revocation(payload: str) -> Revocation | None:
    try:
        body = json.loads(payload)
        return Revocation(UUID(body["tenantId"]), UUID(body["partnerTokenId"]))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(eq=False)
class Subscriber:
    """One subscription: its claims, its ward filter, and the rows waiting to be sent (None
    wakes it to notice that it must close)."""

    claims: Claims
    ward_id: UUID | None
    request_id: str
    size: int
    token_hash: bytes | None = None  # a partner token's, for the re-check after a reconnect
    queue: asyncio.Queue[asyncpg.Record | None] = field(init=False)
    overflowed: bool = False
    revoked: bool = False
    failed: bool = False

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=max(1, self.size))

    def expired(self, now: datetime) -> bool:
        return self.claims.expires_at is not None and self.claims.expires_at <= now

    def wants(self, row: asyncpg.Record, now: datetime) -> bool:
        if self.revoked or self.expired(now):
            return False
        return self.ward_id is None or row["ward_id"] == self.ward_id

    def offer(self, row: asyncpg.Record) -> None:
        try:
            self.queue.put_nowait(row)
        except asyncio.QueueFull:
            self.overflowed = True

    def wake(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    async def next(self, wait_seconds: float) -> asyncpg.Record | None:
        """The next row, or None when woken or when `wait_seconds` pass without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), wait_seconds)
        except TimeoutError:
            return None


@dataclass(eq=False)
class Group:
    key: GroupKey
    members: set[Subscriber] = field(default_factory=set)

    @property
    def claims(self) -> Claims:
        """Any member's claims: they agree on everything the policies read."""
        return next(iter(self.members)).claims


class Delivered:
    """The escalations delivered lately: the ones a replay must skip.

    A replay starts at the older of the listener's last two snapshots (a notice for a row
    that committed just before the newer one may still have been in flight). Postgres sends
    a listener the notices that came in while a query ran just before that query's end, so
    a notice of a row the snapshot did not see can be heard just ahead of the snapshot: the
    deliveries kept reach one snapshot further back than the replay starts.
    """

    def __init__(self) -> None:
        self.snapshots: list[str] = []
        self.generations: list[set[UUID]] = [set()]

    def __contains__(self, escalation_id: UUID) -> bool:
        return any(escalation_id in generation for generation in self.generations)

    def add(self, escalation_id: UUID) -> None:
        self.generations[-1].add(escalation_id)

    def took(self, snapshot: str) -> None:
        self.snapshots = [*self.snapshots[-1:], snapshot]
        self.generations = [*self.generations[-2:], set()]

    @property
    def replay_from(self) -> str | None:
        return self.snapshots[0] if self.snapshots else None


class WorkQueue:
    """What the hub's one dispatcher does, in the order it was heard."""

    def __init__(self) -> None:
        self._items: deque[Notice | Replay | Snapshot] = deque()
        self._ready = asyncio.Event()

    def put(self, item: Notice | Replay | Snapshot) -> None:
        self._items.append(item)
        self._ready.set()

    async def next(self) -> Notice | Replay | Snapshot:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def leading_notices(self) -> list[Notice]:
        """The notices at the head of the queue, up to the first item that is not one."""
        taken: list[Notice] = []
        while self._items and isinstance(self._items[0], Notice):
            taken.append(self._items.popleft())  # type: ignore[arg-type]
        return taken


class AlertHub:
    """The process's one LISTEN connection (as the API's login role: LISTEN needs no
    privilege), reconnected when it drops, and the groups of subscribers it reads for."""

    def __init__(self, database_url: str, connect_timeout: float, metrics: Metrics,
                 pool: asyncpg.Pool | None = None, statement_timeout_ms: int = 5000,
                 claims_mode: str = SET_CONFIG) -> None:
        self.database_url = database_url
        self.claims_mode = claims_mode
        self.connect_timeout = connect_timeout
        self.metrics = metrics
        self.pool = pool
        self.statement_timeout_ms = statement_timeout_ms
        self.groups: dict[UUID, dict[GroupKey, Group]] = {}
        self.listening = asyncio.Event()
        self.delivered = Delivered()
        self.work = WorkQueue()
        self._tasks: list[asyncio.Task[None]] = []

    async def ready(self) -> None:
        """Listening, or SERVICE_UNAVAILABLE after the connect timeout."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._listen_forever()),
                           asyncio.create_task(self._dispatch_forever())]
        try:
            await asyncio.wait_for(self.listening.wait(), self.connect_timeout)
        except TimeoutError as error:
            raise errors.unavailable() from error

    def subscribe(self, subscriber: Subscriber) -> None:
        key = group_key(subscriber.claims)
        groups = self.groups.setdefault(key.tenant_id, {})
        groups.setdefault(key, Group(key)).members.add(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        key = group_key(subscriber.claims)
        groups = self.groups.get(key.tenant_id, {})
        group = groups.get(key)
        if group is None:
            return
        group.members.discard(subscriber)
        if not group.members:
            del groups[key]
            if not groups:
                del self.groups[key.tenant_id]

    def subscribers(self) -> Iterable[Subscriber]:
        for groups in self.groups.values():
            for group in groups.values():
                yield from group.members

    # -- hearing ------------------------------------------------------------------------------

    def _on_escalation(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        notice = parse_notice(payload)
        if notice is None:
            log.warning("ignored a malformed notice on %s", CHANNEL)
            return
        self.work.put(notice)

    def _on_revocation(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        revocation = parse_revocation(payload)
        if revocation is not None:
            self.revoke(revocation)

    def revoke(self, revocation: Revocation) -> None:
        for group in self.groups.get(revocation.tenant_id, {}).values():
            for subscriber in group.members:
                if subscriber.claims.partner_token_id == revocation.partner_token_id:
                    subscriber.revoked = True
                    subscriber.wake()

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self._listen_once()
                attempt = 0
            except (asyncpg.PostgresError, *UNAVAILABLE) as error:
                log.warning("alert listener disconnected: %s", error.__class__.__name__)
            except Exception:
                # Whatever happened, a listener that stops for good would leave every
                # subscriber waiting in silence: log it and connect again.
                log.exception("alert listener failed")
            finally:
                self.listening.clear()
                self.metrics.alert_listener_up.set(0)
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(
            self.database_url, timeout=self.connect_timeout,
            server_settings={"application_name": LISTENER_NAME})
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            replay = Replay()
            self.work.put(replay)
            try:
                await connection.add_listener(REVOCATIONS, self._on_revocation)
                await connection.add_listener(CHANNEL, self._on_escalation)
            finally:
                replay.listening.set()
            self.listening.set()
            self.metrics.alert_listener_up.set(1)
            while not connection.is_closed():
                snapshot = await db.current_snapshot(connection)
                self.work.put(Snapshot(snapshot))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), SNAPSHOT_SECONDS)
                if lost.is_set():
                    return
        finally:
            if not connection.is_closed():
                connection.terminate()

    # -- delivering ---------------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while True:
            item = await self.work.next()
            try:
                if isinstance(item, Snapshot):
                    self.delivered.took(item.snapshot)
                elif isinstance(item, Replay):
                    await item.listening.wait()
                    if self.delivered.replay_from is not None:
                        await self._replay(self.delivered.replay_from)
                else:
                    # Notices that arrived while the last read ran are read together: under a
                    # burst, one statement per group reads them all.
                    notices = [item]
                    notices += self.work.leading_notices()
                    await self.deliver(notices)
            except Exception:
                # A read that failed leaves its groups' members closed (they reconnect and
                # resume); the hub itself must go on to the next notice.
                log.exception("alert delivery failed")

    async def deliver(self, notices: list[Notice]) -> None:
        by_tenant: dict[UUID, list[UUID]] = {}
        for notice in notices:
            if notice.escalation_id not in self.delivered:
                self.delivered.add(notice.escalation_id)
                by_tenant.setdefault(notice.tenant_id, []).append(notice.escalation_id)
        reads = [self._read_for_group(group, escalation_ids)
                 for tenant_id, escalation_ids in by_tenant.items()
                 for group in list(self.groups.get(tenant_id, {}).values())]
        await asyncio.gather(*reads)

    async def _read_for_group(self, group: Group, escalation_ids: list[UUID]) -> None:
        if not group.members:
            return
        try:
            self.metrics.alert_group_reads.inc()
            async with self._transaction(group.claims, "alert-delivery") as session:
                rows = await db.fetch_alerts(session, group.key.tenant_id, escalation_ids)
                recipients = await self._disclose(session, group, rows)
        except (asyncpg.PostgresError, *UNAVAILABLE):
            log.warning("alert read failed; closing its subscribers", exc_info=True)
            self._fail(group.members)
            return
        for subscriber, delivered in recipients:
            for row in delivered:
                subscriber.offer(row)

    async def _replay(self, snapshot: str) -> None:
        assert self.pool is not None
        async with self.pool.acquire(timeout=self.connect_timeout) as connection:
            until = await db.current_snapshot(connection)
        replayed: set[UUID] = set()
        for groups in list(self.groups.values()):
            for group in list(groups.values()):
                if not group.members:
                    continue
                try:
                    async with self._transaction(group.claims, "alert-replay") as session:
                        rows = [row for row in await db.fetch_alerts_between_snapshots(
                            session, group.key.tenant_id, snapshot, until)
                            if row["id"] not in self.delivered]
                        recipients = await self._disclose(session, group, rows)
                except (asyncpg.PostgresError, *UNAVAILABLE):
                    log.warning("alert replay failed; closing its subscribers", exc_info=True)
                    self._fail(group.members)
                    continue
                for subscriber, delivered in recipients:
                    for row in delivered:
                        subscriber.offer(row)
                replayed.update(row["id"] for row in rows)
        for escalation_id in replayed:
            self.delivered.add(escalation_id)
        try:
            await self._recheck_partner_tokens()
        except (asyncpg.PostgresError, *UNAVAILABLE):
            log.warning("partner tokens not re-checked after the listener reconnected")
        if replayed:
            self.metrics.alerts_replayed.inc(len(replayed))
            log.info("replayed %d alerts after the listener reconnected", len(replayed))

    async def _disclose(self, session: Session, group: Group, rows: list[asyncpg.Record]
                        ) -> list[tuple[Subscriber, list[asyncpg.Record]]]:
        """Who receives which rows; each row's disclosure to each person is audited (one
        event per person, however many of their subscriptions receive it)."""
        now = datetime.now(UTC)
        recipients: list[tuple[Subscriber, list[asyncpg.Record]]] = []
        for subscriber in list(group.members):
            wanted = [row for row in rows if subscriber.wants(row, now)]
            if wanted:
                recipients.append((subscriber, wanted))
        for row in rows:
            people: dict[tuple[UUID | None, UUID | None], str] = {}
            for subscriber, wanted in recipients:
                if any(r is row for r in wanted):
                    claims = subscriber.claims
                    person = (claims.user_id, claims.partner_token_id)
                    people.setdefault(person, subscriber.request_id)
            if people:
                await db.record_alert_disclosures(
                    session, row, [p[0] for p in people], [p[1] for p in people],
                    list(people.values()), now)
        return recipients

    def _transaction(self, claims: Claims, request_id: str) -> Any:
        assert self.pool is not None
        return _pooled_transaction(self.pool, claims, request_id, self.connect_timeout,
                                   self.statement_timeout_ms, self.claims_mode)

    def _fail(self, members: Iterable[Subscriber]) -> None:
        for subscriber in members:
            subscriber.failed = True
            subscriber.wake()

    async def _recheck_partner_tokens(self) -> None:
        """Revocations sent while the hub was not listening were not heard: ask once per token."""
        assert self.pool is not None
        now = datetime.now(UTC)
        checked: dict[bytes, bool] = {}
        for subscriber in list(self.subscribers()):
            token_hash = subscriber.token_hash
            if token_hash is None:
                continue
            if token_hash not in checked:
                row = await fetch_partner_token_claims(self.pool, token_hash, now,
                                                       self.connect_timeout)
                checked[token_hash] = row is not None
            if not checked[token_hash]:
                subscriber.revoked = True
                subscriber.wake()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []


@contextlib.asynccontextmanager
async def _pooled_transaction(pool: asyncpg.Pool, claims: Claims, request_id: str,
                              acquire_seconds: float, statement_timeout_ms: int,
                              claims_mode: str) -> Any:
    async with pool.acquire(timeout=acquire_seconds) as connection, claimed_transaction(
        connection, claims, request_id, statement_timeout_ms, claims_mode
    ) as session:
        yield session
