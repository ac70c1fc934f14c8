"""A terminal chat over the in-app channel, as the customer's app would talk to it."""

from __future__ import annotations

import datetime as dt
import secrets

import requests

from bot.settings import Settings
from bot.tokens import mint


def run_chat(settings: Settings, customer_id: str | None, url: str | None = None) -> int:
    url = url or f"http://127.0.0.1:{settings.rasa_port}/webhooks/inapp/webhook"
    headers: dict[str, str] = {}
    body_extra: dict[str, str] = {}
    if customer_id:
        headers["Authorization"] = f"Bearer {mint(customer_id, settings.jwt_secret, dt.timedelta(hours=2))}"
        who = f"customer {customer_id}"
    else:
        body_extra["sender"] = "anon_" + secrets.token_urlsafe(18)
        who = "an anonymous visitor"
    print(f"Chatting as {who} via {url}. Type /quit to leave.")
    while True:
        try:
            text = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if text in {"/quit", "/exit"}:
            return 0
        if not text:
            continue
        try:
            reply = requests.post(url, json={"message": text, **body_extra}, headers=headers, timeout=30)
        except requests.RequestException as exc:
            print(f"(cannot reach the bot: {exc}; is `make run` running?)")
            continue
        if reply.status_code != 200:
            print(f"(HTTP {reply.status_code}: {reply.text})")
            continue
        for message in reply.json():
            print(f"bot> {message.get('text', '')}")
            for button in message.get("buttons") or []:
                print(f"     [{button['title']}] -> {button['payload']}")
