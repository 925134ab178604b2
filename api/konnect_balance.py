"""Konnect ``Balance`` (seed 000): ``GET /api/v1/Accounts/{accountId}/Balance``.

Answers ``{"mode", "account_balance", "name", "status": "ok"}`` exactly as the seed's sample
(``{"mode": "paid", "account_balance": "Rs.4,801", "name": "Abhirup", "status": "ok"}``):
``mode`` is ``trial`` until the account's first top-up and ``paid`` after it, ``account_balance`` what can
still be spent (the balance less what calls in progress hold) with BILLING_CURRENCY's sign, ``name`` the
account's display name. Auth and errors are Konnect's (``api.konnect``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from api import store
from api.auth import konnect_account
from api.endpoints import endpoint
from api.errors import ApiError
from billing import ledger, money

bp = Blueprint("konnect_balance", __name__)

PREFIX = "/api/v1/Accounts"


@endpoint(bp, "GET", "/{account_id}/Balance", dialect="konnect", auth=konnect_account, blueprint_prefix=PREFIX,
          summary="The account's balance",
          responses={"200": {"description": "mode, account_balance, name, status",
                             "content": {"application/json": {"example": {
                                 "mode": "paid", "account_balance": "Rs.4,801", "name": "Abhirup",
                                 "status": "ok"}}}}})
def balance_get(_data: dict[str, Any], account_id: str):
    """Konnect Get User Balance."""
    account = konnect_account(account_id)
    with store.session() as sess:
        bal = ledger.balance(sess, account.id)
    return jsonify({"mode": bal.mode, "account_balance": money.shown(bal.available, store.cfg().billing_currency),
                    "name": account.name, "status": "ok"})


def low_balance() -> ApiError:
    """Seed 000's Low Balance refusal: ``{"status": "error", "error_code": "3003", "error_reason": "Low Balance"}``."""
    return ApiError("Low Balance", kind="low_balance")


def check_balance(account_id: str, numbers: list[str]) -> None:
    """Refuse (3003) a submission whose account cannot pay even the first pulse of any of ``numbers``."""
    if not numbers:
        return
    with store.session() as sess:
        short = ledger.short_of_balance(sess, account_id, numbers)
    if short:
        raise low_balance()
