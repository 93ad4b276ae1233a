"""Stripe Connect: locations that belong to connected accounts, and a gateway that routes by them.

A location created with an `account` is recorded in `connected_locations`. Every Stripe call about
that location, its readers, or a PaymentIntent made for one of its orders then carries
`Stripe-Account`. The account is found from what the call names: a location directly; a
PaymentIntent through its attempt's location; a reader from where it was last seen (asking each
known account in turn the first time). With no connected location recorded, calls go to the
platform account exactly as before, with no extra lookups.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from countertop.backend.settings import Settings
from countertop.backend.store.connect import ConnectedLocationRow
from countertop.backend.store.db import Database
from countertop.backend.store.payments import AttemptRow
from countertop.backend.stripe_gateway import StripeFailure, StripeGateway

Json = dict[str, Any]
REFRESH_SECONDS = 5.0  # another instance may have created a connected location meanwhile
REMEMBERED = 50_000  # owners of readers and PaymentIntents kept in memory; found again if dropped


def remember(known: dict[str, str | None], key: str, account: str | None) -> None:
    """Note who owns `key`, forgetting everything once the memory is full (it is only a cache)."""
    if len(known) >= REMEMBERED:
        known.clear()
    known[key] = account


class ConnectedAccounts:
    """Location -> connected account, read from the database; learnt PaymentIntent and reader owners."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._locations: dict[str, str] = {}
        self._loaded_at = float("-inf")
        self.readers: dict[str, str | None] = {}
        self.intents: dict[str, str | None] = {}

    async def _refresh(self, *, force: bool = False) -> None:
        if not force and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(ConnectedLocationRow.location_id, ConnectedLocationRow.account_id)
                )
            ).all()
        self._locations = {r.location_id: r.account_id for r in rows}
        self._loaded_at = time.monotonic()

    async def accounts(self) -> list[str]:
        """Every connected account with a location here, in a stable order."""
        await self._refresh()
        return sorted(set(self._locations.values()))

    async def for_location(self, location_id: str) -> str | None:
        if location_id not in self._locations:
            await self._refresh()
        return self._locations.get(location_id)

    async def remember_location(self, location_id: str, account: str, now: Any) -> None:
        async with self.db.session() as s, s.begin():
            # merge, not add: recording the same location again (a replayed request) is no error.
            await s.merge(
                ConnectedLocationRow(location_id=location_id, account_id=account, created_at=now)
            )
        await self._refresh(force=True)

    async def for_intent(self, payment_intent: str) -> str | None:
        if payment_intent in self.intents:
            return self.intents[payment_intent]
        if not await self.accounts():
            return None
        async with self.db.session() as s:
            location = (
                await s.execute(
                    select(AttemptRow.location_id).where(
                        AttemptRow.payment_intent_id == payment_intent
                    )
                )
            ).scalar_one_or_none()
        account = await self.for_location(location) if location else None
        if location:
            remember(self.intents, payment_intent, account)
        return account


class ConnectGateway(StripeGateway):
    """The Stripe gateway, with each call sent on behalf of the account that owns its object."""

    def __init__(self, settings: Settings, accounts: ConnectedAccounts) -> None:
        super().__init__(settings)
        self.accounts = accounts

    # ---- finding the account -------------------------------------------------------------------

    async def _all(self) -> list[str | None]:
        return [None, *await self.accounts.accounts()]

    async def _of_reader(self, reader: str) -> str | None:
        if reader in self.accounts.readers:
            return self.accounts.readers[reader]
        accounts = await self._all()
        if len(accounts) == 1:
            return None
        for account in accounts:
            try:
                await super().retrieve_reader(reader, stripe_account=account)
            except StripeFailure as failure:
                if failure.http_status == 404:
                    continue
                raise
            remember(self.accounts.readers, reader, account)
            return account
        return None

    async def _for_reader(self, reader: str, kw: Json) -> Json:
        """The call's keyword arguments, with the reader's account unless one was named."""
        if not kw.get("stripe_account"):
            kw["stripe_account"] = await self._of_reader(reader)
        return kw

    async def _for_intent(self, payment_intent: str, kw: Json) -> Json:
        """The call's keyword arguments, with the PaymentIntent's account unless one was named."""
        if not kw.get("stripe_account"):
            kw["stripe_account"] = await self.accounts.for_intent(payment_intent)
        return kw

    def _learn_readers(self, readers: list[Json], account: str | None) -> list[Json]:
        for reader in readers:
            remember(self.accounts.readers, reader["id"], account)
        return readers

    # ---- PaymentIntents and refunds ------------------------------------------------------------

    async def create_payment_intent(self, **kw: Any) -> Json:
        location = (kw.get("metadata") or {}).get("location")
        if not kw.get("stripe_account") and location:
            kw["stripe_account"] = await self.accounts.for_location(location)
        intent = await super().create_payment_intent(**kw)
        remember(self.accounts.intents, intent["id"], kw.get("stripe_account"))
        return intent

    async def retrieve_payment_intent(
        self, payment_intent: str, *, stripe_account: str | None = None
    ) -> Json:
        account = stripe_account or await self.accounts.for_intent(payment_intent)
        return await super().retrieve_payment_intent(payment_intent, stripe_account=account)

    async def capture_payment_intent(
        self, payment_intent: str, *, idempotency_key: str, stripe_account: str | None = None
    ) -> Json:
        account = stripe_account or await self.accounts.for_intent(payment_intent)
        return await super().capture_payment_intent(
            payment_intent, idempotency_key=idempotency_key, stripe_account=account
        )

    async def cancel_payment_intent(
        self, payment_intent: str, *, idempotency_key: str, stripe_account: str | None = None
    ) -> Json:
        account = stripe_account or await self.accounts.for_intent(payment_intent)
        return await super().cancel_payment_intent(
            payment_intent, idempotency_key=idempotency_key, stripe_account=account
        )

    async def capture_payment_intent_amount(self, payment_intent: str, **kw: Any) -> Json:
        return await super().capture_payment_intent_amount(
            payment_intent, **await self._for_intent(payment_intent, kw)
        )

    async def cancel_payment_intent_with_reason(self, payment_intent: str, **kw: Any) -> Json:
        return await super().cancel_payment_intent_with_reason(
            payment_intent, **await self._for_intent(payment_intent, kw)
        )

    async def create_refund(self, **kw: Any) -> Json:
        return await super().create_refund(**await self._for_intent(kw["payment_intent"], kw))

    async def list_refunds(
        self, *, payment_intent: str, stripe_account: str | None = None
    ) -> list[Json]:
        account = stripe_account or await self.accounts.for_intent(payment_intent)
        return await super().list_refunds(payment_intent=payment_intent, stripe_account=account)

    async def list_payment_intents(
        self, *, created_gte: int, created_lt: int, stripe_account: str | None = None
    ) -> list[Json]:
        """One account's PaymentIntents, or (no account named) those of every account here."""
        accounts = [stripe_account] if stripe_account else await self._all()
        found: list[Json] = []
        for account in accounts:
            page = await super().list_payment_intents(
                created_gte=created_gte, created_lt=created_lt, stripe_account=account
            )
            for intent in page:
                remember(self.accounts.intents, intent["id"], account)
            found.extend(page)
        return found

    # ---- Readers -------------------------------------------------------------------------------

    async def retrieve_reader(self, reader: str, *, stripe_account: str | None = None) -> Json:
        account = stripe_account or await self._of_reader(reader)
        return await super().retrieve_reader(reader, stripe_account=account)

    async def list_readers(
        self, *, location: str | None = None, stripe_account: str | None = None
    ) -> list[Json]:
        if stripe_account or location:
            account = stripe_account or await self.accounts.for_location(location or "")
            found = await super().list_readers(location=location, stripe_account=account)
            return self._learn_readers(found, account)
        readers: list[Json] = []
        for account in await self._all():
            found = await super().list_readers(stripe_account=account)
            readers.extend(self._learn_readers(found, account))
        return readers

    async def create_reader(self, **kw: Any) -> Json:
        if not kw.get("stripe_account"):
            kw["stripe_account"] = await self.accounts.for_location(kw["location"])
        reader = await super().create_reader(**kw)
        return self._learn_readers([reader], kw["stripe_account"])[0]

    async def update_reader(
        self, reader: str, *, label: str, stripe_account: str | None = None
    ) -> Json:
        account = stripe_account or await self._of_reader(reader)
        return await super().update_reader(reader, label=label, stripe_account=account)

    async def delete_reader(self, reader: str, *, stripe_account: str | None = None) -> Json:
        account = stripe_account or await self._of_reader(reader)
        return await super().delete_reader(reader, stripe_account=account)

    async def set_reader_display(self, reader: str, **kw: Any) -> Json:
        return await super().set_reader_display(reader, **await self._for_reader(reader, kw))

    async def process_payment_intent(self, reader: str, **kw: Any) -> Json:
        return await super().process_payment_intent(reader, **await self._for_reader(reader, kw))

    async def refund_payment(self, reader: str, **kw: Any) -> Json:
        return await super().refund_payment(reader, **await self._for_reader(reader, kw))

    async def cancel_action(self, reader: str, **kw: Any) -> Json:
        return await super().cancel_action(reader, **await self._for_reader(reader, kw))

    async def present_payment_method(self, reader: str, **kw: Any) -> Json:
        return await super().present_payment_method(reader, **await self._for_reader(reader, kw))

    # ---- Locations and connection tokens -------------------------------------------------------

    async def list_locations(self, *, stripe_account: str | None = None) -> list[Json]:
        if stripe_account:
            return await super().list_locations(stripe_account=stripe_account)
        found: list[Json] = []
        for account in await self._all():
            found.extend(await super().list_locations(stripe_account=account))
        return found

    async def retrieve_location(self, location: str, *, stripe_account: str | None = None) -> Json:
        account = stripe_account or await self.accounts.for_location(location)
        return await super().retrieve_location(location, stripe_account=account)

    async def update_location(
        self, location: str, *, changes: Json, stripe_account: str | None = None
    ) -> Json:
        account = stripe_account or await self.accounts.for_location(location)
        return await super().update_location(location, changes=changes, stripe_account=account)

    async def create_connection_token(
        self, *, location: str, stripe_account: str | None = None
    ) -> Json:
        account = stripe_account or await self.accounts.for_location(location)
        return await super().create_connection_token(location=location, stripe_account=account)


def location_account(gateway: StripeGateway, location_id: str) -> Any:
    """The connected account a location belongs to (an awaitable; None for the platform's)."""
    if isinstance(gateway, ConnectGateway):
        return gateway.accounts.for_location(location_id)
    return _none()


async def _none() -> None:
    return None
