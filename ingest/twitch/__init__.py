"""Twitch: IRC (anonymous, any channel) and EventSub (authorized) chat, Helix, OAuth.

Modules: ``config`` (endpoints from settings), ``irc`` (our IRC parser + websocket client),
``mapping`` (pure functions: IRC lines / EventSub payloads -> ChatEvent), ``helix`` (async Helix
client: 401 refresh, 429 Ratelimit-Reset, 5xx backoff), ``oauth`` (code flow, validate, refresh,
PlatformAccount persistence), ``eventsub`` (twitchio 3 EventSub client), ``live`` (Helix stream
polling for IRC-only channels), ``service`` (send + moderation actions with rate limiting),
``views`` (Connect Twitch).
"""
