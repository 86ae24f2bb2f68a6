"""Browser truth for the caching analyzer: what Chromium does vs. what proxylens predicts.

One headless Chromium and one real ``proxylens proxy`` process for the whole
module. A blank page on a loopback HTTP origin (``tests/support/cache_origin.py``)
fetches each scenario's URL ``/cache/<id>`` twice in a row (default cache
mode, about 1.5 s apart so that Age/Date arithmetic is unambiguous); all
scenarios run concurrently, each one's two fetches sequentially. The origin
logs every request, so what Chromium did the second time is read off the wire:

- ``cache``: the second fetch never reached the origin;
- ``revalidate``: the second request carried If-None-Match and/or
  If-Modified-Since (which ones is part of the expectation);
- ``refetch``: the second request was unconditional.

For redirect scenarios what counts is whether the redirect URL itself was
requested again (its target always answers ``no-store``). For the
stale-while-revalidate scenario the page reads the second body: the origin
never answers it with 304, so the cached copy's body means Chromium served
it at once and revalidated in the background.

- ``test_chromium_itself``: Chromium did what the scenario says. A failure
  here means a wrong scenario (or a Chromium change), not a proxylens bug.
- ``test_har_holds_every_request``: the harness check (HAR vs. origin log).
- ``test_proxylens_predicts_chromium``: ``facts.caching.browser`` of the
  scenario URL's first HAR entry predicts what Chromium did the second time.
- ``test_prediction_table``: the same, all at once, as one readable table.

Run:  /tmp/v/bin/python -m pytest tests/test_caching_browser.py -q
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM_ARGS, chromium_path
from tests.support.cache_origin import SCENARIOS, CacheOrigin, Seen, scenario_path
from tests.support.proxyproc import ProxyProcess

WAIT_MS = 1500   # between the first fetch's end and the second fetch
MARGIN = 0.5     # seconds of slack when comparing a predicted freshness with the measured gap

INM = "If-None-Match"
IMS = "If-Modified-Since"


@dataclass(frozen=True)
class Case:
    id: str
    did: str                          # the second time: "cache" | "revalidate" | "refetch"
    sent: tuple[str, ...] = ()        # conditional headers of the revalidation (or background one)
    method: str = "GET"
    background: bool = False          # served from cache while revalidating in the background


def cache(id: str, **kw) -> Case:
    return Case(id, "cache", **kw)


def revalidate(id: str, *sent: str, **kw) -> Case:
    return Case(id, "revalidate", sent, **kw)


def refetch(id: str, **kw) -> Case:
    return Case(id, "refetch", **kw)


# What Chromium 156 does on the second fetch, observed by running this module. Chromium's
# rules live in net/http/http_response_headers.cc (GetFreshnessLifetimes) and
# net/http/http_cache_transaction.cc (RequiresValidation, ConditionalizeRequest).
CASES: list[Case] = [
    # fresh for 600 s (RFC 9111 4.2.1)
    cache("max-age"),
    # never stored (RFC 9111 5.2.2.5)
    refetch("no-store"),
    # stored but must be validated before each reuse (RFC 9111 5.2.2.4); validates with the ETag
    revalidate("no-cache-etag", INM),
    # stored, always stale, and nothing to validate with: an unconditional request
    refetch("no-cache-bare"),
    # stale at once; must-revalidate forbids serving it stale; validates with the ETag
    revalidate("max-age-0-must-revalidate-etag", INM),
    # freshness lifetime = Expires - Date = 1 h (RFC 9111 4.2.1)
    cache("expires-future"),
    # already stale, no validator
    refetch("expires-past"),
    # stale, validated with Last-Modified
    revalidate("expires-past-lm", IMS),
    # heuristic freshness: 10% of (Date - Last-Modified) = 1 day (RFC 9111 4.2.2)
    cache("heuristic-lm"),
    # Chromium's heuristic covers 200/203/206 only, and it sends conditionals for cached 200/206 only
    refetch("heuristic-lm-404"),
    # "Vary: *" never matches (RFC 9111 4.1; HttpVaryData::MatchesRequest): a synchronous validation
    revalidate("vary-star", INM),
    # a browser cache is a private cache (RFC 9111 5.2.2.7)
    cache("private"),
    # s-maxage is for shared caches only; no other freshness information: stale, validate
    revalidate("s-maxage-etag", INM),
    # current age 120 + resident time > max-age 60: stale (RFC 9111 4.2.3)
    revalidate("age-over-max-age-etag", INM),
    # 404 is cacheable by default (RFC 9110 15.1) and explicitly fresh for 600 s
    cache("max-age-404"),
    # a new fetch POST is never answered from the HTTP cache (each upload is unique)
    refetch("post-max-age", method="POST"),
    # Chromium: 300/301/308/410 without freshness information are fresh forever (GetFreshnessLifetimes)
    cache("301-plain"),
    # a 302 is not heuristically cacheable (RFC 9110 15.4.3): stored stale, no validator
    refetch("302-plain"),
    # a 302 with explicit freshness is reused (RFC 9111 3)
    cache("302-max-age"),
    # Chromium: "Pragma: no-cache" in a response means no-cache (lifetime 0); validates with Last-Modified
    revalidate("pragma-no-cache-lm", IMS),
    # Chromium: Pragma: no-cache beats max-age=600 (RFC 9111 5.4 gives it no meaning in responses)
    refetch("max-age-pragma-no-cache"),
    # an unparseable max-age is ignored: no freshness information, stale, validate with the ETag
    revalidate("max-age-invalid-etag", INM),
    # immutable changes nothing for a plain second fetch: fresh for 600 s
    cache("immutable"),
    # apparent age = response time - Date = 3600 s > max-age 600: stale at arrival (RFC 9111 4.2.3)
    revalidate("date-skew-etag", INM),
    # no freshness information (heuristic needs Last-Modified): stale, validate
    revalidate("etag-only", INM),
    # Last-Modified after Date: no heuristic freshness, stale, validate with it
    revalidate("lm-future", IMS),
    # Chromium sends conditionals for cached 200/206 only (IsResponseConditionalizable): unconditional
    refetch("no-cache-etag-404"),
    # Chromium: 410 without freshness information is fresh forever
    cache("410-plain"),
    # within stale-while-revalidate (RFC 5861): served from cache, revalidated in the background
    cache("swr-etag", sent=(INM,), background=True),
    # Chromium uses the first max-age, one of the two choices RFC 9111 4.2.1 allows (other: stale)
    cache("max-age-duplicate"),
    # Chromium ignores max-age="600" (RFC 9111 5.2: recipients ought to accept the quoted form)
    refetch("max-age-quoted"),
    # --- beyond the brief's list ----------------------------------------------
    # fresh for 1 s only; the second fetch comes 1.5 s later: stale, validate
    revalidate("max-age-1-etag", INM),
    # Chromium: 308 without freshness information is fresh forever
    cache("308-plain"),
    # a 307 with explicit freshness is reused
    cache("307-max-age"),
    # both validators are sent when both are known (RFC 9110 13.1.3)
    revalidate("no-cache-etag-lm", INM, IMS),
    # no-cache="Set-Cookie" only restricts that field (RFC 9111 5.2.2.4): fresh for 600 s
    cache("no-cache-field-name"),
    # an invalid Expires ("0") means already expired (RFC 9111 5.3); no validator
    refetch("expires-invalid"),
    # max-age wins over Expires (RFC 9111 5.3)
    cache("max-age-over-expires"),
    # directive names are case-insensitive (RFC 9111 5.2)
    cache("max-age-upper-case"),
    # a negative max-age is not delta-seconds: no freshness information, stale, validate with the ETag
    revalidate("max-age-negative-etag", INM),
    # Chromium: must-revalidate turns heuristic freshness off (RFC 9111 4.2.2 would allow it)
    revalidate("must-revalidate-lm", IMS),
    # Vary on a header the second request sends identically: fresh for 600 s
    cache("vary-accept-encoding"),
    # Chromium sends conditionals for cached 200/206 only: no-cache on a 410 means an unconditional refetch
    refetch("no-cache-etag-410"),
]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES), "duplicate case ids"
assert set(BY_ID) == set(SCENARIOS), "CASES and cache_origin.SCENARIOS disagree"

FETCH_TWICE_JS = """async ({cases, waitMs}) => {
  const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));
  const twice = async ({id, url, init}) => {
    const out = {id};
    try {
      out.t0 = Date.now();
      const r1 = await fetch(url, init);
      out.status1 = r1.status;
      out.body1 = await r1.text();
      await sleep(waitMs);
      out.t2 = Date.now();
      const r2 = await fetch(url, init);
      out.status2 = r2.status;
      out.body2 = await r2.text();
    } catch (e) {
      out.error = String(e);
    }
    return out;
  };
  return Promise.all(cases.map(twice));
}"""


@dataclass(frozen=True)
class Outcome:
    """What Chromium did on the second fetch of one scenario, read off the origin's log."""
    did: str                        # "cache" | "revalidate" | "refetch" | "error"
    sent: tuple[str, ...]           # conditional headers of the second request on the wire
    background: bool                # the page got the cached body while the origin got a 2nd request
    requests: int                   # requests for the scenario URL the origin received
    gap: float                      # seconds from the start of the first fetch to the second one
    page: dict                      # the page's record (statuses, bodies, error)

    def __str__(self) -> str:
        text = self.did
        if self.sent:
            text += " " + "+".join("INM" if h == INM else "IMS" for h in self.sent)
        if self.background:
            text += " (in background)"
        return text


def outcome(page: dict, seen: list[Seen]) -> Outcome:
    gap = (page["t2"] - page["t0"]) / 1000 if "t2" in page else 0.0
    if page.get("error") or not seen:
        return Outcome("error", (), False, len(seen), gap, page)
    if len(seen) == 1:
        return Outcome("cache", (), False, 1, gap, page)
    sent = seen[1].conditional
    if not sent:
        return Outcome("refetch", (), False, len(seen), gap, page)
    # The origin renumbers the body on every full answer (and never answers swr-etag with 304):
    # the cached copy's body on a revalidated fetch means Chromium did not wait for the answer.
    background = page.get("body2") == page.get("body1") and SCENARIOS[page["id"]].never_304
    return Outcome("cache" if background else "revalidate", sent, background, len(seen), gap, page)


@dataclass
class Run:
    origin: CacheOrigin
    outcomes: dict[str, Outcome]          # case id -> what Chromium did the second time
    entries: dict[str, list[dict]]        # case id -> HAR entries of its URL (not the redirect target), in order
    har_path: Path
    proxy_output: str


def browse(origin: CacheOrigin, proxy: ProxyProcess) -> list[dict]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=[
            *CHROMIUM_ARGS, f"--proxy-server={proxy.url}", "--proxy-bypass-list=<-loopback>"])
        try:
            page = browser.new_page()
            page.goto(origin.url("/"))
            cases = [{"id": c.id, "url": origin.url(scenario_path(c.id)),
                      "init": {"method": c.method, **({"body": "x"} if c.method == "POST" else {})}}
                     for c in CASES]
            results = page.evaluate(FETCH_TWICE_JS, {"cases": cases, "waitMs": WAIT_MS})
            origin.wait_quiet()   # background revalidations arrive after the page is done
        finally:
            browser.close()
    return results


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    chromium_path()  # fails under CI=true, skips elsewhere, when Chromium is missing
    tmp = tmp_path_factory.mktemp("caching-browser")
    origin = CacheOrigin()
    proxy = ProxyProcess(tmp / "home", har=tmp / "caching.har")
    try:
        results = browse(origin, proxy)
    finally:
        proxy.stop()
    har = json.loads((tmp / "caching.har").read_text())
    entries: dict[str, list[dict]] = {c.id: [] for c in CASES}
    by_url = {origin.url(scenario_path(c.id)): c.id for c in CASES}
    for entry in har["log"]["entries"]:
        if entry["request"]["url"] in by_url:
            entries[by_url[entry["request"]["url"]]].append(entry)
    outcomes = {r["id"]: outcome(r, origin.seen(scenario_path(r["id"]))) for r in results}
    yield Run(origin, outcomes, entries, tmp / "caching.har", proxy.stdout + proxy.stderr)
    origin.close()


# --------------------------------------------------------------------------- Chromium


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_chromium_itself(run: Run, case: Case):
    got = run.outcomes[case.id]
    seen = run.origin.seen(scenario_path(case.id))
    wire = [(s.method, s.conditional) for s in seen]
    assert got.did != "error", f"the page's fetches failed: {got.page}; origin saw {wire}"
    assert (got.did, got.sent, got.background) == (case.did, case.sent, case.background), (
        f"Chromium did {got}, the scenario expects {case.did} {case.sent or ''}"
        f"{' (in background)' if case.background else ''}; origin saw {wire}; page: {got.page}")
    assert got.requests <= 2, f"more than two requests on the wire: {wire}"
    assert all(s.method == case.method for s in seen), wire
    assert not seen[0].conditional, "the first request is unconditional (the cache starts empty)"
    assert got.page["status1"] == got.page["status2"], got.page
    if SCENARIOS[case.id].redirect:
        target = run.origin.seen(scenario_path(case.id) + "/target")
        assert len(target) == 2, "the no-store redirect target is fetched both times"


# --------------------------------------------------------------------------- harness


def test_har_holds_every_request(run: Run):
    problems = []
    for case in CASES:
        got = len(run.entries[case.id])
        want = len(run.origin.seen(scenario_path(case.id)))
        if got != want:
            problems.append(f"{case.id}: {got} HAR entries, origin saw {want} requests")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- proxylens


def caching_facts(entry: dict) -> dict | None:
    return ((entry.get("_proxylens") or {}).get("facts") or {}).get("caching")


def predict(browser: dict, gap: float) -> str:
    """What ``facts.caching.browser`` says happens on a request ``gap`` seconds after the response."""
    if not browser.get("stores"):
        return "refetch"
    fresh = browser.get("fresh_for")
    if fresh is not None and fresh > gap + MARGIN:
        return "cache"
    swr = browser.get("stale_while_revalidate")
    if swr and (fresh or 0) + swr > gap + MARGIN:
        return "cache"
    return str(browser.get("then"))


def expected_header(validators: list[str]) -> str | None:
    if "etag" in validators:
        return INM
    if "last-modified" in validators:
        return IMS
    return None


def where(entry: dict) -> str:
    return f"{entry['request']['method']} {entry['request']['url']} -> {entry['response']['status']}"


def prediction(run: Run, case: Case) -> tuple[str, list[str]]:
    """(proxylens' prediction as a short text, everything wrong with it as lines)."""
    got = run.outcomes[case.id]
    entries = run.entries[case.id]
    if not entries:
        return "-", ["no HAR entry for the scenario URL"]
    entry = entries[0]
    facts = caching_facts(entry)
    if facts is None:
        return "-", [f"no facts.caching on entry {where(entry)}"]
    browser = facts.get("browser")
    if not isinstance(browser, dict):
        return "-", [f"no facts.caching.browser on entry {where(entry)}: {facts}"]
    problems: list[str] = []
    predicted = predict(browser, got.gap)
    validators = list(facts.get("validators") or [])
    # browser.validator is the header the engine will send; the validators list is the fallback.
    header = browser.get("validator") or expected_header(validators)
    text = predicted
    if predicted == "revalidate" or (predicted == "cache" and got.background):
        text += f" {'INM' if header == INM else 'IMS' if header == IMS else '(no validator)'}"
    text += (f"  [stores={browser.get('stores')} fresh_for={browser.get('fresh_for')} then={browser.get('then')}"
             + (f" swr={browser['stale_while_revalidate']}" if "stale_while_revalidate" in browser else "") + "]")
    if predicted != got.did:
        problems.append(f"predicted {predicted!r} for a request {got.gap:.1f} s later, Chromium did {got}")
    elif got.sent and header not in got.sent:
        problems.append(f"validators {validators}: expected Chromium to send {header}, it sent {got.sent}")
    wire = {n.lower() for n in (h["name"] for h in entry["response"]["headers"])}
    actual_validators = [v for v in ("etag", "last-modified") if v in wire]
    if sorted(validators) != sorted(actual_validators):
        problems.append(f"facts.caching.validators {validators}, the response had {actual_validators}")
    if case.method == "POST" and browser.get("stores") is not False:
        problems.append(f"browser.stores {browser.get('stores')!r}: a POST response is not reused by fetch")
    if case.background and browser.get("stale_while_revalidate") != 600:
        problems.append(f"browser.stale_while_revalidate {browser.get('stale_while_revalidate')!r}, expected 600")
    return text, problems


def table(run: Run, only: list[Case] | None = None) -> str:
    header = f"  {'scenario':32} {'chromium did':30} proxylens predicted"
    lines = [header, "-" * 110]
    for case in only or CASES:
        text, problems = prediction(run, case)
        lines.append(("✗ " if problems else "  ") + f"{case.id:32} {run.outcomes[case.id]!s:30} {text}")
        lines += [f"      {p}" for p in problems]
    return "\n".join(lines)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_proxylens_predicts_chromium(run: Run, case: Case):
    _, problems = prediction(run, case)
    assert not problems, "\n" + table(run, [case])


def test_prediction_table(run: Run):
    print("\n" + table(run))
    if any(prediction(run, c)[1] for c in CASES):
        pytest.fail("proxylens' caching predictions disagree with Chromium:\n" + table(run), pytrace=False)


# --------------------------------------------------------------------------- across exchanges


def rule_ids(entry: dict) -> list[str]:
    return [f["rule"] for f in (entry.get("_proxylens") or {}).get("findings", [])]


@pytest.mark.parametrize("case", [c for c in CASES if c.sent], ids=lambda c: c.id)
def test_revalidations_are_paired_with_the_stored_response(run: Run, case: Case):
    """Chromium's conditional request (the second entry) is recognised as a revalidation of the first
    response: facts.caching.revalidation holds what was sent and how the origin answered."""
    second = run.entries[case.id][1]
    revalidation = caching_facts(second)["revalidation"]
    assert revalidation is not None, rule_ids(second)
    sent = {INM: revalidation["if_none_match"], IMS: revalidation["if_modified_since"]}
    assert {h for h, v in sent.items() if v is not None} == set(case.sent)
    assert revalidation["status"] == second["response"]["status"]
    if second["response"]["status"] == 304:
        assert revalidation["outcome"] == "not-modified"
        assert "caching.revalidated" in rule_ids(second)
    else:
        assert revalidation["outcome"] == "modified"


def test_no_cross_exchange_false_alarms_on_chromium_traffic(run: Run):
    """Chromium never sends a request while its stored response is fresh, never skips a validator it
    could use on a stored 200, and its revalidations are answered correctly by the origin: the findings
    that say otherwise must not fire on its traffic."""
    false_alarms = {"caching.fresh-response-refetched", "caching.validator-not-used",
                    "caching.not-modified-validator-mismatch", "caching.full-response-to-matching-condition"}
    fired = [(case_id, i, rule) for case_id, entries in run.entries.items() for i, entry in enumerate(entries)
             for rule in rule_ids(entry) if rule in false_alarms]
    # The one true positive: swr-etag's origin never answers 304 (so the page can tell the cached body
    # apart), and Chromium's background If-None-Match matched the current ETag.
    assert fired == [("swr-etag", 1, "caching.full-response-to-matching-condition")], fired
