"""A local fake of Twitch IRC over websocket (wss://irc-ws.chat.twitch.tv), real wire format.

Speaks what the real server does for a reader: CAP ACK, the 001-004/375/372/376 welcome, JOIN
echo + 353/366 + ROOMSTATE, PING/PONG, RECONNECT, and pushes chat lines in frames that may
carry several CR LF separated lines. Tests drive it:

    async with FakeIrcServer() as irc:
        url = irc.url
        await irc.wait_joined("streamer")
        await irc.push(["@id=...;... :viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #streamer :hi"])
        await irc.reconnect_all()    # RECONNECT
        await irc.drop_all()         # close the sockets without a word

Also runnable: ``python -m tests.fakes.twitch_irc --port 0 --replay FILE`` (prints its URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

from websockets.asyncio.server import serve


class FakeConnection:
    def __init__(self, ws, server: FakeIrcServer):
        self.ws = ws
        self.server = server
        self.nick = ""
        self.pass_ = ""
        self.caps: list[str] = []
        self.channels: set[str] = set()
        self.received: list[str] = []
        self.opened_at = time.monotonic()

    async def send_frame(self, lines: list[str]) -> None:
        await self.ws.send("".join(line + "\r\n" for line in lines))


class FakeIrcServer:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, answer_ping: bool = True):
        self.host = host
        self.port = port
        self.answer_ping = answer_ping
        self.connections: list[FakeConnection] = []
        self.connect_times: list[float] = []
        self.joins: list[tuple[str, str]] = []  # (nick, channel) in order
        self.pings_from_clients = 0
        # Behaviour switches for robustness tests.
        self.close_on_connect = False  # accept then close at once (reconnect storm)
        self.reconnect_on_join = False  # answer JOIN with RECONNECT (reconnect storm)
        self.silent = False  # never answer anything after the welcome (missing keepalive)
        self.on_join_lines: list[str] = []  # lines sent (in one frame) right after each JOIN
        self._server = None
        self._joined = asyncio.Condition()

    # --- lifecycle ---------------------------------------------------------------------
    async def __aenter__(self) -> FakeIrcServer:
        self._server = await serve(self._handle, self.host, self.port, ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 3)
            self._server = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def live(self) -> list[FakeConnection]:
        return [c for c in self.connections if c.ws.state.name == "OPEN"]

    # --- the protocol ------------------------------------------------------------------
    async def _handle(self, ws) -> None:
        conn = FakeConnection(ws, self)
        self.connections.append(conn)
        self.connect_times.append(time.monotonic())
        if self.close_on_connect:
            await ws.close()
            return
        try:
            async for frame in ws:
                for line in frame.replace("\r\n", "\n").split("\n"):
                    if line:
                        await self._on_line(conn, line)
        except Exception:  # noqa: S110 - a client going away is normal
            pass

    async def _on_line(self, conn: FakeConnection, line: str) -> None:
        conn.received.append(line)
        cmd, _, rest = line.partition(" ")
        cmd = cmd.upper()
        if cmd == "CAP":
            caps = rest.split(":", 1)[-1]
            conn.caps = caps.split()
            await conn.send_frame([f":tmi.twitch.tv CAP * ACK :{caps}"])
        elif cmd == "PASS":
            conn.pass_ = rest
        elif cmd == "NICK":
            conn.nick = rest.strip()
            n = conn.nick
            if self.silent:
                await conn.send_frame([f":tmi.twitch.tv 001 {n} :Welcome, GLHF!"])
                return
            await conn.send_frame(
                [
                    f":tmi.twitch.tv 001 {n} :Welcome, GLHF!",
                    f":tmi.twitch.tv 002 {n} :Your host is tmi.twitch.tv",
                    f":tmi.twitch.tv 003 {n} :This server is rather new",
                    f":tmi.twitch.tv 004 {n} :-",
                    f":tmi.twitch.tv 375 {n} :-",
                    f":tmi.twitch.tv 372 {n} :You are in a maze of twisty passages, all alike.",
                    f":tmi.twitch.tv 376 {n} :>",
                ]
            )
        elif cmd == "JOIN":
            if self.silent:
                return
            for chan in rest.split(","):
                chan = chan.strip().lstrip("#").lower()
                conn.channels.add(chan)
                n = conn.nick
                if self.reconnect_on_join:
                    await conn.send_frame([":tmi.twitch.tv RECONNECT"])
                    continue
                await conn.send_frame(
                    [
                        f":{n}!{n}@{n}.tmi.twitch.tv JOIN #{chan}",
                        f":{n}.tmi.twitch.tv 353 {n} = #{chan} :{n}",
                        f":{n}.tmi.twitch.tv 366 {n} #{chan} :End of /NAMES list",
                        f"@emote-only=0;followers-only=-1;r9k=0;room-id=3003;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #{chan}",
                    ]
                )
                if self.on_join_lines:
                    await conn.send_frame(list(self.on_join_lines))
                async with self._joined:
                    self.joins.append((n, chan))
                    self._joined.notify_all()
        elif cmd == "PING":
            self.pings_from_clients += 1
            if self.answer_ping and not self.silent:
                await conn.send_frame([f":tmi.twitch.tv PONG tmi.twitch.tv :{rest.lstrip(':')}"])
        elif cmd == "PART":
            conn.channels.discard(rest.strip().lstrip("#").lower())

    # --- test controls -----------------------------------------------------------------
    async def wait_joined(self, channel: str, count: int = 1, timeout: float = 5.0) -> None:
        channel = channel.lower()

        def enough():
            return sum(1 for _, c in self.joins if c == channel) >= count

        async with self._joined:
            await asyncio.wait_for(self._joined.wait_for(enough), timeout)

    def _targets(self, channel: str | None):
        return [c for c in self.live if channel is None or channel.lower() in c.channels]

    async def push(self, lines: list[str], *, per_frame: int = 1, channel: str | None = None):
        """Send lines to every joined client, ``per_frame`` lines per websocket frame."""
        for conn in self._targets(channel):
            for i in range(0, len(lines), per_frame):
                await conn.send_frame(lines[i : i + per_frame])

    async def push_random_frames(self, lines: list[str], *, max_per_frame=5, seed=7, channel=None):
        rng = random.Random(seed)
        for conn in self._targets(channel):
            i = 0
            while i < len(lines):
                k = rng.randint(1, max_per_frame)
                await conn.send_frame(lines[i : i + k])
                i += k

    async def send_raw(self, frame: str, channel: str | None = None) -> None:
        for conn in self._targets(channel):
            await conn.ws.send(frame)

    async def ping_all(self) -> None:
        for conn in self.live:
            await conn.send_frame(["PING :tmi.twitch.tv"])

    async def reconnect_all(self) -> None:
        for conn in self.live:
            await conn.send_frame([":tmi.twitch.tv RECONNECT"])

    async def drop_all(self) -> None:
        for conn in self.live:
            # Abort the TCP connection: no close frame (a dropped socket).
            conn.ws.transport.abort()


def burst_line(n: int, sent_ms: int) -> str:
    """Line ``n`` of a benchmark burst: varied chatters, badges, emotes; tmi-sent-ts = send time."""
    uid = 5000 + n % 400
    login = f"user{n % 400}"
    badges = ["", "subscriber/6", "vip/1,subscriber/12", "moderator/1", "premium/1"][n % 5]
    emotes = "25:0-4" if n % 7 == 0 else ""
    text = ("Kappa " if emotes else "") + f"bench line {n} with some chat text; ünïcödé 👏"
    return (
        f"@badge-info=;badges={badges};color=#1E90FF;display-name=User{n % 400};emotes={emotes};"
        f"first-msg=0;flags=;id=bench-{n};mod={1 if 'moderator' in badges else 0};room-id=3003;"
        f"subscriber={1 if 'subscriber' in badges else 0};tmi-sent-ts={sent_ms};turbo=0;"
        f"user-id={uid};user-type= :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #streamer :{text}"
    )


async def burst(srv: FakeIrcServer, total: int, seconds: float, per_frame: int) -> None:
    """Send ``total`` lines evenly over ``seconds``, ``per_frame`` lines per websocket frame."""
    frames = (total + per_frame - 1) // per_frame
    interval = seconds / frames
    start = time.monotonic()
    n = 0
    for f in range(frames):
        due = start + f * interval
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        now_ms = int(time.time() * 1000)
        k = min(per_frame, total - n)
        await srv.push([burst_line(n + i, now_ms) for i in range(k)], per_frame=k)
        n += k


async def _main(port: int, replay: str | None, per_frame: int, burst_n: int, seconds: float) -> None:
    async with FakeIrcServer(port=port) as srv:
        print(srv.url, flush=True)
        if replay or burst_n:
            while not srv.joins:
                await asyncio.sleep(0.05)
        if replay:
            lines = [ln.rstrip("\r\n") for ln in open(replay, encoding="utf-8") if ln.strip()]
            await srv.push(lines, per_frame=per_frame)
        if burst_n:
            t0 = time.monotonic()
            await burst(srv, burst_n, seconds, per_frame)
            print(f"sent {burst_n} lines in {time.monotonic() - t0:.2f} s", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--replay")
    ap.add_argument("--per-frame", type=int, default=3)
    ap.add_argument("--burst", type=int, default=0, help="send N generated PRIVMSG lines")
    ap.add_argument("--seconds", type=float, default=5.0, help="...spread over this long")
    a = ap.parse_args()
    asyncio.run(_main(a.port, a.replay, a.per_frame, a.burst, a.seconds))
