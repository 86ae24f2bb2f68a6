"""Browser truth for the CORS analyzer: what Chromium does vs. what proxylens says.

One headless Chromium and one real ``proxylens proxy`` process for the whole
module. A blank page on one loopback origin fetches an API on another
(``tests/support/cors_origin.py``: same site, different port); each scenario
has its own URL ``/api/<id>`` whose answers (preflight and actual) are fixed
in ``cors_origin.SCENARIOS``. Chromium's outcome of every fetch is recorded,
then the proxy is stopped and its HAR is read.

- ``test_chromium_itself``: Chromium did what the scenario says it does
  (resolved or rejected, preflights and actual requests on the wire as seen
  by the origin, cookies, readable headers). A failure here means a wrong
  scenario, not a proxylens bug.
- ``test_har_holds_every_request``: the harness matched the HAR entries
  (``test_har_keeps_the_method_as_sent``: "patch" stays lowercase, as on the wire).
- ``test_proxylens_agrees_with_chromium``: ``facts.cors`` of every entry
  (verdict, kind, first reason) agrees with Chromium.
- ``test_verdict_table``: the same, all at once, as one readable table.

Run:  /tmp/v/bin/python -m pytest tests/test_cors_browser.py -q
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.support.cors_origin import SCENARIOS, CorsOrigins, Seen, scenario_of
from tests.support.proxyproc import ProxyProcess

LONG_LANG = "a" * 129  # Accept-Language: only safe bytes, but longer than 128
EDGE_LANG = "a" * 128  # exactly 128: still safelisted


@dataclass(frozen=True)
class Case:
    id: str
    resolves: bool                       # what Chromium does: the fetch resolves (True) or rejects
    kind: str                            # facts.cors.kind expected on the actual (non-OPTIONS) entries
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    credentials: str | None = None       # fetch's credentials; "include" makes the case credentialed
    mode: str | None = None
    body: str | None = None
    target: str = "api"                  # "api", "page" (same-origin fetch) or "navigate" (page.goto)
    preflights: int = 0                  # OPTIONS requests Chromium puts on the wire
    actuals: int = 1                     # other requests Chromium puts on the wire
    fetches: int = 1                     # identical fetches in a row (preflight cache)
    reason: tuple[str, ...] = ()         # when blocked: the first reason mentions one of these
    credentials_dependent_preflight: bool = False  # the preflight's outcome depends on credentials mode
    read_header: str | None = None       # response header the page tries to read
    header_value: str | None = None      # what it reads (None: not exposed)
    verdict: str | None = None           # facts.cors.verdict of actual entries when not allowed/blocked

    @property
    def credentialed(self) -> bool:
        return self.credentials == "include"

    @property
    def init(self) -> dict[str, Any]:
        init: dict[str, Any] = {"method": self.method}
        if self.headers:
            init["headers"] = self.headers
        for key in ("credentials", "mode", "body"):
            if getattr(self, key) is not None:
                init[key] = getattr(self, key)
        return init


ACAO = ("Access-Control-Allow-Origin",)
ACAC = ("Access-Control-Allow-Credentials",)
ACAM = ("Access-Control-Allow-Methods",)
INCLUDE = "include"
XT = {"x-trace": "1"}


def simple(id: str, resolves: bool, reason: tuple[str, ...] = (), **kw: Any) -> Case:
    return Case(id, resolves, "simple", reason=reason, **kw)


def pf(id: str, resolves: bool, method: str = "PUT", reason: tuple[str, ...] = (), actual_sent: bool | None = None,
       **kw: Any) -> Case:
    """A preflighted case; the actual request is on the wire when the preflight passed."""
    sent = resolves if actual_sent is None else actual_sent
    return Case(id, resolves, "preflighted", method=method, preflights=1, actuals=1 if sent else 0,
                reason=reason, **kw)


CASES: list[Case] = [
    # --- simple requests: Access-Control-Allow-Origin -------------------------
    simple("simple-acao-origin", True),
    simple("simple-acao-star", True),
    simple("simple-no-acao", False, ACAO),
    simple("simple-acao-wrong-host", False, ACAO),
    simple("simple-acao-other-port", False, ACAO),
    simple("simple-acao-localhost", False, ACAO),
    simple("simple-acao-trailing-slash", False, ACAO),
    simple("simple-acao-list-one-line", False, ACAO),
    simple("simple-acao-two-lines", False, ACAO),
    simple("simple-acao-two-lines-same", False, ACAO),
    simple("simple-acao-null", False, ACAO),
    simple("simple-acao-upper-case", False, ACAO),
    simple("simple-acao-https-scheme", False, ACAO),
    simple("simple-post-text-plain", True, method="POST", body="hello",
           headers={"Content-Type": "text/plain;charset=UTF-8"}),
    simple("simple-post-form-no-acao", False, ACAO, method="POST", body="a=1",
           headers={"Content-Type": "application/x-www-form-urlencoded"}),
    simple("simple-omit-star-with-acac", True, credentials="omit"),
    simple("simple-accept-language-128", True, headers={"Accept-Language": EDGE_LANG}),
    simple("simple-head-acao-star", True, method="HEAD"),
    # --- credentialed simple requests (cookie sid=abc set beforehand) ---------
    simple("cred-acao-star", False, ACAO, credentials=INCLUDE),
    simple("cred-acao-star-no-acac", False, ACAO, credentials=INCLUDE),
    simple("cred-no-acac", False, ACAC, credentials=INCLUDE),
    simple("cred-acac-upper-true", False, ACAC, credentials=INCLUDE),
    simple("cred-acac-yes", False, ACAC, credentials=INCLUDE),
    simple("cred-ok", True, credentials=INCLUDE),
    # --- preflighted: methods -------------------------------------------------
    pf("pf-put-allowed", True),
    pf("pf-put-not-in-acam", False, reason=ACAM),
    pf("pf-put-no-acam", False, reason=ACAM),
    pf("pf-put-acam-lower", False, reason=ACAM),
    pf("pf-delete-allowed", True, method="DELETE"),
    pf("pf-patch-lower-vs-upper", False, method="patch", reason=ACAM),
    pf("pf-patch-upper", True, method="PATCH"),
    pf("pf-patch-lower-vs-lower", True, method="patch"),
    pf("pf-acam-star-omit", True, credentials_dependent_preflight=True),
    pf("pf-acam-star-cred", False, credentials=INCLUDE, reason=ACAM, credentials_dependent_preflight=True),
    pf("pf-cred-ok", True, credentials=INCLUDE),
    pf("pf-cred-preflight-no-acac", False, credentials=INCLUDE, reason=ACAC,
       credentials_dependent_preflight=True),
    # --- preflighted: request headers -----------------------------------------
    pf("pf-xtrace-allowed", True, method="GET", headers=XT),
    pf("pf-xtrace-not-listed", False, method="GET", headers=XT, reason=("x-trace",)),
    pf("pf-xtrace-no-acah", False, method="GET", headers=XT, reason=("x-trace",)),
    pf("pf-acah-upper-case", True, method="GET", headers=XT),
    pf("pf-acah-list-spaces", True, method="GET", headers=XT),
    pf("pf-acah-star-omit", True, method="GET", headers=XT, credentials_dependent_preflight=True),
    pf("pf-acah-star-cred", False, method="GET", headers=XT, credentials=INCLUDE,
       reason=("Access-Control-Allow-Headers", "x-trace"), credentials_dependent_preflight=True),
    # The Fetch standard (and Firefox, Safari) exclude Authorization from ACAH "*" (a "CORS
    # non-wildcard request-header"); Chromium announced the change in 2021 but still lets "*" cover it.
    pf("pf-authorization-acah-star", True, method="GET", headers={"Authorization": "Bearer t0k"},
       credentials_dependent_preflight=True),
    pf("pf-authorization-acah-listed", True, method="GET", headers={"Authorization": "Bearer t0k"}),
    pf("pf-json-allowed", True, method="POST", body="{}", headers={"Content-Type": "application/json"}),
    pf("pf-json-no-acah", False, method="POST", body="{}", headers={"Content-Type": "application/json"},
       reason=("content-type",)),
    pf("pf-accept-unsafe-byte-allowed", True, method="GET", headers={"Accept": 'a"b'}),
    pf("pf-accept-unsafe-byte-no-acah", False, method="GET", headers={"Accept": 'a"b'}, reason=("accept",)),
    pf("pf-accept-language-129", False, method="GET", headers={"Accept-Language": LONG_LANG},
       reason=("accept-language",)),
    pf("pf-content-language-at", True, method="GET", headers={"Content-Language": "en@x"}),
    pf("pf-content-language-at-no-acah", False, method="GET", headers={"Content-Language": "en@x"},
       reason=("content-language",)),
    # --- preflighted: the preflight's status, ACAO, redirect; the actual's ACAO
    pf("pf-status-204", True),
    pf("pf-status-200", True),
    pf("pf-status-404", False, reason=("404", "ok status")),
    pf("pf-status-500", False, reason=("500", "ok status")),
    pf("pf-redirect-302", False, reason=("302", "redirect")),
    pf("pf-no-acao", False, reason=ACAO),
    pf("pf-ok-actual-no-acao", False, reason=ACAO, actual_sent=True),
    Case("pf-cache-max-age", True, "preflighted", method="PUT", headers=XT, preflights=1, actuals=2, fetches=2),
    # --- Access-Control-Expose-Headers (the fetch resolves either way) ----------
    simple("expose-listed", True, read_header="x-custom", header_value="42"),
    simple("expose-missing", True, read_header="x-custom", header_value=None),
    simple("expose-star-omit", True, read_header="x-custom", header_value="42"),
    simple("expose-star-cred", True, credentials=INCLUDE, read_header="x-custom", header_value=None),
    # --- redirects of a simple request (every hop is CORS-checked) -------------
    simple("redirect-both-acao", True, actuals=2),
    simple("redirect-no-acao-on-302", False, ACAO),
    # --- not CORS ---------------------------------------------------------------
    Case("no-cors-mode", True, "no-cors", mode="no-cors", verdict="not-cors"),
    Case("same-origin", True, "same-origin", target="page", verdict="not-cors"),
    Case("navigation", True, "navigation", target="navigate", verdict="not-cors"),
]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
assert set(BY_ID) == {s.split(".", 1)[0] for s in SCENARIOS}, "CASES and cors_origin.SCENARIOS disagree"

FETCH_JS = """async ({url, init, readHeader, times}) => {
  const out = [];
  for (let i = 0; i < times; i++) {
    try {
      const r = await fetch(url, init);
      await r.text();
      out.push({ok: true, status: r.status, type: r.type,
                header: readHeader ? r.headers.get(readHeader) : null});
    } catch (e) {
      out.push({ok: false, error: String(e)});
    }
  }
  return out;
}"""


@dataclass
class Run:
    origins: CorsOrigins
    outcomes: dict[str, list[dict]]          # case id -> one result per fetch
    console: dict[str, list[str]]            # case id -> Chromium's console messages naming its URL
    entries: dict[str, list[dict]]           # case id -> HAR entries of its URLs, in order
    seen: dict[str, list[Seen]]              # case id -> requests the origin received
    all_console: list[str]                   # every console message of the fetching page
    har_path: Path
    proxy_output: str


def browse(origins: CorsOrigins, exe: str, extra_args: list[str], context_args: dict,
           messages: list[str]) -> dict[str, list[dict]]:
    """Run every case in one Chromium; return each case's fetch outcomes."""
    from playwright.sync_api import sync_playwright

    outcomes: dict[str, list[dict]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[*CHROMIUM_ARGS, *extra_args])
        context = browser.new_context(**context_args)
        page = context.new_page()
        page.on("console", lambda m: messages.append(m.text))
        page.goto(origins.api.url("/set-cookie"))       # sid=abc for 127.0.0.1, SameSite=Lax
        page.goto(origins.page.url("/"))
        for case in CASES:
            if case.target == "navigate":
                continue
            server = origins.page if case.target == "page" else origins.api
            outcomes[case.id] = page.evaluate(FETCH_JS, {
                "url": server.url(f"/api/{case.id}?case={case.id}"), "init": case.init,
                "readHeader": case.read_header, "times": case.fetches,
            })
        for case in CASES:
            if case.target == "navigate":
                nav = context.new_page()
                response = nav.goto(origins.api.url(f"/api/{case.id}?case={case.id}"))
                outcomes[case.id] = [{"ok": response is not None and response.ok,
                                      "status": response.status if response else None}]
                nav.close()
        page.wait_for_timeout(200)  # let the last console messages arrive
        context.close()  # writes record_har_path, when recording
        browser.close()
    return outcomes


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    exe = chromium_path()
    tmp = tmp_path_factory.mktemp("cors-browser")
    origins = CorsOrigins()
    proxy = ProxyProcess(tmp / "home", har=tmp / "cors.har")
    messages: list[str] = []
    try:
        outcomes = browse(origins, exe, [f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>"], {},
                          messages)
    finally:
        proxy.stop()
    har = json.loads((tmp / "cors.har").read_text())
    entries: dict[str, list[dict]] = {c.id: [] for c in CASES}
    for entry in har["log"]["entries"]:
        sid = scenario_of(entry["request"]["url"])
        if sid is not None:
            entries.setdefault(sid, []).append(entry)
    console = {c.id: [m for m in messages if f"/api/{c.id}?" in m or f"/api/{c.id}." in m] for c in CASES}
    seen = {c.id: (origins.page if c.target == "page" else origins.api).seen(c.id) for c in CASES}
    yield Run(origins, outcomes, console, entries, seen, messages, tmp / "cors.har", proxy.stdout + proxy.stderr)
    origins.close()


def is_preflight(entry: dict) -> bool:
    return entry["request"]["method"] == "OPTIONS"


def cors_facts(entry: dict) -> dict | None:
    return ((entry.get("_proxylens") or {}).get("facts") or {}).get("cors")


def first_reason(facts: dict | None) -> str:
    reasons = (facts or {}).get("reasons") or []
    return str(reasons[0]) if reasons else ""


def mentions(text: str, needles: tuple[str, ...]) -> bool:
    return any(n.lower() in text.lower() for n in needles)


# --------------------------------------------------------------------------- Chromium


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_chromium_itself(run: Run, case: Case):
    outcomes = run.outcomes[case.id]
    assert len(outcomes) == case.fetches
    for n, got in enumerate(outcomes):
        assert got["ok"] is case.resolves, (
            f"fetch #{n + 1}: Chromium {'resolved' if got['ok'] else 'rejected'}, scenario expects "
            f"{'resolved' if case.resolves else 'rejected'}; {got}; console: {run.console[case.id]}")
        if case.read_header:
            assert got["header"] == case.header_value, got
    if case.mode == "no-cors":
        assert outcomes[0]["type"] == "opaque"

    seen = run.seen[case.id]
    preflights = [s for s in seen if s.method == "OPTIONS"]
    actuals = [s for s in seen if s.method != "OPTIONS"]
    assert (len(preflights), len(actuals)) == (case.preflights, case.actuals), [(s.method, s.path) for s in seen]
    for s in preflights:
        assert s.header("Access-Control-Request-Method") == case.method, "method case is kept"
        assert s.header("Origin") == run.origins.page.origin
        assert s.header("Cookie") is None, "a preflight never carries credentials"
    for s in actuals:
        assert s.method == (case.method if case.target != "navigate" else "GET"), "method case is kept"
        cross_origin = case.target == "api" and case.mode != "no-cors"
        if cross_origin:
            assert s.header("Origin") == run.origins.page.origin
        if cross_origin and not case.credentialed:
            assert s.header("Cookie") is None, "no cookies without credentials: 'include'"
        if case.credentialed:
            assert s.header("Cookie") == "sid=abc", "credentialed requests carry the cookie"


def test_chromium_put_the_expected_headers_on_the_wire(run: Run):
    """The headers Chromium adds itself, on a preflight and on a cross-origin actual request."""
    [pre] = [s for s in run.seen["pf-xtrace-allowed"] if s.method == "OPTIONS"]
    assert pre.header("Access-Control-Request-Headers") == "x-trace"
    assert pre.header("Sec-Fetch-Mode") == "cors"
    [pre] = [s for s in run.seen["pf-json-allowed"] if s.method == "OPTIONS"]
    assert pre.header("Access-Control-Request-Headers") == "content-type"
    [act] = [s for s in run.seen["simple-acao-origin"]]
    assert act.header("Sec-Fetch-Mode") == "cors"
    assert act.header("Sec-Fetch-Site") == "same-site"
    [nc] = run.seen["no-cors-mode"]
    assert nc.header("Sec-Fetch-Mode") == "no-cors"
    assert nc.header("Origin") is None
    [so] = run.seen["same-origin"]
    assert so.header("Sec-Fetch-Site") == "same-origin"
    [nav] = run.seen["navigation"]
    assert nav.header("Sec-Fetch-Mode") == "navigate"


# --------------------------------------------------------------------------- harness


def test_har_holds_every_request(run: Run):
    problems = []
    for case in CASES:
        got = sorted(e["request"]["method"] == "OPTIONS" for e in run.entries[case.id])
        want = sorted(s.method == "OPTIONS" for s in run.seen[case.id])
        if got != want:
            problems.append(f"{case.id}: HAR {got} vs origin {want}")
    assert not problems, "\n".join(problems)


def test_har_keeps_the_method_as_sent(run: Run):
    [entry] = [e for e in run.entries["pf-patch-lower-vs-lower"] if not is_preflight(e)]
    assert [s.method for s in run.seen["pf-patch-lower-vs-lower"]] == ["OPTIONS", "patch"]
    assert entry["request"]["method"] == "patch"


# --------------------------------------------------------------------------- proxylens


def check(run: Run, case: Case) -> list[str]:
    """Everything proxylens' facts.cors gets wrong about one case, as lines."""
    problems: list[str] = []
    entries = run.entries[case.id]
    resolved = all(o.get("ok") for o in run.outcomes[case.id])  # what Chromium did, not what we expected
    expected_verdict = case.verdict or ("allowed" if resolved else "blocked")
    actuals = [e for e in entries if not is_preflight(e)]
    preflights = [e for e in entries if is_preflight(e)]
    for e in actuals:
        facts = cors_facts(e)
        where = f"{e['request']['method']} {e['request']['url']} -> {e['response']['status']}"
        if facts is None:
            problems.append(f"{where}: no facts.cors")
            continue
        if facts.get("verdict") != expected_verdict:
            problems.append(f"{where}: verdict {facts.get('verdict')!r}, Chromium says {expected_verdict!r}"
                            f" (first reason: {first_reason(facts)!r})")
        if facts.get("kind") != case.kind:
            problems.append(f"{where}: kind {facts.get('kind')!r}, expected {case.kind!r}")
        if case.kind in ("simple", "preflighted") and facts.get("origin") != run.origins.page.origin:
            problems.append(f"{where}: origin {facts.get('origin')!r}")
        if case.credentialed and facts.get("credentials") != "include":
            problems.append(f"{where}: credentials {facts.get('credentials')!r}, the request carried a cookie")
        if case.kind == "preflighted" and not facts.get("preflight"):
            problems.append(f"{where}: no facts.cors.preflight")
        if expected_verdict == "blocked" and case.reason and not mentions(first_reason(facts), case.reason):
            problems.append(f"{where}: first reason {first_reason(facts)!r} does not mention any of {case.reason}")
    for e in preflights:
        facts = cors_facts(e)
        where = f"OPTIONS {e['request']['url']} -> {e['response']['status']}"
        if facts is None:
            problems.append(f"{where}: no facts.cors")
            continue
        want = "allowed" if actuals else "blocked"
        verdict = facts.get("verdict")
        excused = (verdict == "unknown" and case.credentials_dependent_preflight
                   and mentions(first_reason(facts), ("credential",)))
        if verdict != want and not excused:
            problems.append(f"{where}: verdict {verdict!r}, expected {want!r} (Chromium "
                            f"{'sent' if actuals else 'did not send'} the actual request; "
                            f"first reason: {first_reason(facts)!r})")
        if facts.get("kind") != "preflight":
            problems.append(f"{where}: kind {facts.get('kind')!r}, expected 'preflight'")
        if (not actuals and verdict == "blocked" and case.reason
                and not mentions(first_reason(facts), case.reason)):
            problems.append(f"{where}: first reason {first_reason(facts)!r} does not mention any of {case.reason}")
    if not actuals and not preflights:
        problems.append("no HAR entries")
    return problems


def row(run: Run, case: Case) -> str:
    chromium = "/".join("resolved" if o.get("ok") else "rejected" for o in run.outcomes[case.id])
    verdicts = []
    reason = ""
    for e in run.entries[case.id]:
        facts = cors_facts(e)
        tag = "OPT" if is_preflight(e) else e["request"]["method"]
        verdicts.append(f"{tag}:{(facts or {}).get('verdict', '-')}/{(facts or {}).get('kind', '-')}")
        reason = reason or first_reason(facts)
    return f"{case.id:32} {chromium:18} {' '.join(verdicts):58} {reason}"


def table(run: Run, only: list[Case] | None = None) -> str:
    header = f"{'scenario':32} {'chromium':18} {'proxylens verdict/kind per entry':58} first reason"
    lines = [header, "-" * len(header)]
    for case in only or CASES:
        bad = check(run, case)
        lines.append(("✗ " if bad else "  ") + row(run, case))
        lines += [f"      {p}" for p in bad]
        if bad and run.console[case.id]:
            lines.append(f"      chromium console: {run.console[case.id][0]}")
    return "\n".join(lines)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_proxylens_agrees_with_chromium(run: Run, case: Case):
    problems = check(run, case)
    assert not problems, "\n" + table(run, [case])


def test_verdict_table(run: Run):
    if any(check(run, c) for c in CASES):
        pytest.fail("proxylens disagrees with Chromium:\n" + table(run), pytrace=False)


# --------------------------------------------------------------------------- analyze on Chromium's own HAR


@pytest.fixture(scope="module")
def chromium_har(tmp_path_factory: pytest.TempPathFactory):
    """The same cases, no proxy: Chromium records its own HAR (Playwright
    record_har_path), and `proxylens analyze --json` judges it offline."""
    import subprocess

    from tests.support.proxyproc import PROXYLENS

    tmp = tmp_path_factory.mktemp("cors-chromium-har")
    origins = CorsOrigins()
    try:
        outcomes = browse(origins, chromium_path(), [], {"record_har_path": str(tmp / "chromium.har")}, [])
    finally:
        origins.close()
    out = subprocess.run([PROXYLENS, "analyze", str(tmp / "chromium.har"), "--json"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    entries: dict[str, list[dict]] = {c.id: [] for c in CASES}
    for entry in report["entries"]:
        sid = scenario_of(entry["url"])
        if sid is not None:
            entries.setdefault(sid, []).append(entry)
    return outcomes, entries


@pytest.mark.parametrize("case", [c for c in CASES if c.target != "navigate"], ids=lambda c: c.id)
def test_analyze_agrees_with_chromium_on_its_own_har(chromium_har, case: Case):
    """For every actual request in Chromium's HAR, the offline verdict is the
    one Chromium reached: allowed when its fetch resolved, blocked when it
    rejected (not-cors for requests CORS does not apply to)."""
    outcomes, entries = chromium_har
    actual = [e for e in entries[case.id] if e["method"] != "OPTIONS"]
    resolved = [o["ok"] or o.get("type") == "opaque" for o in outcomes[case.id]]
    if case.kind in ("no-cors", "same-origin"):
        assert actual and all(e["facts"]["cors"]["verdict"] == "not-cors" for e in actual)
        return
    if not actual:  # Chromium did not record it (a failed preflight leaves no actual request)
        assert not any(resolved), f"{case.id}: Chromium resolved a fetch that its HAR does not show"
        return
    # redirect scenarios record one entry per hop; the last hop decides
    verdicts = [e["facts"]["cors"]["verdict"] for e in actual]
    expected = "allowed" if all(resolved) else "blocked"
    assert verdicts[-1] == expected, (case.id, verdicts, [e["facts"]["cors"]["reasons"][:1] for e in actual])


def test_a_websocket_from_another_origin_is_flagged(tmp_path):
    """WebSockets are not covered by CORS: Chromium opens one to any origin
    that accepts it, and proxylens says the server must check Origin."""
    from playwright.sync_api import sync_playwright

    origins = CorsOrigins()
    proxy = ProxyProcess(tmp_path / "home", har=tmp_path / "ws.har")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=[
                *CHROMIUM_ARGS, f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>"])
            page = browser.new_page()
            page.goto(origins.page.url("/"))
            opened = page.evaluate("""url => new Promise(resolve => {
                const ws = new WebSocket(url);
                ws.onopen = () => { resolve(true); ws.close(); };
                ws.onerror = () => resolve(false);
            })""", origins.api.url("/ws").replace("http://", "ws://"))
            browser.close()
    finally:
        proxy.stop()
        origins.close()
    assert opened is True, "Chromium opened the cross-origin WebSocket (no CORS check applies)"
    (entry,) = [e for e in proxy.har()["log"]["entries"] if e["request"]["url"].endswith("/ws")]
    cors = entry["_proxylens"]["facts"]["cors"]
    assert cors["kind"] == "websocket" and cors["verdict"] == "not-cors"
    assert "cors.websocket-foreign-origin" in [f["rule"] for f in entry["_proxylens"]["findings"]]
