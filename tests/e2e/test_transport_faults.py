"""Transport failures as a user meets them through real Terraform: a redirect is never followed,
an `http://` endpoint on an HTTPS server, a `ca_certificate` that did not sign the server, a
refused port, and proxies from the environment (NO_PROXY=*, a malformed HTTPS_PROXY, a proxy
that cannot be reached). Every message must say what happened and what to do, with the attempts
and the time they took, and never a proxy password.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from conftest import hcl_string

DS = "intersight_iam_o_auth_token"
BODY = f'data "{DS}" "x" {{}}\noutput "n" {{\n  value = length(data.{DS}.x.results)\n}}\n'


class Listener:
    """A loopback TCP listener that counts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for c in self._held:
            c.close()
        self.sock.close()


@pytest.fixture
def listener():
    l = Listener()
    yield l
    l.close()


def dead_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def failed_plan(wd, env=None) -> tuple[str, float]:
    """Runs `terraform plan`, which must fail; returns its stderr on one line and the seconds taken."""
    wd.init()
    start = time.monotonic()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", env=env or {})
    elapsed = time.monotonic() - start
    assert rc != 0, out
    # Terraform wraps diagnostic text to its idea of the terminal width.
    return " ".join(err.split()), elapsed


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_a_redirect_is_an_error_and_nothing_reaches_the_other_host(sim_factory, workdir_factory, listener, version, proto):
    small = sim_factory(tokens=20)
    target = f"http://127.0.0.1:{listener.port}/api/v1/iam/OAuthTokens?$filter=stolen"
    small.faults({"redirect": {"status": 301, "location": target}})
    wd = workdir_factory(version, proto, small.config(BODY))
    text, _ = failed_plan(wd)
    assert f"data.{DS}.x" in text, text
    assert "Failed to read Intersight iam/OAuthTokens" in text, text
    assert f"answered HTTP 301, a redirect to http://127.0.0.1:{listener.port}, which is not followed" in text, text
    assert "nothing was sent to the other host" in text, text
    assert "stolen" not in text, text
    time.sleep(0.3)
    assert listener.connections == 0, "the redirect was followed"
    by_status = {str(k): v for k, v in small.stats()["by_status"].items()}
    assert by_status == {"301": 1}, by_status


def test_an_http_endpoint_on_the_https_simulator_answers_at_once_with_a_hint(sim_factory, workdir_factory):
    small = sim_factory(tokens=20)
    endpoint = small.endpoint.replace("https://", "http://")
    wd = workdir_factory("1.15", "6", small.config(BODY, endpoint=hcl_string(endpoint)))
    text, elapsed = failed_plan(wd)
    assert "is not HTTP" in text, text
    assert "Use `https://` in `endpoint`" in text, text
    assert "(1 attempt over " in text, text
    assert small.stats()["list_requests"] == 0
    print(f"http:// on the HTTPS simulator: plan failed after {elapsed:.2f} s")


def test_a_ca_certificate_that_did_not_sign_the_server_says_the_given_ca_did_not_match(sim_factory, workdir_factory):
    small = sim_factory(tokens=20)
    other = sim_factory(tokens=1, seed=7)
    wd = workdir_factory("1.15", "5", small.config(BODY, ca_certificate=hcl_string(other.ca_path)))
    text, _ = failed_plan(wd)
    assert "TLS refused the connection" in text, text
    assert "not signed by the CA given in `ca_certificate`" in text, text
    assert "the given CA did not match" in text, text
    assert "give that CA in" not in text, text
    assert small.stats()["requests"] == 0


def test_a_refused_port_fails_fast_naming_attempts_and_time(sim_factory, workdir_factory):
    small = sim_factory(tokens=1)
    port = dead_port()
    wd = workdir_factory("1.15", "6", small.config(BODY, endpoint=hcl_string(f"http://127.0.0.1:{port}")))
    text, elapsed = failed_plan(wd)
    assert f"cannot connect to http://127.0.0.1:{port}" in text, text
    assert "(2 attempts over " in text, text
    assert "Raising `request_timeout` or `max_retries` does not help here" in text, text
    print(f"refused port: plan failed after {elapsed:.2f} s")


def test_no_proxy_star_bypasses_the_proxy_for_an_ip_endpoint(sim_factory, workdir_factory, listener):
    small = sim_factory(tokens=20)
    proxy = f"http://127.0.0.1:{listener.port}"
    wd = workdir_factory("1.15", "6", small.config(BODY))
    wd.init()
    env = {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "*"}
    wd.tf_ok("apply", "-no-color", "-input=false", "-auto-approve", env=env)
    assert wd.outputs()["n"] == 20
    assert listener.connections == 0, "NO_PROXY=* did not bypass the proxy"


def test_a_malformed_https_proxy_is_a_configuration_error_naming_the_variable(sim_factory, workdir_factory):
    small = sim_factory(tokens=1)
    wd = workdir_factory("1.15", "6", small.config(BODY))
    text, _ = failed_plan(wd, env={"HTTPS_PROXY": "http://alice:s3cr3t@proxy.example:notaport"})
    assert "Invalid proxy setting" in text, text
    assert "environment variable HTTPS_PROXY" in text, text
    assert "s3cr3t" not in text and "alice" not in text, text
    assert small.stats()["requests"] == 0


def test_an_unreachable_proxy_is_named_without_its_password(sim_factory, workdir_factory):
    small = sim_factory(tokens=1)
    port = dead_port()
    wd = workdir_factory("1.15", "6", small.config(BODY))
    text, _ = failed_plan(wd, env={"HTTPS_PROXY": f"http://alice:s3cr3t@127.0.0.1:{port}"})
    assert f"through the proxy 127.0.0.1:{port}" in text, text
    assert "list the endpoint's host in NO_PROXY" in text, text
    assert "s3cr3t" not in text, text
    assert small.stats()["requests"] == 0


@pytest.mark.parametrize("version,proto", [("1.15", "6"), ("1.0", "5")])
def test_trace_logs_each_request_and_warn_logs_each_retry_without_the_signature(sim_factory, workdir_factory, version, proto):
    """TF_LOG_PROVIDER=TRACE: one `request` line per HTTP attempt (method, path and query, status,
    bytes, ms, attempt), one WARN `retry` line per retry (cause, delay); no signature or key id."""
    small = sim_factory(tokens=20)
    small.faults({"status_burst": {"count": 1, "status": 503, "retry_after": 0}})
    wd = workdir_factory(version, proto, small.config(BODY))
    wd.init()
    rc, out, err = wd.tf("plan", "-no-color", "-input=false", log_provider="TRACE")
    assert rc == 0, err
    requests = [l for l in err.splitlines() if "provider.terraform-provider-intersight" in l and ": request:" in l]
    retries = [l for l in err.splitlines() if "provider.terraform-provider-intersight" in l and ": retry:" in l]
    assert len(requests) == 2, "\n".join(requests)
    first, second = requests

    def has(line: str, key: str, value: str = "") -> bool:
        # hclog quotes values with spaces or symbols (Terraform versions differ in which).
        return f"{key}={value}" in line or f'{key}="{value}' in line

    for line in requests:
        for key in ("read_id", "bytes", "ms"):
            assert has(line, key), (key, line)
        assert has(line, "method", "GET") and has(line, "path", "/api/v1/iam/OAuthTokens?"), line
        assert "[TRACE]" in line, line
    assert has(first, "status", "503") and has(first, "attempt", "1"), first
    assert has(second, "status", "200") and has(second, "attempt", "2"), second
    assert len(retries) == 1, "\n".join(retries)
    retry = retries[0]
    assert "[WARN]" in retry and has(retry, "cause", "HTTP 503") and has(retry, "delay_ms", "0"), retry
    assert has(retry, "attempt", "1") and has(retry, "path", "/api/v1/iam/OAuthTokens?"), retry
    assert small.stats()["list_requests"] == 2
    for secret in ("Signature", "keyId=", small.rsa_key_id):
        assert secret not in err, secret
