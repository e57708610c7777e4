"""Shared test code: look here before writing a helper, add here what a second folder needs.

What is here
============

``tests.support.loopback``: a real HTTP/1.1 server on 127.0.0.1 (ephemeral port) that
answers from a script and records every request (method, target, headers, body, when, what
it answered, how many body bytes it sent). One implementation, two ways to run it:

- in the test's own Trio run: the ``loopback`` fixture, or ``await start_loopback(nursery)``.
  Its pauses follow Trio's clock, so under ``autojump_clock`` a 30 s stall costs no time;
- in a thread with its own Trio loop (real time), for tests that drive a subprocess:
  ``with loopback_in_thread() as server:``.

``tests.support.waiting``: ``await wait_until(what, probe, within=...)`` polls on Trio's
clock (mock or real); ``wait_for(what, probe, timeout=...)`` polls on the real clock from
plain code (a daemon in another process). Both fail naming what they waited for and what
they last saw. Never a fixed sleep to "give something time".

``tests.support.cards``: the sample OwnerCard (``config/owner_card.sample.yaml``) with
overrides, so a test says only what it changes: ``write_card(path, schedule_policy=
{"timezone": "UTC"}, sources=[folder_source("library", folder)])``; ``make_card(...)``
gives the loaded ``OwnerCard``.

``tests.support.media``: ``make_clip`` (tiny H.264/AAC clips from ffmpeg's lavfi sources),
``ClipCache`` (the session fixture ``clip_cache``: each distinct clip made once per session)
and ``make_slate`` (the session fixture ``slate_template``: the channel's slate, rendered once).

``tests.support.hostile``: the cast of the untrusted-input tests: ``internal_host`` (a
server that must see zero requests), ``second_host`` (another "machine" on 127.0.0.2, same
port), ``gzip_bomb(size, layers=)`` (gigabytes in kilobytes, made in milliseconds).
``Loopback(host="127.0.0.2", port=p)`` listens on another loopback address;
``Loopback(tls=TestCA().issue("media.example.com"))`` serves HTTPS and records the SNI
(``tests.support.certs``: a throwaway CA whose ``client_context()`` trusts only itself).

``tests.support.wsclient``: ``RawWebsocket``, a websocket client that sends exactly what a
test says: a handshake with any ``Origin``/``Host`` from any loopback source address, a
message announcing megabytes streamed from one 64 KiB chunk (``send_huge``), floods,
reserved opcodes, compressed bits; it reads the handshake's answer (``status``,
``error()``) and frames, and the server's close code and reason (``close_frame()``).

``tests.support.memory``: ``with peak_growth() as g: ...; assert g.mib < 64``: how far the
process's peak resident memory rose during the block (the kernel's ``VmHWM``, reset first).

``tests.support.edge``: the edge (``cloud/worker``, the Cloudflare Worker) in workerd on
127.0.0.1: ``with running_edge(dir, ("main", "news")) as edge:`` gives ``edge.url``, fresh
credentials per channel and role (``edge.credential("main", "ingest")``), signed headers
(``edge.headers("POST", path, body, role="control", nonce=...)``), and ``stop()`` /
``start(port=edge.port)`` for an outage that keeps its state. The fixture ``edge_worker``
(``tests/cloud/conftest.py``) is one per test. The protocol: ``cloud/worker/PROTOCOL.md``.

``tests.support.channel``: ``channel_settings(root, slate_template, card={...})``, a
throwaway channel on disk (runtime with the slate copied in, the card, ``Settings``).

``tests.support.fuzz``: bounds for hypothesis fuzzers. ``@budget()`` above ``@given`` runs
the fuzzer for ``QUICK_S`` seconds (the default suite) whatever one example costs;
``deeper(test)`` (or ``@deep(n)``) is its ``slow`` twin making a fixed number of examples.

Fixtures (``tests/conftest.py``): ``loopback``, ``receiver`` (a loopback server answering
``{"ok": true}``: a webhook, the cloud ingest API), ``clip_cache``, ``slate_template``,
``store``.

The loopback server, by example
===============================

A route is a ``Reply`` (every request gets it), several replies (answered in turn, the
last one repeating), or a handler ``f(request) -> Reply`` (sync or async). An unset
Content-Type is guessed from the path, like a file server (``.mp4``: ``video/mp4``)::

    url = loopback.serve("/feed.xml", Reply(body=RSS, content_type="application/rss+xml"))
    loopback.serve("/clip.mp4", clip.read_bytes())  # a 200 of these bytes; ranges honoured
    loopback.serve("/flaky", Reply(503, headers={"Retry-After": "4"}), Reply(200, b"ok"))
    loopback.serve("/now", lambda request: Reply(body=render(request.query).encode()))
    loopback.then(Reply(500), Reply(429))    # the next two requests, whatever their path
    loopback.answer_always(json_reply(500))  # every unrouted request from now on

    assert loopback.hits("/flaky") == 2
    [request] = loopback.requests           # .method .target .path .headers .body .json()
    assert loopback.accepted == []          # requests answered 2xx
    await loopback.down(); await loopback.up()   # connection refused in between (Trio mode)

A body is bytes, or an iterable of ``bytes`` chunks and ``Pause(seconds)``: the hostile
servers of the hardening tests are one ``Reply`` each::

    # drip: a byte every 0.4 s, no Content-Length
    Reply(body=drip(b"<", times=10_000, every=0.4))
    # stall: headers at once, the body after an hour (virtual under autojump_clock)
    Reply(body=RSS, stall_before_body=3600)
    # slow: no status line for 30 s
    Reply(delay=30)
    # endless, chunked, no length; check what it cost with loopback.sent_to("/endless")
    Reply(body=drip(b"x" * 65536, times=None), chunked=True)
    # a lying length: claims 1 GiB, sends 64 KiB, then holds the connection open
    Reply(body=[b"<rss>" + b" " * 65536, Pause(math.inf)], length=1 << 30)
    # gzip bomb: 64 KiB on the wire, 64 MiB inflated
    Reply(body=gzip.compress(bytes(64 << 20)), headers={"Content-Encoding": "gzip"})
    # redirect to an internal host; that host must then see zero requests
    internal = await start_loopback(nursery)
    loopback.serve("/clip.mp4", redirect(internal.url_for("/admin")))
    ...
    assert internal.requests == []

Keep a body that answers more than one request re-iterable (``bytes``, a list, ``drip``):
a generator is used up by the first request.
"""
