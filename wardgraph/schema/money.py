"""Money: a decimal string with its currency, never a float."""

from __future__ import annotations

from decimal import Decimal

import strawberry


@strawberry.type(description="An amount of money.")
class Money:
    amount: str = strawberry.field(description="Decimal string with two places, e.g. \"125.00\".")
    currency: str = strawberry.field(description="ISO 4217 code, e.g. \"USD\".")

    @classmethod
    def of(cls, amount: Decimal, currency: str) -> Money:
        return cls(amount=f"{amount.quantize(Decimal('0.01'))}", currency=currency)
