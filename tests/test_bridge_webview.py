"""The bridge in a real webview window, on each engine (Qt WebEngine, WebKitGTK): each
test runs the app in a subprocess and drives it from page JS with the page's own
privileges (``ramparts dev --eval``)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import COMMANDS_PY, read_keylog, write_app

from ramparts.bridge.protocol import sign_binary
from ramparts.testing import PageError, eval_in_app

pytestmark = [pytest.mark.webview, pytest.mark.usefixtures("engine")]


def test_calls_errors_bytes_and_events(app_dir: Path) -> None:
    result = eval_in_app(
        app_dir,
        """
        const out = {};
        const code = (p) => p.then(() => "resolved", (e) => [e.code, e.message, e instanceof ramparts.Error]);
        out.add = await ramparts.invoke("add", { a: 2, b: 40 });
        out.echo = await ramparts.sample.echo({ value: { nested: [1, "two", null, true] } });
        out.say = await ramparts.sample.say({ word: "hello" });
        const seen = [];
        ramparts.events.on("shouted", (p) => seen.push(p));
        out.shout = await ramparts.invoke("shout", { text: "hi" });
        await new Promise((r) => setTimeout(r, 50));
        out.event = seen;
        await ramparts.events.emit("clicked", { x: 1 });
        out.undeclaredEvent = await code(ramparts.events.emit("nope", {}));
        const data = new Uint8Array(256);
        for (let i = 0; i < 256; i++) data[i] = i;
        const back = await ramparts.sample.echo_bytes({ data });
        out.bytes = [back instanceof Uint8Array, back.length, Array.from(back.slice(250))];
        out.bytesFromBuffer = (await ramparts.sample.echo_bytes({ data: data.buffer })).length;
        out.badType = await code(ramparts.invoke("add", { a: "2", b: 40 }));
        out.boolIsNotInt = await code(ramparts.invoke("add", { a: true, b: 1 }));
        out.missing = await code(ramparts.invoke("add", { a: 1 }));
        out.extra = await code(ramparts.invoke("add", { a: 1, b: 2, c: 3 }));
        out.notObject = await code(ramparts.invoke("add", [1, 2]));
        out.scope = await code(ramparts.sample.say({ word: "goodbye" }));
        out.unlisted = await code(ramparts.invoke("sample.secret", {}));
        out.unlistedNs = typeof ramparts.sample.secret;
        out.unknown = await code(ramparts.invoke("os.system", {}));
        out.boom = await code(ramparts.sample.boom({}));
        out.hang = await code(ramparts.sample.hang({}));
        out.unsendable = await code(ramparts.sample.unsendable({}));
        out.async = await ramparts.sample.slow_async({ ms: 5 });
        out.afterFaults = await ramparts.invoke("add", { a: 1, b: 1 });
        return out;
        """,
    )
    assert result["add"] == 42
    assert result["echo"] == {"nested": [1, "two", None, True]}
    assert result["say"] == "hello"
    assert result["shout"] == "HI"
    assert result["event"] == [{"text": "HI"}]
    assert result["undeclaredEvent"][0] == "not_allowed"
    assert result["bytes"] == [True, 256, [250, 251, 252, 253, 254, 255]]
    assert result["bytesFromBuffer"] == 256
    assert result["badType"] == ["invalid_args", "a: expected integer, got string", True]
    assert result["boolIsNotInt"][0] == "invalid_args"
    assert result["missing"][:2] == ["invalid_args", "missing argument 'b'"]
    assert result["extra"][0] == "invalid_args"
    assert result["notObject"][0] == "invalid_args"
    assert result["scope"][0] == "out_of_scope"
    assert result["unlisted"][0] == "not_allowed"
    assert result["unlistedNs"] == "undefined"
    assert result["unknown"][0] == "not_allowed"
    code, message, _ = result["boom"]
    assert code == "failed"
    assert "internal detail" not in message and "Traceback" not in message
    assert result["hang"][0] == "timeout"
    assert result["unsendable"][0] == "failed"
    assert result["async"] == 5
    assert result["afterFaults"] == 2


def test_no_native_channel_and_a_frozen_api(app_dir: Path) -> None:
    result = eval_in_app(
        app_dir,
        """
        const names = Object.getOwnPropertyNames(window);
        let overwritten = false;
        try { window.ramparts = {}; overwritten = window.ramparts.invoke === undefined; } catch (e) {}
        let added = false;
        try { ramparts.sample.secret = () => 1; added = typeof ramparts.sample.secret === "function"; } catch (e) {}
        return {
          qt: typeof window.qt, pywebview: typeof window.pywebview,
          suspicious: names.filter((n) => /^qt|webchannel|pywebview|jsapi|^__ramparts|^ramparts./i.test(n)),
          frozen: Object.isFrozen(ramparts) && Object.isFrozen(ramparts.sample),
          overwritten, added,
          keys: Object.keys(ramparts).sort(),
        };
        """,
    )
    assert result["qt"] == "undefined"
    assert result["pywebview"] == "undefined"
    assert result["suspicious"] == []
    assert result["frozen"] is True
    assert result["overwritten"] is False
    assert result["added"] is False
    assert result["keys"] == ["Error", "events", "invoke", "sample", "stats"]


def test_forged_and_malformed_messages_are_rejected(app_dir: Path) -> None:
    result = eval_in_app(
        app_dir,
        """
        const post = (body) => fetch("/.ramparts/ipc?n=" + body.length, { method: "POST", body })
          .then((r) => r.status, () => "network-error");
        const header = new TextEncoder().encode(JSON.stringify({ s: 1, h: "x", c: "y", a: {}, b: [] }));
        const forged = new Uint8Array(36 + header.length);
        new DataView(forged.buffer).setUint32(32, header.length);
        forged.set(header, 36);
        return {
          forged: await post(forged),
          garbage: await post(new Uint8Array(1000)),
          empty: await post(new Uint8Array(0)),
          get: await fetch("/.ramparts/ipc").then((r) => r.status, () => "network-error"),
          stillWorks: await ramparts.invoke("add", { a: 1, b: 2 }),
        };
        """,
    )
    assert result["forged"] == 403
    assert result["garbage"] == 403
    assert result["empty"] == 403
    assert result["get"] == 403
    assert result["stillWorks"] == 3


def _with_messages(
    app_dir: Path, tmp_path: Path, make: Callable[[dict[str, Any]], dict[str, bytes]], script: str
) -> Any:
    """Run ``script`` in the page after the test has built signed messages from the
    session key (``RAMPARTS_KEYLOG``) and dropped them, hex-encoded, at
    ``/__messages.json``: the position of an attacker who captured valid messages."""
    keylog = tmp_path / "keys.log"
    out = app_dir / "ui" / "__messages.json"
    stop = threading.Event()

    def produce() -> None:
        while not stop.is_set():
            entries = read_keylog(keylog)
            if entries:
                messages = make(entries[-1])
                tmp = out.with_suffix(".tmp")
                tmp.write_text(json.dumps({k: v.hex() for k, v in messages.items()}))
                tmp.replace(out)
                return
            stop.wait(0.02)

    thread = threading.Thread(target=produce)
    thread.start()
    prelude = """
        let messages;
        for (;;) {
          const r = await fetch("/__messages.json").catch(() => null);
          if (r && r.ok) { messages = await r.json(); break; }
          await new Promise((res) => setTimeout(res, 20));
        }
        const bytes = (hex) => new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
        const post = async (name) => {
          const body = bytes(messages[name]);
          const r = await fetch("/.ramparts/ipc?n=" + body.length, { method: "POST", body })
            .catch(() => null);
          if (!r) return "network-error";
          if (r.status !== 200) return r.status;
          const buf = await r.arrayBuffer();
          const n = new DataView(buf).getUint32(0);
          return JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
        };
    """
    try:
        return eval_in_app(app_dir, prelude + script, env={"RAMPARTS_KEYLOG": str(keylog)})
    finally:
        stop.set()
        thread.join()


def test_replayed_reordered_and_truncated_messages(app_dir: Path, tmp_path: Path) -> None:
    def make(entry: dict[str, Any]) -> dict[str, bytes]:
        key = bytes.fromhex(entry["key"])
        handle = entry["handles"]["sample.echo"][0]

        def msg(seq: int) -> bytes:
            return sign_binary(key, {"s": seq, "h": handle, "c": f"cb{seq}", "a": {"value": seq}})

        return {
            "first": msg(1_000_000),
            "older": msg(999_990),  # reordered: lower but never seen, inside the window
            "ancient": msg(10),  # below the window: refused even if never seen
            "truncated": msg(1_000_001)[:-3],
        }

    result = _with_messages(
        app_dir,
        tmp_path,
        make,
        """
        return {
          first: await post("first"),
          replay: await post("first"),
          older: await post("older"),
          olderReplay: await post("older"),
          ancient: await post("ancient"),
          truncated: await post("truncated"),
        };
        """,
    )
    assert result["first"]["ok"] is True and result["first"]["r"] == 1_000_000
    assert result["replay"] == 403
    assert result["older"]["ok"] is True
    assert result["olderReplay"] == 403
    assert result["ancient"] == 403
    assert result["truncated"] == 403


def test_per_call_handles_die_after_one_use(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", security='handles = "per-call"')

    def make(entry: dict[str, Any]) -> dict[str, bytes]:
        key = bytes.fromhex(entry["key"])
        pool = entry["handles"]["sample.echo"]
        return {
            "dead": sign_binary(key, {"s": 2_000_000, "h": pool[0], "c": "cb", "a": {"value": 1}}),
            "guess": sign_binary(key, {"s": 2_000_001, "h": "A" * 22, "c": "cb", "a": {}}),
        }

    result = _with_messages(
        app_dir,
        tmp_path,
        make,
        """
        // Use every handle of the initial pool (and more), so pool[0] is spent.
        const values = await Promise.all(Array.from({ length: 40 }, (_, i) => ramparts.sample.echo({ value: i })));
        return { values: values.length, dead: await post("dead"), guess: await post("guess"),
                 stats: ramparts.stats() };
        """,
    )
    assert result["values"] == 40
    assert result["dead"]["ok"] is False and result["dead"]["e"]["code"] == "not_allowed"
    assert result["guess"]["e"]["code"] == "not_allowed"
    assert result["stats"]["pending"] == 0


def test_handles_and_keys_differ_between_launches(app_dir: Path, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    for _ in range(2):
        eval_in_app(
            app_dir,
            "return await ramparts.invoke('add', {a: 1, b: 1});",
            env={"RAMPARTS_KEYLOG": str(keylog)},
        )
    first, second = read_keylog(keylog)
    assert first["key"] != second["key"]
    assert set(first["handles"]) == set(second["handles"])
    handles = lambda e: {h for pool in e["handles"].values() for h in pool}  # noqa: E731
    assert not handles(first) & handles(second)
    assert len(handles(first)) == len(first["handles"])  # per-session: one handle each


def test_no_resolver_or_handle_left_after_1000_calls(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", security='handles = "per-call"')
    result = eval_in_app(
        app_dir,
        """
        const values = await Promise.all(Array.from({ length: 1000 }, (_, i) => ramparts.sample.echo({ value: i })));
        for (let i = 0; i < 1000; i++) if (values[i] !== i) throw new Error(`misrouted reply ${i}: ${values[i]}`);
        for (let i = 0; i < 200; i++) await ramparts.invoke("add", { a: i, b: 1 });
        return ramparts.stats();
        """,
    )
    assert result == {"pending": 0, "queued": 0}


def test_frames_and_foreign_pages_get_nothing(tmp_path: Path, engine: str) -> None:
    app_dir = write_app(
        tmp_path / "app",
        files={
            "frame.html": "<!doctype html><html><head><script src='frame.js'></script></head><body>f</body></html>",
            "frame.js": "parent.document.body.dataset.frame = typeof window.ramparts;",
            "srcdoc.js": (
                "parent.ramparts.invoke('add', {a: 1, b: 1})"
                ".then((v) => { parent.document.body.dataset.srcdoc = 'answered ' + v; },"
                " (e) => { parent.document.body.dataset.srcdoc = e.code; });"
            ),
        },
    )
    result = eval_in_app(
        app_dir,
        """
        const settle = () => new Promise((r) => setTimeout(r, 400));
        const frame = (attrs) => { const f = document.createElement("iframe"); Object.assign(f, attrs); document.body.appendChild(f); return f; };
        const out = {};
        const same = frame({ src: "/frame.html" });
        const foreign = frame({ src: "https://example.com/" });
        const data = frame({ src: "data:text/html,<p>x</p>" });
        await settle();
        out.sameOriginFrame = document.body.dataset.frame || "never ran";
        out.sameOriginUrl = same.contentWindow.location.href;
        out.foreignUrl = (() => { try { return foreign.contentWindow.location.href; } catch (e) { return "cross-origin"; } })();
        same.remove(); foreign.remove(); data.remove();
        const s = frame({ srcdoc: "<script src='/srcdoc.js'></scr" + "ipt>" });
        await settle();
        out.srcdoc = document.body.dataset.srcdoc || "never ran";
        s.remove();
        await settle();
        // An about:blank frame loads nothing, so no navigation policy sees it; a script
        // the page puts in it shares the app's origin.
        const blank = frame({});
        const put = blank.contentDocument.createElement("script");
        put.src = "/srcdoc.js";
        blank.contentDocument.body.appendChild(put);
        await settle();
        out.blank = document.body.dataset.srcdoc || "never ran";
        blank.remove();
        await settle();
        out.afterFramesGone = await ramparts.invoke("add", { a: 2, b: 2 });
        out.popup = window.open("/index.html") === null;
        const before = location.href;
        location.href = "https://example.com/";
        await settle();
        out.navigatedAway = location.href !== before;
        out.stillAnswers = await ramparts.invoke("add", { a: 3, b: 3 });
        return out;
        """,
    )
    assert result["sameOriginFrame"] == "never ran"
    assert result["sameOriginUrl"] == "about:blank"
    assert result["foreignUrl"] in ("about:blank", "cross-origin")
    # Qt loads a srcdoc frame and the bridge refuses its call; WebKitGTK's navigation
    # policy refuses the frame itself (about:srcdoc is no app URL), so its script never runs.
    assert result["srcdoc"] == ("not_allowed" if engine == "qt" else "never ran")
    assert result["blank"] == "not_allowed"
    assert result["afterFramesGone"] == 4
    assert result["popup"] is True
    assert result["navigatedAway"] is False
    assert result["stillAnswers"] == 6


def test_csp_blocks_inline_script_and_eval(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        files={
            "index.html": (
                "<!doctype html><html><head><script src='app.js'></script>"
                "<script>window.inlineRan = true;</script></head>"
                "<body><img src='x' onerror='window.handlerRan = true'>"
                "<a id='js' href='javascript:window.jsUrlRan=true'>x</a></body></html>"
            ),
        },
    )
    result = eval_in_app(
        app_dir,
        """
        document.getElementById("js").click();
        const s = document.createElement("script"); s.src = "https://example.com/x.js"; document.head.appendChild(s);
        const i = document.createElement("script"); i.textContent = "window.injected = true"; document.head.appendChild(i);
        await new Promise((r) => setTimeout(r, 300));
        let evalResult = "ran", fnResult = "ran";
        try { eval("1"); } catch (e) { evalResult = e.name; }
        try { new Function("return 1")(); } catch (e) { fnResult = e.name; }
        const meta = document.querySelector("meta[http-equiv='Content-Security-Policy']");
        return {
          appJs: window.appLoaded === true,
          inline: window.inlineRan === true, handler: window.handlerRan === true,
          jsUrl: window.jsUrlRan === true, injected: window.injected === true,
          evalResult, fnResult, meta: meta && meta.content,
          metaFirst: document.head.firstElementChild === meta,
          bridge: await ramparts.invoke("add", { a: 1, b: 2 }),
        };
        """,
    )
    assert result["appJs"] is True
    assert not result["inline"] and not result["handler"]
    assert not result["jsUrl"] and not result["injected"]
    assert result["evalResult"] == "EvalError" and result["fnResult"] == "EvalError"
    assert "default-src 'self'" in result["meta"] and "object-src 'none'" in result["meta"]
    assert result["metaFirst"] is True
    assert result["bridge"] == 3


def test_page_errors_and_timeouts_fail_clearly(app_dir: Path) -> None:
    with pytest.raises(PageError) as err:
        eval_in_app(app_dir, "throw new Error('kaboom');")
    assert err.value.returncode == 1 and "kaboom" in err.value.stderr
    with pytest.raises(PageError) as err:
        eval_in_app(app_dir, "await new Promise(() => {});", timeout=1)
    assert err.value.returncode == 2 and "timed out" in err.value.stderr
    with pytest.raises(PageError) as err:
        eval_in_app(app_dir, "return ramparts.invoke('sample.boom', {});")
    assert "--eval failed: failed: RampartsError: sample.boom failed" in err.value.stderr


def test_a_reload_is_a_new_session_with_a_working_bridge(tmp_path: Path) -> None:
    reload_once = (
        "if (!sessionStorage.getItem('r')) { sessionStorage.setItem('r', '1'); location.reload(); }"
        " else { window.reloaded = true; }"
    )
    app_dir = write_app(tmp_path / "app", files={"app.js": reload_once})
    keylog = tmp_path / "keys.log"
    result = eval_in_app(
        app_dir,
        "return [window.reloaded === true, await ramparts.invoke('add', {a: 1, b: 2})];",
        env={"RAMPARTS_KEYLOG": str(keylog)},
    )
    assert result == [True, 3]
    sessions = read_keylog(keylog)
    assert len(sessions) == 2 and sessions[0]["key"] != sessions[1]["key"]


def test_large_binary_round_trips_are_exact(app_dir: Path) -> None:
    """Bodies far larger than one read chunk (Qt's request-body device repeats its first
    chunk when read in pieces: this caught that)."""
    result = eval_in_app(
        app_dir,
        """
        const out = {};
        for (const n of [16 * 1024 + 1, 1 << 20, 12 * 1024 * 1024 + 3]) {
          const d = new Uint8Array(n);
          crypto.getRandomValues(d.subarray(0, 65536));
          for (let i = 65536; i < n; i++) d[i] = (i * 7) & 255;
          const b = await ramparts.sample.echo_bytes({ data: d });
          let same = b.length === n;
          for (let i = 0; same && i < n; i++) same = b[i] === d[i];
          out[n] = same;
        }
        return out;
        """,
        timeout=60,
    )
    assert result == {"16385": True, "1048576": True, str(12 * 1024 * 1024 + 3): True}


# Commands that hold their worker until the page releases them: the tests below order
# events (deadline passed, then workers freed) by what the page does, not by a sleep's
# length. ``release`` is async, so it runs on the event loop, not on a blocked worker.
BLOCKING_COMMANDS = (
    COMMANDS_PY
    + """
import threading

RELEASE = threading.Event()

@command(timeout=0.5)
def block_a() -> None:
    RELEASE.wait(120)

@command(timeout=0.5)
def block_b() -> None:
    RELEASE.wait(120)

@command(timeout=2)
def block_long() -> None:
    RELEASE.wait(120)

@command
async def release() -> None:
    RELEASE.set()
"""
)


def test_calls_python_never_answers_hit_the_page_deadline(tmp_path: Path) -> None:
    """40 blocked calls: one page's synchronous commands get at most 16 workers, so 16
    run (Python answers them ``timeout`` after 0.5 s; the threads stay blocked) and 24
    wait for a worker that only frees when the page releases them, after their page
    deadline (0.5 s * 1.5 + 1 s). The page rejects those itself, forgets their resolvers,
    and ignores the late replies that come once the workers are released."""
    app_dir = write_app(tmp_path / "app", commands=BLOCKING_COMMANDS)
    result = eval_in_app(
        app_dir,
        """
        const code = (p) => p.then(() => ["resolved"], (e) => [e.code, e.message]);
        const results = await Promise.all(Array.from({ length: 40 }, () => code(ramparts.invoke("block_a", {}))));
        const stats = ramparts.stats();
        await ramparts.invoke("release", {});
        const add = await ramparts.invoke("add", { a: 1, b: 2 }); // a worker of its own again
        await ramparts.sample.slow_async({ ms: 500 }); // late replies may come meanwhile
        return { results, stats, add, after: ramparts.stats() };
        """,
        timeout=60,
    )
    python = ["timeout", "block_a did not finish within 0.5 s"]
    page = ["timeout", "block_a got no answer within 1.75 s"]
    assert sorted(result["results"]) == sorted([python] * 16 + [page] * 24)
    assert result["stats"] == {"pending": 0, "queued": 0}
    assert result["add"] == 3 and result["after"] == {"pending": 0, "queued": 0}


def test_per_call_handles_come_back_with_replies_after_the_deadline(tmp_path: Path) -> None:
    """Every hang handle is held by a call past its page deadline (queued behind blocked
    workers); once the page releases the workers, the late replies' next handles refill
    the pool, so a hang call gets Python's own answer again. Without that, the pool stays
    empty and the loop never ends."""
    app_dir = write_app(
        tmp_path / "app", security='handles = "per-call"', commands=BLOCKING_COMMANDS
    )
    result = eval_in_app(
        app_dir,
        """
        const code = (p) => p.then(() => ["resolved"], (e) => [e.code, e.message]);
        // Two commands, 16 handles each: the page's 16 workers block until released;
        // Python answers those "timeout" after 0.5 s, the page the 16 queued ones.
        const blocks = Array.from({ length: 32 }, (_, i) => code(ramparts.invoke(i % 2 ? "block_a" : "block_b", {})));
        await Promise.all(blocks);
        const hung = await Promise.all(Array.from({ length: 16 }, () => code(ramparts.sample.hang({}))));
        await ramparts.invoke("release", {});
        let again, tries = 0;
        do { again = await code(ramparts.sample.hang({})); tries++; }
        while (again[1] !== "sample.hang did not finish within 0.5 s");
        return { hung, again, stats: ramparts.stats() };
        """,
        timeout=60,
    )
    assert result["hung"] == [["timeout", "sample.hang got no answer within 1.75 s"]] * 16
    assert result["stats"] == {"pending": 0, "queued": 0}


def test_a_shorter_deadline_fires_before_a_longer_one_set_earlier(tmp_path: Path) -> None:
    """The page keeps one timer for every call's deadline, set for the earliest. A call
    whose deadline (block_b: 0.5 s * 1.5 + 1 s) is earlier than one already waiting
    (block_long: 2 s * 1.5 + 1 s) must move the timer forward, not wait for it: the two
    settle in that order, though block_long was called first (were they swept together,
    block_long would settle first)."""
    app_dir = write_app(tmp_path / "app", commands=BLOCKING_COMMANDS)
    result = eval_in_app(
        app_dir,
        """
        const code = (p) => p.then(() => ["resolved"], (e) => [e.code, e.message]);
        // Hold this page's 16 workers; Python answers these "timeout" after 0.5 s.
        await Promise.all(Array.from({ length: 16 }, () => code(ramparts.invoke("block_a", {}))));
        // Let the timer armed for those calls fire (nothing is left for it to do).
        await new Promise((r) => setTimeout(r, 1500));
        const order = [];
        const track = (name) => code(ramparts.invoke(name, {})).then((r) => { order.push([name, ...r]); });
        const long = track("block_long"); // queued behind the workers: only the page answers
        const short = track("block_b");
        await Promise.all([long, short]);
        await ramparts.invoke("release", {});
        return { order, stats: ramparts.stats() };
        """,
        timeout=60,
    )
    assert result["order"] == [
        ["block_b", "timeout", "block_b got no answer within 1.75 s"],
        ["block_long", "timeout", "block_long got no answer within 4 s"],
    ]
    assert result["stats"] == {"pending": 0, "queued": 0}


def test_the_bootstraps_hmac_matches_python(app_dir: Path) -> None:
    """The page signs channel messages with js/hmac.js (synchronous), binary bodies with
    WebCrypto. The JS HMAC against Python's: RFC 4231 vectors 1-4 (the key lengths it
    is used with, up to one block), every message length around the block and padding
    edges, and one of 1 MiB."""
    import hashlib
    import hmac as py_hmac

    source = (Path(__file__).parents[1] / "core/src/ramparts/bridge/js/hmac.js").read_text()
    cases: list[tuple[bytes, bytes]] = [
        (b"\x0b" * 20, b"Hi There"),
        (b"Jefe", b"what do ya want for nothing?"),
        (b"\xaa" * 20, b"\xdd" * 50),
        (bytes(range(1, 26)), b"\xcd" * 50),
        (b"\x01" * 64, b"a key of exactly one block"),
        (b"", b"an empty key"),
    ]
    key = bytes(range(100, 132))
    cases += [(key, bytes((i * 31 + n) & 255 for i in range(n))) for n in range(0, 200)]
    cases.append((key, bytes(i & 255 for i in range(1 << 20))))
    result = eval_in_app(
        app_dir,
        f"""
        const hmacSha256 = {source};
        const cases = {json.dumps([[k.hex(), m.hex()] for k, m in cases[:-1]])};
        const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, "0")).join("");
        const bytes = (h) => new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16)));
        const out = cases.map(([k, m]) => hex(hmacSha256(bytes(k))(bytes(m))));
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < big.length; i++) big[i] = i & 255;
        out.push(hex(hmacSha256(bytes({json.dumps(key.hex())}))(big)));
        return out;
        """,
        timeout=60,
    )
    expected = [py_hmac.new(k, m, hashlib.sha256).hexdigest() for k, m in cases]
    assert result[:4] == [  # RFC 4231, test cases 1-4
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ]
    assert result == expected


def test_channel_messages_on_both_sides_of_the_synchronous_mac_limit(app_dir: Path) -> None:
    """Channel messages up to 4 KiB are signed by js/hmac.js at once, larger ones by
    WebCrypto: calls around the limit and well past it, all in flight together so the
    two signers race, each pass Python's MAC check (a wrong MAC gets no answer). Events
    of both sizes go out too (an event has no answer to check)."""
    result = eval_in_app(
        app_dir,
        """
        const sizes = [];
        for (let n = 3950; n <= 4150; n += 3) sizes.push(n);
        sizes.push(300000);
        const back = await Promise.all(sizes.map((n) => ramparts.sample.echo({ value: "x".repeat(n) })));
        await ramparts.events.emit("clicked", { big: "y".repeat(10000) });
        await ramparts.events.emit("clicked", { small: 1 });
        return { ok: back.every((v, i) => v.length === sizes[i]), count: back.length };
        """,
        timeout=60,
    )
    assert result == {"ok": True, "count": 68}


def test_a_poisoned_typed_array_length_getter_sees_nothing_of_the_signer(app_dir: Path) -> None:
    """Found in review: js/hmac.js read ``length`` through the getter all typed arrays
    share. A page that replaced it (answering 0) got the HMAC's inner and outer states
    handed to its getter as ``this``: key-equivalent bytes. With the getter replaced by
    one that records what it is asked about and answers 0, calls small and large (both
    signers) still work, and the getter sees none of the bootstrap's arrays."""
    result = eval_in_app(
        app_dir,
        """
        const proto = Object.getPrototypeOf(Uint8Array.prototype);
        const seen = [];
        Object.defineProperty(proto, "length", {
          configurable: true,
          get() { seen.push(this.byteLength); return 0; },
        });
        const small = await ramparts.sample.echo({ value: "x" });
        const large = await ramparts.sample.echo({ value: "y".repeat(10000) });
        await ramparts.events.emit("clicked", { n: 1 });
        return { small, large: large.length === 10000, seen };
        """,
        timeout=60,
    )
    assert result == {"small": "x", "large": True, "seen": []}


def test_deadlines_survive_a_page_that_clears_every_timeout(tmp_path: Path) -> None:
    """Found in review: timer ids are shared with the page, and a "clear every timeout"
    loop cancelled the one timer that serves every deadline; later calls never re-armed
    it, so no deadline fired again. A call queued behind blocked workers after such a
    loop must still get the page's own timeout."""
    app_dir = write_app(tmp_path / "app", commands=BLOCKING_COMMANDS)
    result = eval_in_app(
        app_dir,
        """
        const code = (p) => p.then(() => ["resolved"], (e) => [e.code, e.message]);
        const held = Array.from({ length: 16 }, () => code(ramparts.invoke("block_a", {})));
        let id = setTimeout(() => {});
        while (id--) clearTimeout(id); // the idiom: cancels the bootstrap's timer too
        const queued = await code(ramparts.invoke("block_b", {})); // no worker: page answers
        await Promise.all(held);
        await ramparts.invoke("release", {});
        return { queued, stats: ramparts.stats() };
        """,
        timeout=60,
    )
    assert result["queued"] == ["timeout", "block_b got no answer within 1.75 s"]
    assert result["stats"] == {"pending": 0, "queued": 0}


def test_channel_messages_keep_their_order_across_the_signers(app_dir: Path) -> None:
    """Found in review: a message over 4 KiB waits for WebCrypto, and small ones signed
    at once overtook it; 4,096 of them would push it below Python's replay window, so it
    was dropped. Messages now leave in order: a large call followed by 5,000 small ones,
    all in flight together, are all answered."""
    result = eval_in_app(
        app_dir,
        """
        const big = ramparts.sample.echo({ value: "z".repeat(50000) });
        const small = Array.from({ length: 5000 }, (_, i) => ramparts.invoke("add", { a: i, b: 1 }));
        const back = await Promise.all([big, ...small]);
        return { big: back[0].length, small: back.slice(1).every((v, i) => v === i + 1) };
        """,
        timeout=120,
    )
    assert result == {"big": 50000, "small": True}


def test_large_json_calls_go_by_fetch_and_come_back_exact(app_dir: Path) -> None:
    """JSON-only calls past 64 Ki characters take the binary carrier (one JSON layer each
    way, same MAC and sequence numbers): documents on both sides of the limit, with
    non-ASCII text and lone surrogates, come back exact, in flight together with small
    calls; and per-call handles keep coming back (the last call reuses the pool)."""
    result = eval_in_app(
        app_dir,
        """
        const doc = (n) => {
          const items = [];
          for (let i = 0; items.length * 60 < n; i++) {
            items.push({ id: i, name: `é ${i} \\ud800`, tags: ["a", "b"], ok: i % 2 === 0, r: i / 8 });
          }
          return { items };
        };
        const docs = [40000, 70000, 1 << 20].map(doc);
        const sizes = docs.map((d) => JSON.stringify({ value: d }).length);
        const calls = docs.map((d) => ramparts.sample.echo({ value: d }));
        const small = Array.from({ length: 200 }, (_, i) => ramparts.invoke("add", { a: i, b: 1 }));
        const back = await Promise.all(calls);
        const smallBack = await Promise.all(small);
        const again = await ramparts.sample.echo({ value: docs[2] });
        return {
          sides: [sizes[0] < 65536, sizes[1] > 65536],
          exact: back.every((b, i) => JSON.stringify(b) === JSON.stringify(docs[i])),
          again: JSON.stringify(again) === JSON.stringify(docs[2]),
          small: smallBack.every((v, i) => v === i + 1),
        };
        """,
        timeout=120,
    )
    assert result == {"sides": [True, True], "exact": True, "again": True, "small": True}


NUMBER_COMMANDS = (
    COMMANDS_PY
    + """
from typing import Any


@command
def take_any(v: Any) -> str:
    return repr(v)


@command
def take_float(v: float) -> str:
    return repr(v)


@command
def take_int(v: int) -> str:
    return repr(v)


@command
def take_dict(v: dict[str, Any]) -> str:
    return repr(v)


@command
def take_bytes(v: Any, data: bytes) -> str:
    return repr(v)


@command
def give_inf() -> Any:
    return {"x": [float("inf")]}
"""
)


def test_numbers_json_cannot_carry_are_invalid_args_on_both_carriers(tmp_path: Path) -> None:
    """A page's ``toJSON`` can put any JSON text into a signed header with
    ``JSON.rawJSON``: ``1e400`` is valid JSON that Python's ``float`` reads as ``inf``
    (and JS as ``Infinity``). Python refuses it, nested or not, for every argument type,
    on the channel and on the binary carrier, with ``invalid_args`` naming the path."""
    app = write_app(tmp_path / "app", commands=NUMBER_COMMANDS, module="numbers_cmds")
    result = eval_in_app(
        app,
        """
        const raw = (text) => ({ toJSON: () => JSON.rawJSON(text) });
        const out = { rawJSON: typeof JSON.rawJSON };
        const call = (name, args) => ramparts.invoke(name, args).then(
          (r) => ["ok", r], (e) => [e.code, e.data && e.data.path, e.message]);
        for (const text of ["1e400", "-1e400", "1E+309", "1" + "0".repeat(400)]) {
          out[text.slice(0, 8)] = {
            any: await call("take_any", { v: raw(text) }),
            float: await call("take_float", { v: raw(text) }),
            int: await call("take_int", { v: raw(text) }),
            dict: await call("take_dict", { v: { a: [1, { b: raw(text) }] } }),
            nestedAny: await call("take_any", { v: [0, { deep: [raw(text)] }] }),
            binary: await call("take_bytes", { v: { a: [raw(text)] }, data: new Uint8Array(3) }),
            binaryAny: await call("take_any", { v: [new Uint8Array(2), raw(text)] }),
          };
        }
        out.underflow = [
          await call("take_any", { v: raw("1e-400") }),
          await call("take_float", { v: raw("-1e-400") }),
          await call("take_bytes", { v: raw("1e-400"), data: new Uint8Array(1) }),
        ];
        out.fine = await call("take_dict", { v: { big: raw("1e308"), n: 2 } });
        out.reply = await call("give_inf", {});
        out.after = await call("add", { a: 1, b: 2 });
        return out;
        """,
    )
    assert result["rawJSON"] == "function"
    paths = {
        "any": "v",
        "float": "v",
        "int": "v",
        "dict": "v.a[1].b",
        "nestedAny": "v[1].deep[0]",
        "binary": "v.a[0]",
        "binaryAny": "v[1]",
    }
    for literal in ("1e400", "-1e400", "1E+309", "10000000"):
        for case, path in paths.items():
            code, got_path, message = result[literal][case]
            assert (code, got_path) == ("invalid_args", path), (literal, case, message)
            assert "not a number JSON can carry" in message, (literal, case, message)
    # Underflow is 0, as JS's own JSON.parse reads it: finite, so accepted.
    assert result["underflow"] == [["ok", "0.0"], ["ok", "-0.0"], ["ok", "0.0"]]
    assert result["fine"] == ["ok", "{'big': 1e+308, 'n': 2}"]
    code, _, message = result["reply"]
    assert code == "failed" and "non-finite float" in message
    assert result["after"] == ["ok", 3]


def test_start_up_objects_leave_the_collector_once_a_page_has_loaded(tmp_path: Path) -> None:
    """After the first page load the app's start-up objects are in the collector's
    permanent generation (gc.freeze), and the collector still runs for the rest."""
    commands = (
        COMMANDS_PY
        + """

import gc as _gc


@command
def collector() -> list[int | bool]:
    return [_gc.get_freeze_count(), _gc.isenabled()]
"""
    )
    app_dir = write_app(tmp_path / "app", commands=commands, module="freeze_cmds")
    frozen, enabled = eval_in_app(app_dir, 'return await ramparts.invoke("collector");', timeout=60)
    assert frozen > 10_000 and enabled is True
