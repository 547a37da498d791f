"""Control API over real HTTP: token, Host check, no CORS, JSON errors for every bad request,
style and params visible in /status, and no request (malformed or hostile) stops the daemon."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import threading

import pytest
from conftest import ApiClient, make_config, wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stylecam import cli
from stylecam.api import MAX_BODY
from stylecam.service import Service

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def daemon(catalogue):
    """One daemon for the module (the built-in demo input, real model, API on a free port, CUDA
    asked first)."""
    cfg = make_config(input={"source": "demo"}, processing={"providers": ["cuda", "cpu"]},
                      output={"size": "256x144", "fps": 10.0},
                      style={"name": "starry_night", "transition_ms": 0})
    svc = Service(cfg, catalogue, outputs=["null"], token=TOKEN).start()
    wait_for(lambda: svc.pipeline.stats.frames > 0, what="the first frame")
    yield svc
    svc.stop()


@pytest.fixture
def client(daemon) -> ApiClient:
    return ApiClient(daemon.api.port, TOKEN)


def assert_json_error(status, headers, body, code):
    assert status == code, body
    assert headers["content-type"] == "application/json"
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]


# -- token ---------------------------------------------------------------------------------------
def test_requests_need_the_token(client):
    status, headers, body = client.get("/status", token=None)
    assert_json_error(status, headers, body, 401)
    assert "stylecam token" in body["error"]
    assert_json_error(*client.get("/status", token="wrong"), 401)
    assert_json_error(*client.post("/style", {"name": "udnie"}, token=TOKEN[:-1]), 401)
    assert TOKEN not in json.dumps(body)


def test_token_works_as_bearer_or_stylecam_header(client):
    assert client.get("/status")[0] == 200
    status, _, body = client.get("/status", token=None, headers={"X-Stylecam-Token": TOKEN})
    assert status == 200 and body["frames"] > 0


def test_token_file_is_created_private_and_printed_by_stylecam_token(catalogue, config_dir, capsys):
    svc = Service(make_config(), catalogue, outputs=["null"])  # no token given: from the config dir
    try:
        path = config_dir / "token"
        assert path.exists()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert path.read_text().strip() == svc.api.token and len(svc.api.token) >= 24
        assert cli.main(["token"]) == 0
        assert capsys.readouterr().out.strip() == svc.api.token
    finally:
        svc.stop()  # never started: stopping must not hang


def test_a_service_that_never_started_stops_at_once(catalogue):
    svc = Service(make_config(), catalogue, outputs=["null"], token=TOKEN)
    done = threading.Event()
    threading.Thread(target=lambda: (svc.stop(), done.set()), daemon=True).start()
    assert done.wait(10), "Service.stop() hung on a daemon that never started"


# -- Host check, CORS --------------------------------------------------------------------------------
@pytest.mark.parametrize("host, code", [
    ("evil.example", 403), ("evil.example:{port}", 403), ("127.0.0.1.nip.io:{port}", 403),
    ("localhost.evil.example", 403), ("", 403),
    ("127.0.0.1:{port}", 200), ("localhost:{port}", 200), ("LOCALHOST", 200), ("[::1]:{port}", 200),
])
def test_host_header_must_name_loopback(client, host, code):
    status, headers, body = client.get("/status", headers={"Host": host.format(port=client.port)})
    assert status == code
    if code == 403:
        assert_json_error(status, headers, body, 403)
        assert "Host header" in body["error"]


def test_no_cors_headers_are_ever_sent(client):
    origin = {"Origin": "http://evil.example"}
    for status, headers, _ in (client.get("/status", headers=origin),
                               client.post("/params", {"mirror": False}, headers=origin),
                               client.request("OPTIONS", "/style", headers={
                                   **origin, "Access-Control-Request-Method": "POST"})):
        assert not [h for h in headers if h.startswith("access-control-")]
    assert status >= 400  # the preflight fails


# -- the daemon's state through the API ------------------------------------------------------------
def test_status_exposes_provider_and_skipped_reasons(client):
    status, _, body = client.get("/status")
    assert status == 200
    assert body["provider"] == "cpu"
    # plain onnxruntime has no CUDA; onnxruntime-gpu (what CI installs) has it but no GPU to run on
    reason = body["providers_skipped"]["cuda"]
    assert "not in this onnxruntime build" in reason or "fell back to CPUExecutionProvider" in reason
    assert body["api_port"] == client.port
    assert body["output_size"] == "256x144" and body["state"] == "running"
    for key in ("fps", "latency_ms", "stage_ms", "processing_size", "dropped_frames", "input", "outputs"):
        assert key in body


def test_style_switch_is_visible_in_status(client):
    status, _, body = client.post("/style", {"name": "the_scream", "transition_ms": 0})
    assert status == 200 and body == {"style": "the_scream"}
    assert client.get("/status")[2]["style"] == "the_scream"
    _, _, styles = client.get("/styles")
    assert styles["current"] == "the_scream"
    assert {"starry_night", "the_scream"} <= {s["name"] for s in styles["styles"]}
    client.post("/style", {"name": "starry_night"})
    assert client.get("/status")[2]["style"] == "starry_night"


def test_params_are_applied_and_visible_in_status(client):
    change = {"strength": 0.5, "mirror": True, "smoothing": "ema", "preserve_color": True,
              "target_fps": 12, "enabled": True, "region": "background", "sharpen": 1.2}
    status, _, body = client.post("/params", change)
    assert status == 200 and body == {"applied": change}
    now = client.get("/status")[2]
    assert {k: now[k] for k in change} == change
    client.post("/params", {"strength": 1.0, "mirror": False, "smoothing": "off",
                            "preserve_color": False, "target_fps": 15, "region": "all", "sharpen": 0.6})


BAD_REQUESTS = [
    ("POST", "/style", b"{not json", 400, "not valid JSON"),
    ("POST", "/style", b"\xff\xfe", 400, "not valid JSON"),
    ("POST", "/style", b"[" * 60000, 400, "not valid JSON"),
    ("POST", "/style", json.dumps({"name": "udnie", "colour": 1}).encode(), 400, "unknown field(s) colour"),
    ("POST", "/style", json.dumps({"name": 5}).encode(), 400, "name: expected str"),
    ("POST", "/style", json.dumps({}).encode(), 400, "missing field 'name'"),
    ("POST", "/style", json.dumps({"name": "nope"}).encode(), 404, "unknown style 'nope'; known styles"),
    ("POST", "/style", json.dumps({"name": "udnie", "transition_ms": -1}).encode(), 400, "transition_ms"),
    ("POST", "/style", json.dumps({"name": "udnie", "transition_ms": True}).encode(), 400, "boolean"),
    ("POST", "/style", json.dumps({"name": "udnie", "transition_ms": 1.5}).encode(), 400, "expected int"),
    ("POST", "/params", json.dumps({"strength": "high"}).encode(), 400, "strength: expected"),
    ("POST", "/params", json.dumps({"strength": 2}).encode(), 400, "between 0 and 1"),
    ("POST", "/params", b'{"strength": NaN}', 400, "between 0 and 1"),
    ("POST", "/params", json.dumps({"smoothing": "blur"}).encode(), 400, "off, ema, flow"),
    ("POST", "/params", json.dumps({"region": "face"}).encode(), 400, "all, background, person"),
    ("POST", "/params", json.dumps({"target_fps": 0}).encode(), 400, "target_fps"),
    ("POST", "/params", json.dumps({"mirror": 1}).encode(), 400, "mirror: expected bool"),
    ("POST", "/params", json.dumps({"sharpen": 2.5}).encode(), 400, "sharpen: must be between 0 and 2"),
    ("POST", "/params", json.dumps([1, 2]).encode(), 400, "JSON object"),
    ("POST", "/params", b'"text"', 400, "JSON object"),
    ("GET", "/style", None, 405, "not allowed"),
    ("DELETE", "/status", None, 405, "not allowed"),
    ("PUT", "/params", b"{}", 405, "not allowed"),
    ("GET", "/nope", None, 404, "no endpoint"),
    ("GET", "/../../etc/passwd", None, 404, "no endpoint"),
    ("PATCH", "/status", None, 501, "Unsupported method"),
    ("POST", "/rtmp/start", json.dumps({"server": 5}).encode(), 400, "server: expected str"),
    ("POST", "/rtmp/start", json.dumps({"colour": 1}).encode(), 400, "unknown field(s) colour"),
    ("POST", "/rtmp/start", json.dumps({"url": "http://example.com/app/k"}).encode(), 400, "must start with rtmp://"),
]


@pytest.mark.parametrize("method, path, raw, code, message", BAD_REQUESTS,
                         ids=[f"{m} {p} {code}" for m, p, _, code, _ in BAD_REQUESTS])
def test_bad_requests_get_a_json_error(client, method, path, raw, code, message):
    status, headers, body = client.request(method, path, raw=raw)
    assert_json_error(status, headers, body, code)
    assert message in body["error"]


def test_oversized_body_is_refused_without_reading_it(client):
    with socket.create_connection(("127.0.0.1", client.port), timeout=10) as s:
        s.sendall(f"POST /params HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                  f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        reply = _read_all(s)
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert "body too large" in json.loads(payload)["error"]


def test_a_refused_request_body_is_not_read_as_the_next_request(client):
    # a 401 with a body on a keep-alive connection: the body must not be parsed as a request
    body = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", client.port), timeout=10) as s:
        s.sendall(b"POST /params HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 401") and reply.count(b"HTTP/1.1 ") == 1


def test_a_client_that_stalls_mid_request_does_not_block_others(client, daemon, monkeypatch):
    monkeypatch.setattr(daemon.api.server.RequestHandlerClass, "timeout", 2)  # 10 s in the daemon
    with socket.create_connection(("127.0.0.1", client.port), timeout=30) as stalled:
        stalled.sendall(f"POST /params HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                        "Content-Length: 100\r\n\r\n{\"str".encode())
        assert client.get("/status", timeout=5)[0] == 200  # served while the other one hangs
        reply = _read_all(stalled)  # the server gives up on it after a while
    assert reply.startswith(b"HTTP/1.1 408") and b"did not arrive in time" in reply


def test_concurrent_clients_are_all_served(client):
    results = []

    def worker(i):
        if i % 2:
            results.append(client.get("/status")[0])
        else:
            results.append(client.post("/params", {"strength": 1.0})[0])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [200] * 48


def test_second_daemon_on_the_same_port_fails_with_a_clear_message(daemon, catalogue, capsys):
    port = daemon.api.port
    with pytest.raises(OSError) as err:
        Service(make_config(api={"port": port}), catalogue, outputs=["null"], token=TOKEN)
    assert f"cannot listen on 127.0.0.1:{port}" in str(err.value)
    assert "is another stylecam running" in str(err.value) and "--port" in str(err.value)
    # the same from the command line: exit status 2 and the message, no traceback
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        rc = cli.main(["run", "--input", "demo", "--output", "null", "--port", str(port),
                       "--size", "128x72", "--output-size", "256x144"])
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    assert rc == 2
    err_text = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err_text and "Traceback" not in err_text
    assert daemon.pipeline.status()["state"] == "running"  # the first one is unharmed


# -- hostile input: property-based ----------------------------------------------------------------------
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=10)
field_names = st.sampled_from(["name", "transition_ms", "enabled", "strength", "preserve_color",
                               "mirror", "smoothing", "target_fps", "server", "key", "x"])
bodies = st.one_of(json_values, st.dictionaries(field_names, json_values, max_size=4))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/style", "/params", "/status", "/styles", "/rtmp", "/nope"]),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), body=bodies)
def test_random_json_requests_never_crash_the_daemon(client, daemon, path, method, body):
    raw = json.dumps(body, allow_nan=True).encode()
    status, headers, obj = client.request(method, path, raw=raw)
    assert status < 500, obj
    assert headers["content-type"] == "application/json" and obj is not None
    if status >= 400:
        assert isinstance(obj.get("error"), str)
    if path == "/style" and status == 200:
        client.post("/style", {"name": "starry_night"})
    if path == "/params" and status == 200:
        client.post("/params", {"enabled": True, "strength": 1.0, "mirror": False,
                                "smoothing": "off", "target_fps": 15})


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


header_text = st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b)
raw_requests = st.builds(
    lambda method, path, version, headers, body, terminate: (
        method + b" " + path + b" " + version + b"\r\n"
        + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        + (b"\r\n" if terminate else b"") + body),
    method=st.one_of(st.sampled_from([b"GET", b"POST", b"OPTIONS", b"HEAD", b"BREW"]), st.binary(max_size=8)),
    path=st.one_of(st.sampled_from([b"/status", b"/style", b"/params", b"*", b""]), st.binary(max_size=30)),
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/2.0", b"HTTP/x", b""]),
    headers=st.lists(st.tuples(
        st.one_of(st.sampled_from([b"Host", b"Authorization", b"Content-Length", b"X-Stylecam-Token",
                                   b"Transfer-Encoding"]), header_text),
        st.one_of(st.sampled_from([b"127.0.0.1", b"Bearer " + TOKEN.encode(), b"-1", b"99999999999",
                                   b"abc", b"chunked"]), header_text)), max_size=5),
    body=st.binary(max_size=200),
    terminate=st.booleans())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.one_of(raw_requests, st.binary(max_size=300)))
def test_malformed_http_never_crashes_the_daemon(client, daemon, raw):
    with socket.create_connection(("127.0.0.1", client.port), timeout=15) as s:
        try:
            s.sendall(raw)
            s.shutdown(socket.SHUT_WR)  # no more bytes: the server must not wait for them
        except OSError:
            pass
        reply = _read_all(s)
    if reply:
        head, _, payload = reply.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.") and b" 200 " not in head.split(b"\r\n")[0] and payload \
                and not raw.startswith(b"HEAD"):
            assert b"application/json" in head
            # keep-alive: more answers may follow the first; read only the first JSON value
            obj, _ = json.JSONDecoder().raw_decode(payload.decode())
            assert isinstance(obj["error"], str)
    assert client.get("/status")[0] == 200


def test_daemon_still_serves_and_runs_after_the_abuse(client, daemon):
    before = daemon.pipeline.stats.frames
    wait_for(lambda: daemon.pipeline.stats.frames > before + 3, what="frames to keep coming")
    status, _, body = client.get("/status")
    assert status == 200 and body["state"] == "running"


# -- HTTP edges over a raw socket ------------------------------------------------------------------
def raw_exchange(port: int, data: bytes, timeout: float = 10.0, host: str = "127.0.0.1") -> bytes:
    """Send `data`, read until the daemon closes the connection."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def test_a_malformed_request_line_gets_a_status_line_and_json(daemon):
    for line in (b"GARBAGE\r\n\r\n", b"GET /status\r\n\r\n", b"\x16\x03\x01 hello there friend\r\n\r\n"):
        reply = raw_exchange(daemon.api.port, line)
        assert reply.startswith(b"HTTP/1.1 400 "), reply[:80]
        assert b'{"error": "malformed request line' in reply or b'"error"' in reply


def test_a_chunked_body_is_refused_and_never_read_as_the_next_request(daemon):
    smuggled = b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    reply = raw_exchange(daemon.api.port, b"POST /params HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert reply.startswith(b"HTTP/1.1 411 ")
    assert reply.count(b"HTTP/1.1 ") == 1  # the connection closed: the smuggled request got no answer
    assert b"\r\nConnection: close\r\n" in reply.partition(b"\r\n\r\n")[0] + b"\r\n"  # and the reply said so


@pytest.mark.parametrize("length", [b"-1", b"+5", b"abc", b" 1e3", b"", b"\xb2", b"1_0"])  # \xb2: a superscript 2
def test_a_content_length_that_is_not_a_byte_count_is_a_400(daemon, length):
    reply = raw_exchange(daemon.api.port, b"POST /params HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                         + TOKEN.encode() + b"\r\nContent-Length: " + length + b"\r\n\r\n{}")
    assert reply.startswith(b"HTTP/1.1 400 ") and b"Content-Length" in reply and b"too large" not in reply
    assert reply.count(b"HTTP/1.1 ") == 1  # closed: the "{}" after the headers was not read as a request


def test_keep_alive_requests_on_one_connection_all_answer_in_order(daemon):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", daemon.api.port, timeout=10)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        conn.connect()
        first = conn.sock
        for i in range(60):
            if i % 3 == 2:
                conn.request("POST", "/params", body=json.dumps({"strength": 1.0}), headers=auth)
            else:
                conn.request("GET", "/status" if i % 3 else "/styles", headers=auth)
            resp = conn.getresponse()
            body = json.loads(resp.read())
            assert resp.status == 200 and resp.getheader("Connection") is None, body
            assert ["styles", "fps", "applied"][i % 3] in body
        assert conn.sock is first  # one connection for all of them: none was closed under the client
    finally:
        conn.close()


def test_pipelined_requests_get_one_complete_answer_each_in_order(daemon):
    auth = b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
    body = b'{"strength": 1.0}'
    reply = raw_exchange(daemon.api.port,
                         b"GET /styles HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth + b"\r\n"
                         + b"POST /params HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth
                         + b"Content-Length: %d\r\n\r\n" % len(body) + body
                         + b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + auth + b"\r\n")
    answers = []
    while reply:
        head, _, rest = reply.partition(b"\r\n\r\n")
        length = int(next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length: "))[16:])
        answers.append((head.split(b"\r\n")[0], json.loads(rest[:length])))
        reply = rest[length:]
    assert [line for line, _ in answers] == [b"HTTP/1.1 200 OK"] * 3
    assert "styles" in answers[0][1] and answers[1][1] == {"applied": {"strength": 1.0}} and "fps" in answers[2][1]


def test_a_token_file_readable_by_others_is_tightened_to_0600_at_daemon_start(catalogue, config_dir, caplog):
    import logging

    path = config_dir / "token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("abc123-the-same-token\n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="stylecam.api"):
        svc = Service(make_config(), catalogue, outputs=["null"])  # no token given: the file's
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert svc.api.token == "abc123-the-same-token"  # tightened, not replaced
        assert any("now 0600" in r.message for r in caplog.records)
    finally:
        svc.stop()


def test_a_non_loopback_api_host_needs_allow_remote():
    from stylecam.config import ConfigError

    for host in ("0.0.0.0", "192.168.1.20", "::"):
        with pytest.raises(ConfigError, match="api.host.*api.allow_remote: true"):
            make_config(api={"host": host})
    assert make_config(api={"host": "127.0.0.2"}).api.host == "127.0.0.2"


def test_allow_remote_listens_where_asked_and_says_so_loudly(catalogue, caplog):
    import logging

    from stylecam.api import ControlApi

    api = ControlApi(object(), "0.0.0.0", 0, token=TOKEN)
    try:
        with caplog.at_level(logging.WARNING, logger="stylecam.api"):
            api.start()
        assert api.server.server_address[0] == "0.0.0.0"
        assert any("0.0.0.0" in r.message and "other machines" in r.message for r in caplog.records)
    finally:
        api.stop()


def test_an_address_not_on_this_machine_is_its_own_error():
    from stylecam.api import ControlApi

    with pytest.raises(OSError, match="api.host '10.255.255.1' is not an address of this machine"):
        ControlApi(object(), "10.255.255.1", 0, token=TOKEN)


def _lan_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_allow_remote_on_every_interface_answers_remote_clients_by_ip_not_by_name(catalogue, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="stylecam.api"):
        svc = Service(make_config(api={"host": "0.0.0.0", "allow_remote": True}), catalogue,
                      outputs=["null"], token=TOKEN).start()
    try:
        port = svc.api.port
        assert any(f"0.0.0.0:{port} (every interface)" in r.message for r in caplog.records)
        assert svc.api.netloc == f"127.0.0.1:{port}"  # the panel link a local browser can open
        ask = "GET /status HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer " + TOKEN + "\r\nConnection: close\r\n\r\n"
        lan = _lan_address() or "127.0.0.1"
        # a remote client names the address it dialled; a host name is still refused (DNS rebinding)
        assert raw_exchange(port, ask.format(f"{lan}:{port}").encode(), host=lan).startswith(b"HTTP/1.1 200 ")
        assert raw_exchange(port, ask.format("[fd00::2]").encode()).startswith(b"HTTP/1.1 200 ")
        assert raw_exchange(port, ask.format(f"evil.example:{port}").encode()).startswith(b"HTTP/1.1 403 ")
        assert raw_exchange(port, ask.format(f"{lan}.nip.io").encode()).startswith(b"HTTP/1.1 403 ")
    finally:
        svc.stop()


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_the_ipv6_loopback_is_a_loopback_host(catalogue, host):
    svc = Service(make_config(api={"host": host}), catalogue, outputs=["null"], token=TOKEN).start()
    try:
        assert svc.api.netloc == f"[::1]:{svc.api.port}"
        with socket.create_connection(("::1", svc.api.port), timeout=10) as s:
            s.sendall(f"GET /status HTTP/1.1\r\nHost: [::1]:{svc.api.port}\r\nAuthorization: Bearer {TOKEN}\r\n"
                      "Connection: close\r\n\r\n".encode())
            assert s.recv(100).startswith(b"HTTP/1.1 200 ")
    finally:
        svc.stop()


@pytest.mark.parametrize("api_yaml, prefix, message", [
    ("host: 0.0.0.0", "config error: ", "api.host: '0.0.0.0' would let other machines reach the control API"),
    ("host: 10.255.255.1\n  allow_remote: true", "stylecam: ", "api.host '10.255.255.1' is not an address of this machine"),
])
def test_stylecam_run_names_the_api_host_key_and_exits_2(tmp_path, capsys, api_yaml, prefix, message):
    config = tmp_path / "config.yaml"
    config.write_text(f"api:\n  port: 0\n  {api_yaml}\n")
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    try:
        rc = cli.main(["run", "--config", str(config), "--input", "demo", "--output", "null"])
    finally:
        signal.signal(signal.SIGINT, handlers[0])
        signal.signal(signal.SIGTERM, handlers[1])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith(prefix) and message in err
    assert "another stylecam" not in err and "Traceback" not in err


def test_every_explained_error_is_a_stylecam_error_and_api_maps_them_in_one_table():
    from stylecam.api import ApiError, status_for
    from stylecam.bench.source import BenchError
    from stylecam.config import ConfigError
    from stylecam.engine import EngineError
    from stylecam.errors import StylecamError
    from stylecam.outputs import OutputError
    from stylecam.rtmp_control import RtmpSettingsError, RtmpUnavailableError
    from stylecam.segment import SegmentError
    from stylecam.styles import StyleError
    from stylecam.stylize import UserError
    from stylecam.training.errors import TrainingError

    for kind in (ConfigError, StyleError, EngineError, OutputError, BenchError, UserError, SegmentError,
                 TrainingError, RtmpSettingsError):
        assert issubclass(kind, StylecamError), kind
    assert [status_for(e("x")) for e in (StyleError, RtmpSettingsError, RtmpUnavailableError, ConfigError)] == \
        [404, 400, 503, 400]
    assert status_for(ApiError(418, "teapot")) == 418
