#!/usr/bin/python3
"""test_console: the web console in a real headless Chromium (Debian chromium + chromium-driver,
driven by python3-selenium) against the real server and a database cloned from the test template.

A fund manager signs in through the API (session cookie + CSRF token) and proposes a drawdown;
an approver signs in in the browser (password + TOTP), finds it in the inbox with the amount
formatted in Spanish (and in English after the switch), approves it, and the database then holds
the posting; the approver is refused approving a proposal of their own. Prints cmocka-style
summary lines so tests/run.sh counts the results.

Environment (from tests/run.sh): FUNDLEDGER_BIN, FUNDLEDGER_TEST_PGHOST, FUNDLEDGER_TEST_TEMPLATE.
"""
import base64
import datetime
import glob
import hashlib
import hmac
import http.cookiejar
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BIN = os.environ.get("FUNDLEDGER_BIN", "build/fundledger")
PGHOST = os.environ.get("FUNDLEDGER_TEST_PGHOST")
TEMPLATE = os.environ.get("FUNDLEDGER_TEST_TEMPLATE", "fl_template")
DB = "t_browser_console"
PGBIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1] if glob.glob("/usr/lib/postgresql/*/bin") else ""
CONNINFO = "host=%s dbname=%s user=fundledger" % (PGHOST, DB)  # the owner: the test's own checks
# The server and the commands connect as the service role and migrate as the owner, as deployed.
SERVICE = "host=%s dbname=%s user=fundledger_app" % (PGHOST, DB)

# The drawdown the manager proposes, and how the console must show it (docs/console.md, Amounts).
DRAWDOWN = "12345678.90"
SHOWN_ES = "COP 12.345.678,90"
SHOWN_EN = "COP 12,345,678.90"
DRAWDOWN_MINOR = 1234567890


def psql(sql):
    out = subprocess.run([os.path.join(PGBIN, "psql"), "-h", PGHOST, "-U", "fundledger", "-d", DB, "-tAXq",
                          "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def totp(secret_hex, at=None):
    """RFC 6238 HMAC-SHA1, 6 digits, 30 s (the same as the server's liboath)."""
    counter = int((time.time() if at is None else at) // 30)
    mac = hmac.new(bytes.fromhex(secret_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    o = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


class Api:
    """A browser-like API client: session cookie in a jar, CSRF token and Idempotency-Key on writes."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = None

    def call(self, method, path, body=None, idempotent=False, bearer=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.csrf and method != "GET":
            req.add_header("X-CSRF-Token", self.csrf)
        if idempotent:
            req.add_header("Idempotency-Key", str(uuid.uuid4()))
        if bearer:
            req.add_header("Authorization", "Bearer " + bearer)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def login(self, name, password, code=None):
        body = {"name": name, "password": password}
        if code:
            body["totp"] = code
        status, me = self.call("POST", "/v1/session", body)
        assert status == 200, (status, me)
        self.csrf = me["csrf_token"]
        return me


class Harness:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="fl-browser-")
        self.server = None
        self.driver = None

    def start(self):
        subprocess.run([os.path.join(PGBIN, "dropdb"), "-h", PGHOST, "-U", "fundledger", "--if-exists", DB],
                       check=True, capture_output=True)
        subprocess.run([os.path.join(PGBIN, "createdb"), "-h", PGHOST, "-U", "fundledger", "-T", TEMPLATE, DB],
                       check=True, capture_output=True)
        env = dict(os.environ, FUNDLEDGER_DATABASE_URL=SERVICE, FUNDLEDGER_DATABASE_OWNER_URL=CONNINFO,
                   FUNDLEDGER_DATA_DIR=self.tmp,
                   FUNDLEDGER_LOG_LEVEL="warn")
        subprocess.run([BIN, "demo", "load"], env=env, check=True, capture_output=True)
        with open(os.path.join(self.tmp, "demo-credentials.json")) as f:
            self.creds = json.load(f)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env["FUNDLEDGER_LISTEN"] = "127.0.0.1:%d" % port
        self.base = "http://127.0.0.1:%d" % port
        self.log = open(os.path.join(self.tmp, "server.log"), "w")
        self.server = subprocess.Popen([BIN, "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except Exception:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not become ready")
        opts = webdriver.ChromeOptions()
        for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                  "--lang=es-CO", "--window-size=1280,1000"):
            opts.add_argument(a)
        opts.binary_location = "/usr/bin/chromium"
        service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver") \
            if hasattr(webdriver, "ChromeService") else None
        self.driver = webdriver.Chrome(options=opts, service=service) if service else webdriver.Chrome(options=opts)
        self.driver.set_page_load_timeout(30)

    def stop(self):
        """Stops the browser and the server; returns the server's log."""
        if self.driver is not None:
            self.driver.quit()
        log = ""
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
            self.log.close()
            with open(os.path.join(self.tmp, "server.log")) as f:
                log = f.read()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return log


AXE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_modules", "axe-core", "axe.min.js")


def axe_serious(driver, screen):
    """Runs axe-core (npm, installed by .ci/deps.sh from tests/browser/package-lock.json) on the
    page against WCAG 2.1 A and AA; returns the serious and critical violations."""
    if not os.path.exists(AXE):
        raise AssertionError("axe-core is not installed: run `npm ci` in tests/browser (.ci/deps.sh does)")
    with open(AXE) as f:
        driver.execute_script(f.read())
    res = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
        ".then(r => done({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id,"
        " impact: v.impact, nodes: v.nodes.length, target: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))}),"
        " e => done({passes: 0, violations: [{id: 'axe-error: ' + e}]}));")
    # axe really ran: it found rules that pass (labels, contrast, names...), not an empty page.
    assert res["passes"] >= 5, res
    if res["violations"]:
        print("axe on %s: %s" % (screen, json.dumps(res["violations"])))
    bad = [v for v in res["violations"] if v.get("impact") in ("serious", "critical") or v["id"].startswith("axe")]
    return bad


def wait(driver, cond, timeout=20):
    # A screen rebuilt while a condition reads it (language switch, a filter's answer) is retried.
    return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(cond)


def propose_drawdown(h):
    """The manager, signed in with a session, proposes a loan (approved by the committee with its
    token), ticks the conditions and proposes a drawdown. Returns (proposal id, loan id)."""
    m = Api(h.base)
    m.login("manager", h.creds["passwords"]["manager"])
    status, funds = m.call("GET", "/v1/funds")
    assert status == 200, funds
    fund_id = funds["funds"][0]["id"]
    status, ents = m.call("GET", "/v1/funds/%d/entrepreneurs?stage=committee" % fund_id)
    assert status == 200, ents
    ent = ents["entrepreneurs"][0]
    today = datetime.date.today()
    first_due = (today + datetime.timedelta(days=40)).isoformat()
    status, loan = m.call("POST", "/v1/funds/%d/loans" % fund_id, {
        "entrepreneur_id": ent["id"], "principal": "95000000.00", "annual_rate": "0.2400", "payments_per_year": 12,
        "term_count": 12, "first_due_date": first_due, "amortisation": "annuity", "modality": "microcredito",
        "purpose": "Empacadora"}, idempotent=True)
    assert status in (200, 201), loan
    c = Api(h.base)
    status, res = c.call("POST", "/v1/approvals/%d/approve" % loan["proposal_id"] if "proposal_id" in loan
                         else "/v1/approvals/%d/approve" % loan["id"], {}, idempotent=True,
                         bearer=h.creds["tokens"]["committee"])
    assert status == 200 and res["status"] == "approved", res
    loan_id = json.loads(psql("SELECT payload::text FROM proposal WHERE id = %d" % res["id"])).get("loan_id") \
        or int(psql("SELECT max(id) FROM loan"))
    for item in ("signed_agreement", "kyc", "sanctions_screening", "bank_account_verified"):
        status, r = m.call("POST", "/v1/loans/%d/conditions" % loan_id, {"item": item, "done_on": today.isoformat()},
                           idempotent=True)
        assert status in (200, 201), r
    status, prop = m.call("POST", "/v1/loans/%d/disbursements" % loan_id,
                          {"amount": DRAWDOWN, "value_date": today.isoformat()}, idempotent=True)
    assert status in (200, 201), prop
    return prop["id"], loan_id, ent


def browser_login(h, name):
    d = h.driver
    d.get(h.base + "/app/")
    wait(d, EC.presence_of_element_located((By.ID, "login-form")))
    # Keyboard only: type in the labelled fields and submit with Enter.
    d.find_element(By.ID, "login-name").send_keys(name)
    d.find_element(By.ID, "login-password").send_keys(h.creds["passwords"][name])
    if name in h.creds["totp_secrets_hex"]:
        d.find_element(By.ID, "login-totp").send_keys(totp(h.creds["totp_secrets_hex"][name]) + Keys.ENTER)
    else:  # investors, officers, auditors have no second factor
        d.find_element(By.ID, "login-password").send_keys(Keys.ENTER)


def fresh_login(h, name):
    """Ends whatever session the browser holds (the server's too), then signs in as name."""
    d = h.driver
    d.get(h.base + "/app/")
    d.execute_script("const r = await fetch('/v1/session'); if (r.ok) { const m = await r.json();"
                     " await fetch('/v1/session', {method: 'DELETE', headers: {'X-CSRF-Token': m.csrf_token}}); }")
    d.delete_all_cookies()
    browser_login(h, name)


def fmt(decimal, currency="COP", lang="es"):
    """docs/console.md, Amounts: "1234567.89" -> "COP 1.234.567,89" (es) / "COP 1,234,567.89" (en)."""
    sign = "-" if decimal.startswith("-") else ""
    whole, _, frac = decimal.lstrip("-").partition(".")
    grouped = "{:,}".format(int(whole))
    if lang == "es":
        grouped = grouped.replace(",", ".")
    return "%s%s %s%s" % (sign, currency, grouped, ("," if lang == "es" else ".") + frac if frac else "")


def pct_es(rate):
    """A rate of 8 decimals (52000000 = 0.52) as the console shows it in Spanish: "52,00 %"."""
    whole, frac = divmod(rate, 1000000)
    digits = ("%06d" % frac).rstrip("0")
    return "%d,%s %%" % (whole, digits.ljust(2, "0"))


def minor_to_decimal(minor, exponent=2):
    sign = "-" if minor < 0 else ""
    m = abs(minor)
    return "%s%d.%0*d" % (sign, m // 10 ** exponent, exponent, m % 10 ** exponent)


def test_approver_approves_drawdown(h):
    proposal_id, loan_id, ent = propose_drawdown(h)
    # A proposal made by the approver themself (no route lets an approver propose, so it is put in
    # the database directly): the console must show the server's refusal.
    approver_id = int(psql("SELECT id FROM app_user WHERE name = 'approver'"))
    fund_id = int(psql("SELECT fund_id FROM loan WHERE id = %d" % loan_id))
    own_id = int(psql("INSERT INTO proposal (fund_id, kind, payload, amount_minor, currency, proposed_by) "
                      "VALUES (%d, 'journal_entry', '{}', 100, 'COP', %d) RETURNING id" % (fund_id, approver_id)))
    d = h.driver
    browser_login(h, "approver")
    card = wait(d, EC.presence_of_element_located((By.ID, "proposal-%d" % proposal_id)))
    # Spanish by default: the exact amount, the kind, who proposed it, the borrower.
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    amount = card.find_element(By.CSS_SELECTOR, "dd.amount").text
    assert amount == SHOWN_ES, amount
    assert card.find_element(By.CSS_SELECTOR, "dd.kind").text == "Desembolso"
    assert card.find_element(By.CSS_SELECTOR, "dd.proposed-by").text == "manager"
    borrower = card.find_element(By.CSS_SELECTOR, "dd.borrower").text
    assert borrower == ent["name"], (borrower, ent)
    terms = card.find_element(By.CSS_SELECTOR, "dd.terms").text
    assert terms == "Principal COP 95.000.000,00, tasa anual 24,00 %, 12 cuotas (12 por año)", terms
    assert d.find_element(By.ID, "your-limits").text == "Su límite de aprobación: COP 500.000.000,00"
    # Within the limit, and what is left of it: 500.000.000,00 - 12.345.678,90.
    assert card.find_element(By.CSS_SELECTOR, "dd.limit").text == \
        "Dentro de su límite; le queda tras esta propuesta: COP 487.654.321,10"
    # The usury cap on the value date (the database's certified rate) and the margin under it.
    cap = int(psql("SELECT rate FROM usury_rate WHERE modality = 'microcredito' AND current_date BETWEEN valid_from "
                   "AND valid_to ORDER BY valid_from DESC LIMIT 1"))
    usury = card.find_element(By.CSS_SELECTOR, "dd.usury").text
    assert usury.startswith("Tope de usura al ") and usury.endswith(
        ": %s; margen bajo el tope: %s" % (pct_es(cap), pct_es(cap - 24000000))), usury
    # Funding with each tranche's cash, as the ledger holds it (T<id>.CASH).
    for tid, in (r.split("|") for r in psql("SELECT tranche_id FROM loan_funding WHERE loan_id = %d" % loan_id)
                 .splitlines()):
        cash = int(psql("SELECT b.balance_minor FROM account_balance b JOIN account a ON a.id = b.account_id "
                        "WHERE a.code = 'T%s.CASH'" % tid))
        got = card.find_element(By.CSS_SELECTOR, "#funding-%d-%s td.cash" % (loan_id, tid)).text
        assert got == fmt(minor_to_decimal(cash)), (tid, got)
    # The loan's stored schedule, behind a disclosure: every instalment, exact amounts.
    sched = [r.split("|") for r in psql("SELECT no || '|' || principal_minor || '|' || interest_minor FROM "
                                        "loan_schedule WHERE loan_id = %d ORDER BY no" % loan_id).splitlines()]
    card.find_element(By.CSS_SELECTOR, "details summary").send_keys(Keys.ENTER)
    shown = card.find_elements(By.CSS_SELECTOR, "#schedule-%d tbody tr" % proposal_id)
    assert len(shown) == len(sched) == 12, (len(shown), len(sched))
    for (no, pm, im), tr in zip(sched, shown):
        assert tr.find_element(By.CSS_SELECTOR, "td.principal").text == fmt(minor_to_decimal(int(pm))), no
        assert tr.find_element(By.CSS_SELECTOR, "td.interest").text == fmt(minor_to_decimal(int(im))), no
    assert card.find_element(By.CSS_SELECTOR, "dd.drawn").text == "COP 0,00"
    conditions = card.find_element(By.CSS_SELECTOR, "dd.conditions").text
    for item in ("contrato firmado", "conocimiento del cliente", "listas restrictivas", "cuenta bancaria verificada"):
        assert item in conditions, conditions
    # Funding by tranche, as the database holds it (weights in minor units, in position order).
    rows = psql("SELECT t.name || '|' || f.weight_minor FROM loan_funding f JOIN tranche t ON t.id = f.tranche_id "
                "WHERE f.loan_id = %d ORDER BY f.position" % loan_id).splitlines()
    assert rows, "the loan has no funding rows"
    expected = "; ".join("%s: COP %s,%02d" % (name, "{:,}".format(int(w) // 100).replace(",", "."), int(w) % 100)
                         for name, w in (r.split("|") for r in rows))
    assert card.find_element(By.CSS_SELECTOR, "dd.funding").text == expected
    if os.environ.get("FUNDLEDGER_SCREENSHOT_DIR"):  # for a person to look at the screen
        d.save_screenshot(os.path.join(os.environ["FUNDLEDGER_SCREENSHOT_DIR"], "inbox.png"))
    # Accessibility of the inbox (keyboard use is exercised below: approve by Enter on the button).
    assert axe_serious(d, "inbox") == []
    # Oldest first: the cards are in ascending proposal order.
    ids = [int(e.get_attribute("id").split("-")[1]) for e in d.find_elements(By.CSS_SELECTOR, "article.proposal")]
    assert ids == sorted(ids) and proposal_id in ids and own_id in ids, ids
    # English: the same amount with English separators.
    d.find_element(By.ID, "lang-en").click()
    card = wait(d, EC.presence_of_element_located((By.ID, "proposal-%d" % proposal_id)))
    wait(d, lambda drv: drv.find_element(By.CSS_SELECTOR, "#proposal-%d dd.amount" % proposal_id).text == SHOWN_EN)
    assert d.find_element(By.CSS_SELECTOR, "#proposal-%d dd.kind" % proposal_id).text == "Drawdown"
    d.find_element(By.ID, "lang-es").click()
    wait(d, lambda drv: drv.find_element(By.CSS_SELECTOR, "#proposal-%d dd.amount" % proposal_id).text == SHOWN_ES)
    # Approve with the keyboard: focus the button, press Enter.
    btn = d.find_element(By.ID, "approve-%d" % proposal_id)
    btn.send_keys(Keys.ENTER)
    result = wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, "#result-%d[data-kind]" % proposal_id)))
    text = result.text
    status, entry_id = psql("SELECT status || ',' || coalesce(result_entry_id::text, '') FROM proposal WHERE id = %d"
                            % proposal_id).split(",")
    assert status == "approved" and entry_id, (status, entry_id)
    assert text == "Aprobada — Asiento contable #%s" % entry_id, text
    # The posting: the entry's debits are the drawdown, and the loan shows it drawn.
    # docs/fund-operations.md: per funding tranche Dr T.LOANS / Cr T.CASH, and Dr 8590 / Cr 8500.
    debits = int(psql("SELECT sum(amount_minor) FROM journal_line WHERE entry_id = %s AND amount_minor > 0"
                      % entry_id))
    assert debits == 2 * DRAWDOWN_MINOR, debits
    memo = int(psql("SELECT sum(l.amount_minor) FROM journal_line l JOIN account a ON a.id = l.account_id "
                    "WHERE l.entry_id = %s AND a.code = '8590'" % entry_id))
    assert memo == DRAWDOWN_MINOR, memo
    status, loan = Api(h.base).call("GET", "/v1/loans/%d" % loan_id, bearer=h.creds["tokens"]["auditor"])
    assert status == 200 and loan["drawn"] == DRAWDOWN, (status, loan.get("drawn"))
    assert int(psql("SELECT count(*) FROM journal_entry WHERE id = %s" % entry_id)) == 1
    # The approver's own proposal: refused, shown, nothing decided.
    d.find_element(By.ID, "approve-%d" % own_id).send_keys(Keys.ENTER)
    own = wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, "#result-%d[data-kind='error']" % own_id)))
    assert own.get_attribute("data-code") == "self_approval", own.get_attribute("data-code")
    assert own.text.startswith("Error: "), own.text
    assert psql("SELECT status FROM proposal WHERE id = %d" % own_id) == "pending"
    # The session is the server's: the cookie is HttpOnly (not visible to scripts).
    assert "fl_session" not in d.execute_script("return document.cookie")
    cookie = d.get_cookie("fl_session")
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict", cookie


def test_logout_and_csp(h):
    d = h.driver
    # Signed in from the previous test: sign out with the keyboard, then the API refuses the old session.
    logout = wait(d, EC.visibility_of_element_located((By.ID, "logout")))
    logout.send_keys(Keys.ENTER)
    wait(d, EC.presence_of_element_located((By.ID, "login-form")))
    assert axe_serious(d, "sign-in") == []
    status = d.execute_script(
        "const r = await fetch('/v1/session', {credentials: 'same-origin'}); return r.status;")
    assert status == 401, status
    # The CSP forbids inline script: an injected inline script does not run.
    ran = d.execute_script(
        "window.__inline = false; const s = document.createElement('script');"
        "s.textContent = 'window.__inline = true'; document.body.append(s); return window.__inline;")
    assert ran is False, ran


def page_status(d, path):
    """The status the server answers the browser's session (cookie, no token) for path."""
    return d.execute_script("const r = await fetch(arguments[0], {credentials: 'same-origin'}); return r.status;",
                            path)


def test_investor_statements(h):
    """The investor sees its own tranches (exact amounts, es and en), a statement summary for a
    past quarter, opens the printable HTML statement in the session and prints it to A4; it cannot
    reach another investor's statement or tranche, by the screen or by URL with its cookie."""
    d = h.driver
    fresh_login(h, "undp")
    org = int(psql("SELECT organisation_id FROM app_user WHERE name = 'undp'"))
    fund_id = int(psql("SELECT min(id) FROM fund"))
    own = [r.split("|") for r in psql("SELECT id || '|' || commitment_minor FROM tranche WHERE investor_id = %d "
                                      "AND fund_id = %d ORDER BY id" % (org, fund_id)).splitlines()]
    assert own, "the demo investor has no tranche"
    wait(d, EC.presence_of_element_located((By.ID, "tranches-%d" % fund_id)))
    shown = [e.get_attribute("id") for e in d.find_elements(By.CSS_SELECTOR, "#tranches-%d tbody tr" % fund_id)]
    assert shown == ["tranche-%s" % tid for tid, _ in own], shown  # its own, nothing of anyone else's
    status, api = Api(h.base).call("GET", "/v1/funds/%d/tranches" % fund_id, bearer=h.creds["tokens"]["undp"])
    assert status == 200
    figures = {str(tr["id"]): tr["figures"] for tr in api["tranches"]}
    for tid, commitment_minor in own:
        row = "#tranche-%s " % tid
        # The commitment as the database holds it, formatted exactly.
        assert d.find_element(By.CSS_SELECTOR, row + "td.commitment").text == \
            fmt(minor_to_decimal(int(commitment_minor))), tid
        for cls, key in (("paid-in", "paid_in"), ("unfunded", "unfunded"), ("capital", "capital"),
                         ("dist-income", "distributions_income"), ("dist-principal", "distributions_principal")):
            assert d.find_element(By.CSS_SELECTOR, row + "td." + cls).text == fmt(figures[tid][key]), (tid, cls)
    # Paid in = what the contributions put on the tranche's CONTRIB account (credit, so negative).
    tid0 = own[0][0]
    contrib = int(psql("SELECT coalesce(-sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON a.id = "
                       "l.account_id WHERE a.code = 'T%s.CONTRIB' AND a.fund_id = %d" % (tid0, fund_id)))
    assert d.find_element(By.CSS_SELECTOR, "#tranche-%s td.paid-in" % tid0).text == fmt(minor_to_decimal(contrib))
    # Its contributions (GET /v1/tranches/{id}/capital-calls), each as the database holds it.
    rows = [r.split("|") for r in psql("SELECT id || '|' || amount_minor || '|' || reference FROM contribution WHERE "
                                       "tranche_id = %s ORDER BY received_date, id" % tid0).splitlines()]
    assert rows, "the demo tranche has no contribution"
    shown = [e.get_attribute("id") for e in d.find_elements(By.CSS_SELECTOR, "#contribs-%s tbody tr" % tid0)]
    assert shown == ["contrib-%s" % r[0] for r in rows], shown
    for cid, minor, ref in rows:
        cells = [c.text for c in d.find_elements(By.CSS_SELECTOR, "#contrib-%s td" % cid)]
        assert cells[0] == ref and cells[2] == fmt(minor_to_decimal(int(minor))), cells
    calls_n = int(psql("SELECT count(*) FROM capital_call WHERE tranche_id = %s" % tid0))
    assert len(d.find_elements(By.CSS_SELECTOR, "#calls-%s tbody tr" % tid0)) == calls_n
    assert axe_serious(d, "investor") == []
    # A past quarter end: the summary of the statement, as the API gives it.
    from selenium.webdriver.support.ui import Select
    sel = Select(d.find_element(By.ID, "period-%d" % fund_id))
    assert len(sel.options) >= 2, [o.get_attribute("value") for o in sel.options]
    period = sel.options[1].get_attribute("value")
    sel.select_by_index(1)
    d.find_element(By.ID, "show-%d" % fund_id).send_keys(Keys.ENTER)
    wait(d, EC.presence_of_element_located((By.ID, "account-%s" % tid0)))
    status, st = Api(h.base).call("GET", "/v1/funds/%d/statements?period_end=%s" % (fund_id, period),
                                  bearer=h.creds["tokens"]["undp"])
    assert status == 200 and st["period_end"] == period, (status, st.get("period_end"))
    tr = [x for x in st["tranches"] if str(x["id"]) == tid0][0]
    for k in ("opening", "contributions", "closing"):
        for col in ("qtd", "itd"):
            got = d.find_element(By.CSS_SELECTOR, "#account-%s-%s td.%s" % (tid0, k, col)).text
            assert got == fmt(tr["capital_account"][col][k]), (k, col, got)
    assert axe_serious(d, "investor statement") == []
    # English: the same commitment with English separators.
    d.find_element(By.ID, "lang-en").click()
    wait(d, lambda drv: drv.find_element(By.CSS_SELECTOR, "#tranche-%s td.commitment" % tid0).text ==
         fmt(minor_to_decimal(int(own[0][1])), lang="en"))
    d.find_element(By.ID, "lang-es").click()
    wait(d, EC.presence_of_element_located((By.ID, "period-%d" % fund_id)))
    # Another investor's statement and tranche: refused for this session, whatever the URL.
    other_org = int(psql("SELECT organisation_id FROM app_user WHERE name = 'partner'"))
    other_tranche = int(psql("SELECT min(id) FROM tranche WHERE investor_id = %d" % other_org))
    assert other_org != org
    assert page_status(d, "/v1/funds/%d/statements?format=html&investor_id=%d" % (fund_id, other_org)) == 403
    assert page_status(d, "/v1/funds/%d/statements?investor_id=%d" % (fund_id, other_org)) == 403
    assert page_status(d, "/v1/funds/%d/statements?format=html&tranche_id=%d" % (fund_id, other_tranche)) == 403
    assert page_status(d, "/v1/tranches/%d" % other_tranche) == 403
    assert page_status(d, "/v1/tranches/%s" % tid0) == 200
    # Opened as a page by its URL too: the browser gets the refusal, not the statement.
    d.get(h.base + "/v1/funds/%d/statements?format=html&investor_id=%d" % (fund_id, other_org))
    body = d.find_element(By.TAG_NAME, "body").text
    assert '"forbidden"' in body and "Corporate" not in body, body[:300]
    # The printable statement, opened from the screen in the session (no bearer token).
    d.get(h.base + "/app/")
    sel = Select(wait(d, EC.presence_of_element_located((By.ID, "period-%d" % fund_id))))
    sel.select_by_value(period)
    link = d.find_element(By.ID, "print-%d" % fund_id)
    assert link.get_attribute("href").endswith("/v1/funds/%d/statements?format=html&period_end=%s" % (fund_id, period))
    link.send_keys(Keys.ENTER)
    wait(d, lambda drv: "format=html" in drv.current_url)
    name = psql("SELECT name FROM organisation WHERE id = %d" % org)
    wait(d, lambda drv: name in drv.find_element(By.TAG_NAME, "body").text)
    # The statement page itself (its own HTML and stylesheet): no serious or critical violation.
    assert axe_serious(d, "statement page") == []
    from selenium.webdriver.common.print_page_options import PrintOptions
    po = PrintOptions()
    po.page_width, po.page_height = 21.0, 29.7  # A4, in centimetres
    pdf = base64.b64decode(d.print_page(po))
    assert pdf.startswith(b"%PDF"), pdf[:10]
    assert b"/MediaBox [0 0 595" in pdf, "not an A4 page"
    if os.environ.get("FUNDLEDGER_SCREENSHOT_DIR"):
        with open(os.path.join(os.environ["FUNDLEDGER_SCREENSHOT_DIR"], "statement.pdf"), "wb") as f:
            f.write(pdf)
    d.back()
    wait(d, EC.presence_of_element_located((By.ID, "tranches-%d" % fund_id)))


def test_transparency_preview_publish(h):
    """The officer previews the next publication (checks, changes, totals against the ledger:
    nothing stored), publishes it, and sees the new version with the hashes the database holds."""
    d = h.driver
    fresh_login(h, "transparency")
    fund_id = int(psql("SELECT min(id) FROM fund"))
    before = int(psql("SELECT count(*) FROM publication WHERE fund_id = %d" % fund_id))
    btn = wait(d, EC.element_to_be_clickable((By.ID, "preview")))
    assert d.find_element(By.ID, "publish").get_attribute("disabled") is not None  # preview first
    assert axe_serious(d, "iati") == []
    btn.send_keys(Keys.ENTER)
    verdict = wait(d, EC.presence_of_element_located((By.ID, "verdict")))
    status, p = Api(h.base).call("GET", "/v1/funds/%d/publications/preview" % fund_id,
                                 bearer=h.creds["tokens"]["transparency"])
    assert status == 200 and p["would_publish"], p
    assert verdict.text == "Se puede publicar: sería la versión %d" % (before + 1), verdict.text
    # Nothing of the preview was kept.
    assert int(psql("SELECT count(*) FROM publication WHERE fund_id = %d" % fund_id)) == before
    if p["problems"]:
        rules = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#problems th.rule")]
        assert rules == [x["rule_id"] for x in p["problems"]], rules
    else:
        assert d.find_element(By.ID, "problems-none").text == "Ninguna verificación encontró problemas."
    written = p["publication"]["transactions"]
    for code, total in p["ledger_totals"].items():
        assert d.find_element(By.CSS_SELECTOR, "#total-%s td.ledger" % code).text == fmt(total), code
        if code in written:
            assert d.find_element(By.CSS_SELECTOR, "#total-%s td.published" % code).text == \
                fmt(written[code]["total"]), code
            assert d.find_element(By.CSS_SELECTOR, "#total-%s td.count" % code).text == str(written[code]["count"])
    # The ledger's incoming commitments (type 11) are the tranches' signed commitments.
    commitments = int(psql("SELECT sum(commitment_minor) FROM tranche WHERE fund_id = %d" % fund_id))
    cancelled = int(psql("SELECT count(*) FROM commitment_cancellation"))
    if cancelled == 0:
        assert d.find_element(By.CSS_SELECTOR, "#total-11 td.ledger").text == fmt(minor_to_decimal(commitments))
    # Disbursements (type 3): the T*.LOANS debits of disbursement entries.
    disbursed = int(psql("SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN journal_entry e ON "
                         "e.id = l.entry_id JOIN account a ON a.id = l.account_id WHERE e.fund_id = %d AND "
                         "e.event_type = 'disbursement' AND a.code LIKE 'T%%.LOANS'" % fund_id))
    assert d.find_element(By.CSS_SELECTOR, "#total-3 td.ledger").text == fmt(minor_to_decimal(disbursed))
    summary = d.find_element(By.ID, "changes-summary").text
    assert summary.startswith("Versión %d frente a " % (before + 1)), summary
    assert axe_serious(d, "iati preview") == []
    # Publish, with the keyboard.
    pub = wait(d, EC.element_to_be_clickable((By.ID, "publish")))
    pub.send_keys(Keys.ENTER)
    res = wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#publish-result[data-kind]")))
    assert res.text == "Publicada la versión %d" % (before + 1), res.text
    version, sha_a, sha_o, creator = psql(
        "SELECT version || '|' || encode(activities_sha256, 'hex') || '|' || encode(organisation_sha256, 'hex') "
        "|| '|' || created_by FROM publication WHERE fund_id = %d ORDER BY version DESC LIMIT 1" % fund_id).split("|")
    assert int(version) == before + 1
    assert int(creator) == int(psql("SELECT id FROM app_user WHERE name = 'transparency'"))
    row = wait(d, EC.presence_of_element_located((By.ID, "version-%s" % version)))
    assert row.find_element(By.CSS_SELECTOR, "code.sha-activities").text == sha_a
    assert row.find_element(By.CSS_SELECTOR, "code.sha-organisation").text == sha_o
    # The download is the stored file: its SHA-256, computed in the browser, is the database's.
    href = row.find_element(By.CSS_SELECTOR, "a.dl-activities").get_attribute("href")
    got = d.execute_script(
        "const b = await (await fetch(arguments[0])).arrayBuffer();"
        "const h = await crypto.subtle.digest('SHA-256', b);"
        "return [...new Uint8Array(h)].map(x => x.toString(16).padStart(2, '0')).join('');", href)
    assert got == sha_a, (got, sha_a)
    assert axe_serious(d, "iati history") == []


def test_auditor_screens(h):
    """The auditor reads the trial balance (totals as the journal lines sum), browses the journal
    by account and date, and reads the audit log."""
    d = h.driver
    fresh_login(h, "auditor")
    fund_id = int(psql("SELECT min(id) FROM fund"))
    wait(d, EC.presence_of_element_located((By.ID, "trial-balance")))
    wait(d, EC.presence_of_element_located((By.ID, "audit")))
    debit = int(psql("SELECT coalesce(sum(b), 0) FROM (SELECT sum(l.amount_minor) AS b FROM journal_line l JOIN "
                     "account a ON a.id = l.account_id WHERE a.fund_id = %d GROUP BY a.id) s WHERE b > 0" % fund_id))
    assert d.find_element(By.CSS_SELECTOR, "#tb-total-COP td.debit").text == fmt(minor_to_decimal(debit))
    assert d.find_element(By.CSS_SELECTOR, "#tb-total-COP td.credit").text == fmt(minor_to_decimal(debit))
    assert axe_serious(d, "auditor") == []
    # The journal of one account from a date: exactly the entries the database has there (first page).
    from selenium.webdriver.support.ui import Select
    acc_id, frm = psql("SELECT a.id || '|' || min(e.effective_date) FROM account a JOIN journal_line l ON "
                       "l.account_id = a.id JOIN journal_entry e ON e.id = l.entry_id WHERE a.fund_id = %d AND "
                       "a.code = '1050' GROUP BY a.id" % fund_id).split("|")
    frm = (datetime.date.fromisoformat(frm) + datetime.timedelta(days=1)).isoformat()
    Select(d.find_element(By.ID, "j-account")).select_by_value(acc_id)
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "j-from"), frm)
    d.find_element(By.ID, "j-show").send_keys(Keys.ENTER)
    wait(d, EC.presence_of_element_located((By.ID, "journal")))
    expected = psql("SELECT DISTINCT e.id FROM journal_entry e JOIN journal_line l ON l.entry_id = e.id WHERE "
                    "l.account_id = %s AND e.effective_date >= '%s' ORDER BY e.id LIMIT 50" % (acc_id, frm)).split()
    shown = []
    for e in d.find_elements(By.CSS_SELECTOR, "#journal th.entry"):
        if e.text.lstrip("#") not in shown:
            shown.append(e.text.lstrip("#"))
    assert sorted(shown, key=int) == sorted(expected, key=int), (shown[:5], expected[:5])
    # An amount on the page is the line's amount in the database.
    line = psql("SELECT l.entry_id || '|' || l.line_no || '|' || l.amount_minor FROM journal_line l JOIN journal_entry e "
                "ON e.id = l.entry_id WHERE l.account_id = %s AND e.effective_date >= '%s' AND l.amount_minor > 0 "
                "ORDER BY l.entry_id LIMIT 1" % (acc_id, frm))
    if line:
        eid, no, amt = line.split("|")
        assert d.find_element(By.CSS_SELECTOR, "#entry-%s-%s td.debit" % (eid, no)).text == \
            fmt(minor_to_decimal(int(amt)))
    assert axe_serious(d, "auditor journal") == []
    # The last verify: the command line's run (recorded in verify_run) is shown; "Run verify now"
    # records a run as the auditor and shows it.
    env = dict(os.environ, FUNDLEDGER_DATABASE_URL=SERVICE, FUNDLEDGER_DATABASE_OWNER_URL=CONNINFO,
               FUNDLEDGER_DATA_DIR=h.tmp, FUNDLEDGER_LOG_LEVEL="warn")
    out = subprocess.run([BIN, "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().endswith("verify: ok"), (out.returncode, out.stdout[-500:])
    cli = psql("SELECT id || '|' || origins_checked || '|' || run_by FROM verify_run WHERE via = 'cli' AND ok "
               "ORDER BY id DESC LIMIT 1").split("|")
    assert len(cli) == 3 and int(cli[1]) == int(psql("SELECT count(*) FROM journal_entry")), cli
    d.get(h.base + "/app/")
    wait(d, EC.presence_of_element_located((By.ID, "verify-last")))
    assert d.find_element(By.ID, "verify-result").text == "Correcto: no se encontró ningún problema"
    assert d.find_element(By.ID, "verify-by").text == "%s (línea de comandos)" % cli[2]
    assert d.find_element(By.ID, "verify-entries").text == cli[1]
    assert d.find_elements(By.ID, "verify-run-%s" % cli[0])
    before = int(psql("SELECT count(*) FROM verify_run"))
    d.find_element(By.ID, "verify-run").send_keys(Keys.ENTER)
    wait(d, lambda drv: drv.find_element(By.ID, "verify-by").text == "auditor (consola)")
    run = psql("SELECT id || '|' || origins_checked || '|' || ok || '|' || problems_total FROM verify_run "
               "WHERE via = 'api' ORDER BY id DESC LIMIT 1").split("|")
    assert int(psql("SELECT count(*) FROM verify_run")) == before + 1
    assert run[2:] == ["true", "0"], run
    assert d.find_element(By.ID, "verify-entries").text == run[1]
    assert d.find_element(By.ID, "verify-result").text == "Correcto: no se encontró ningún problema"
    assert int(psql("SELECT count(*) FROM audit_log WHERE action = 'verify.run' AND object_id = '%s' AND user_id = "
                    "(SELECT id FROM app_user WHERE name = 'auditor')" % run[0])) == 1
    assert axe_serious(d, "auditor verify") == []


def test_manager_screens(h):
    """The fund manager filters the pipeline board (exactly the database's women-led entrepreneurs,
    each in its stage's column), opens an entrepreneur's page, records a repayment and sees its
    allocation (the database's buckets), imports a CSV bank statement with a per-line report,
    proposes a drawdown (pending in the database), and reads PAR and arrears."""
    from selenium.webdriver.support.ui import Select
    d = h.driver
    fund_id = int(psql("SELECT min(id) FROM fund"))
    # An entrepreneur at committee for the loan form (the drawdown test used the demo's one).
    dd = int(psql("SELECT min(id) FROM entrepreneur WHERE fund_id = %d AND stage = 'due_diligence'" % fund_id))
    status, r = Api(h.base).call("POST", "/v1/entrepreneurs/%d/stage" % dd, {"to": "committee"}, idempotent=True,
                                 bearer=h.creds["tokens"]["manager"])
    assert status in (200, 201), r
    fresh_login(h, "manager")
    wait(d, EC.presence_of_element_located((By.ID, "board")))
    wait(d, EC.presence_of_element_located((By.ID, "par")))
    assert axe_serious(d, "manager") == []
    # Pipeline: women-led only, with the keyboard (space ticks the box).
    d.find_element(By.ID, "f-women_led").send_keys(Keys.SPACE)
    d.find_element(By.ID, "f-apply").send_keys(Keys.ENTER)
    rows = [r.split("|") for r in psql("SELECT id || '|' || stage || '|' || name FROM entrepreneur WHERE fund_id = %d "
                                        "AND women_led ORDER BY id" % fund_id).splitlines()]
    assert rows, "no women-led entrepreneur in the demo"
    want = sorted("ent-%s" % i for i, _, _ in rows)
    # Read the ids in one script call: the board is rebuilt when the answer comes.
    wait(d, lambda drv: sorted(drv.execute_script(
        "return [...document.querySelectorAll('#board button')].map(e => e.id)")) == want)
    for i, stage, _ in rows:
        assert d.find_elements(By.CSS_SELECTOR, "#stage-%s #ent-%s" % (stage, i)), (i, stage)
    # The entrepreneur's page.
    d.find_element(By.ID, "ent-%s" % rows[0][0]).send_keys(Keys.ENTER)
    wait(d, lambda drv: drv.find_element(By.ID, "ent-name").text == rows[0][2])
    assert d.find_elements(By.CSS_SELECTOR, "#history-%s tbody tr" % rows[0][0])
    # A repayment on an active loan with something still owed, and its allocation.
    loan_id = int(psql("SELECT min(l.id) FROM loan l WHERE l.fund_id = %d AND l.status = 'active' AND l.drawn_minor > 0 "
                       "AND l.drawn_minor - coalesce((SELECT sum(overdue_principal_minor + current_principal_minor + "
                       "prepayment_minor) FROM repayment r WHERE r.loan_id = l.id), 0) > 100000000" % fund_id))
    today = datetime.date.today().isoformat()
    Select(d.find_element(By.ID, "loan")).select_by_value(str(loan_id))
    d.find_element(By.ID, "op-amount").send_keys("1000000.00")
    d.find_element(By.ID, "op-reference").send_keys("CONSOLE-PAY-1")
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "op-date"), today)
    d.find_element(By.ID, "do-repayment").send_keys(Keys.ENTER)
    wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#loan-result[data-kind='ok'] #op-done")))
    rep = psql("SELECT id || '|' || amount_minor || '|' || fees_minor || '|' || overdue_interest_minor || '|' || "
               "overdue_principal_minor || '|' || current_interest_minor || '|' || current_principal_minor || '|' || "
               "prepayment_minor || '|' || entry_id FROM repayment WHERE loan_id = %d AND reference = 'CONSOLE-PAY-1'"
               % loan_id).split("|")
    rid = rep[0]
    assert int(rep[1]) == 100000000, rep
    assert d.find_element(By.ID, "op-done").text == \
        "Pago registrado #%s: COP 1.000.000,00 — Asiento contable #%s" % (rid, rep[8])
    buckets = ["fees", "overdue_interest", "overdue_principal", "current_interest", "current_principal", "prepayment"]
    for b, minor in zip(buckets, rep[2:8]):
        got = d.find_element(By.CSS_SELECTOR, "#alloc-%s-%s td.amount" % (rid, b)).text
        assert got == fmt(minor_to_decimal(int(minor))), (b, got)
    assert sum(int(m) for m in rep[2:8]) == 100000000
    # The CSV import: one line applied, one refused, each reported.
    csv = "loan_id,amount,value_date,reference\n%d,500000.00,%s,CONSOLE-CSV-1\n999999,1.00,%s,CONSOLE-CSV-2\n" % (
        loan_id, today, today)
    area = d.find_element(By.ID, "csv")
    d.execute_script("arguments[0].value = arguments[1]", area, csv)
    d.find_element(By.ID, "do-import").send_keys(Keys.ENTER)
    summary = wait(d, EC.presence_of_element_located((By.ID, "import-summary")))
    assert summary.text == "Líneas: 2; Aplicadas: 1; Rechazadas: 1; Importe aplicado: COP 500.000,00", summary.text
    assert d.find_element(By.CSS_SELECTOR, "#import-line-2 td.status").text == "aplicada"
    assert d.find_element(By.CSS_SELECTOR, "#import-line-3 td.status").text == "rechazada"
    csv_id = psql("SELECT id FROM repayment WHERE loan_id = %d AND reference = 'CONSOLE-CSV-1' AND amount_minor = 50000000"
                  % loan_id)
    assert csv_id and d.find_element(By.CSS_SELECTOR, "#import-line-2 td.detail").text == "Pago #%s" % csv_id
    assert psql("SELECT count(*) FROM repayment WHERE reference = 'CONSOLE-CSV-2'") == "0"
    # A drawdown proposal on a loan not fully drawn: pending, by the manager, for the exact amount.
    undrawn = psql("SELECT min(id) FROM loan WHERE fund_id = %d AND status = 'active' AND principal_minor - drawn_minor "
                   ">= 100000" % fund_id)
    assert undrawn, "no loan left to draw (test_approver_approves_drawdown leaves one)"
    if undrawn:
        Select(d.find_element(By.ID, "loan")).select_by_value(undrawn)
        amt = d.find_element(By.ID, "op-amount")
        amt.clear()
        amt.send_keys("1000.00")
        d.find_element(By.ID, "do-drawdown").send_keys(Keys.ENTER)
        wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#loan-result[data-kind] p")))
        prop = psql("SELECT id || '|' || status || '|' || amount_minor FROM proposal WHERE kind = 'disbursement' AND "
                    "proposed_by = (SELECT id FROM app_user WHERE name = 'manager') ORDER BY id DESC LIMIT 1").split("|")
        assert prop[1] == "pending" and prop[2] == "100000", prop
        assert d.find_element(By.ID, "op-done").text == "Propuesta #%s: Desembolso COP 1.000,00" % prop[0]
    # A loan proposal from the form: pending in the database with the exact terms.
    Select(d.find_element(By.ID, "lf-entrepreneur")).select_by_value(str(dd))
    d.find_element(By.ID, "lf-principal").send_keys("45000000.00")
    d.find_element(By.ID, "lf-rate").send_keys("0.2250")
    d.find_element(By.ID, "lf-terms").send_keys("18")
    first_due = (datetime.date.today() + datetime.timedelta(days=45)).isoformat()
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "lf-first-due"), first_due)
    d.find_element(By.ID, "lf-purpose").send_keys("Secadero solar")
    d.find_element(By.ID, "lf-submit").send_keys(Keys.ENTER)
    done = wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#loan-form-result[data-kind] p")))
    prop = psql("SELECT id || '|' || status || '|' || amount_minor || '|' || (payload->>'annual_rate') || '|' || "
                "(payload->>'term_count') FROM proposal WHERE kind = 'loan' ORDER BY id DESC LIMIT 1").split("|")
    assert prop[1:] == ["pending", "4500000000", "0.2250", "18"], (prop, done.text)
    loan_new = psql("SELECT id FROM loan WHERE entrepreneur_id = %d AND status = 'proposed'" % dd)
    assert done.text == "Propuesta #%s: Préstamo COP 45.000.000,00, tasa anual 22,50 %% (Préstamo #%s)" % (
        prop[0], loan_new), done.text
    # The schedule preview of loan L (docs/loan-servicing.md): 12,000,000.00 COP at 24 % EA, 12
    # monthly annuity instalments from 2026-02-15, approved 2026-01-15; nothing proposed.
    proposals = psql("SELECT count(*) FROM proposal")
    for fid, text in (("lf-principal", "12000000.00"), ("lf-rate", "0.24"), ("lf-terms", "12")):
        box = d.find_element(By.ID, fid)
        box.clear()
        box.send_keys(text)
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "lf-first-due"), "2026-02-15")
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "lf-approval-date"), "2026-01-15")
    d.find_element(By.ID, "lf-preview").send_keys(Keys.ENTER)
    summary = wait(d, EC.presence_of_element_located((By.ID, "lf-preview-summary")))
    assert summary.text == ("Cuota: COP 1.121.430,11; Intereses totales: COP 1.457.161,36; Tope de usura 52,00 %, "
                            "margen bajo el tope 28,00 %"), summary.text
    assert len(d.find_elements(By.CSS_SELECTOR, "#lf-schedule tbody tr")) == 12
    row1 = [c.text for c in d.find_elements(By.CSS_SELECTOR, "#lf-row-1 td")]
    assert row1 == ["15 de febrero de 2026", "COP 904.379,12", "COP 217.050,99", "COP 1.121.430,11",
                    "COP 11.095.620,88"], row1
    assert d.find_element(By.CSS_SELECTOR, "#lf-row-12 td:last-child").text == "COP 0,00"
    assert psql("SELECT count(*) FROM proposal") == proposals
    # Bad terms: the proposal's error, shown in the preview area.
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "lf-first-due"), "2026-01-10")
    d.find_element(By.ID, "lf-preview").send_keys(Keys.ENTER)
    err = wait(d, EC.presence_of_element_located((By.ID, "lf-preview-error")))
    assert err.text.endswith("(first_due_date)"), err.text
    # PAR and arrears, as the portfolio route computes them.
    status, pf = Api(h.base).call("GET", "/v1/funds/%d/portfolio" % fund_id, bearer=h.creds["tokens"]["manager"])
    assert status == 200
    par30 = d.find_element(By.CSS_SELECTOR, "#par30 td.amount").text
    assert par30 == fmt(pf["par30"]["amount"]), (par30, pf)
    assert d.find_element(By.CSS_SELECTOR, "#par90 td.amount").text == fmt(pf["par90"]["amount"])
    assert axe_serious(d, "manager after actions") == []


def test_console_read_routes(h):
    """The two read routes the console added: the usury cap and margin (exact, negative above the
    cap, null when no cap is certified, 404 for no loan, refused to investors), and the IATI
    preview (transparency officer only; stores nothing)."""
    api = Api(h.base)
    tok = h.creds["tokens"]
    loan_id = int(psql("SELECT min(id) FROM loan WHERE modality = 'microcredito' AND annual_rate = 24000000"))
    status, u = api.call("GET", "/v1/loans/%d/usury?on=2026-06-30" % loan_id, bearer=tok["approver"])
    cap = int(psql("SELECT rate FROM usury_rate WHERE modality = 'microcredito' AND '2026-06-30' BETWEEN valid_from "
                   "AND valid_to ORDER BY valid_from DESC LIMIT 1"))
    assert status == 200 and u["annual_rate"] == "0.2400" and u["on"] == "2026-06-30", (status, u)
    assert u["cap"] == "%d.%04d" % (cap // 100000000, cap % 100000000 // 10000), u
    assert u["margin"] == "%d.%04d" % ((cap - 24000000) // 100000000, (cap - 24000000) % 100000000 // 10000), u
    # A cap below the rate (a year the test certifies): the margin is negative, exactly.
    psql("INSERT INTO usury_rate (modality, valid_from, valid_to, rate, source) VALUES ('microcredito', "
         "'2040-01-01', '2040-12-31', 22123456, 'test')")
    status, u = api.call("GET", "/v1/loans/%d/usury?on=2040-03-01" % loan_id, bearer=tok["auditor"])
    assert status == 200 and u["cap"] == "0.22123456" and u["margin"] == "-0.01876544", u
    assert u["valid_from"] == "2040-01-01" and u["source"] == "test", u
    status, u = api.call("GET", "/v1/loans/%d/usury?on=2000-01-01" % loan_id, bearer=tok["manager"])
    assert status == 200 and u["cap"] is None and u["margin"] is None, u
    assert api.call("GET", "/v1/loans/999999/usury", bearer=tok["approver"])[0] == 404
    assert api.call("GET", "/v1/loans/%d/usury?on=2026-13-01" % loan_id, bearer=tok["approver"])[0] == 400
    assert api.call("GET", "/v1/loans/%d/usury" % loan_id, bearer=tok["undp"])[0] == 403
    # The preview: only the officer; nothing stored, no audit record.
    fund_id = int(psql("SELECT min(id) FROM fund"))
    assert api.call("GET", "/v1/funds/%d/publications/preview" % fund_id, bearer=tok["manager"])[0] == 403
    before = psql("SELECT count(*) || '|' || (SELECT count(*) FROM audit_log) FROM publication")
    status, p = api.call("GET", "/v1/funds/%d/publications/preview" % fund_id, bearer=tok["transparency"])
    assert status == 200 and p["would_publish"] is True and p["refusal"] is None, p
    assert p["publication"]["version"] == int(psql("SELECT coalesce(max(version), 0) + 1 FROM publication "
                                                   "WHERE fund_id = %d" % fund_id)), p["publication"]
    assert psql("SELECT count(*) || '|' || (SELECT count(*) FROM audit_log) FROM publication") == before
    assert api.call("GET", "/v1/funds/999999/publications/preview", bearer=tok["transparency"])[0] == 404


def test_expired_and_idle_sessions_in_browser(h):
    """A session that expired, or went idle, while the page was open: the next call the page makes
    is refused and the console shows the sign-in screen, with nothing of the screen left."""
    d = h.driver
    for why, sql in (("expired", "created_at = now() - interval '9 hours', expires_at = now() - interval '1 hour'"),
                     ("idle", "last_seen_at = now() - interval '1 day'")):
        fresh_login(h, "impact")
        wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "table.data")))
        # The clock moves past the expiry (or the idle limit). The expiry is guarded against any
        # change by a trigger; the owner's test connection steps around it as time passing would.
        n = len(psql("SET session_replication_role = replica; UPDATE web_session SET %s WHERE user_id = (SELECT id "
                     "FROM app_user WHERE name = 'impact') AND ended_at IS NULL RETURNING 1" % sql).split())
        assert n >= 1, (why, n)
        d.find_element(By.ID, "lang-en").click()  # the screen is built again: its calls are refused
        wait(d, EC.presence_of_element_located((By.ID, "login-form")))
        assert not d.find_elements(By.CSS_SELECTOR, "table.data"), why
        assert page_status(d, "/v1/session") == 401, why
        d.find_element(By.ID, "lang-es").click()


def test_cli_password_and_totp(h):
    """`fundledger user password NAME` reads stdin (the old password stops working, the user's
    sessions end); `user totp NAME` prints an otpauth URI whose secret then gives valid codes."""
    env = dict(os.environ, FUNDLEDGER_DATABASE_URL=SERVICE, FUNDLEDGER_DATABASE_OWNER_URL=CONNINFO,
               FUNDLEDGER_DATA_DIR=h.tmp, FUNDLEDGER_LOG_LEVEL="warn")
    a = Api(h.base)
    a.login("auditor", h.creds["passwords"]["auditor"])
    assert a.call("GET", "/v1/session")[0] == 200
    new = "a new password for the auditor"
    out = subprocess.run([BIN, "user", "password", "auditor"], input=new + "\n", env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert a.call("GET", "/v1/session")[0] == 401  # the sessions ended
    assert Api(h.base).call("POST", "/v1/session", {"name": "auditor", "password": h.creds["passwords"]["auditor"]}
                            )[0] == 401
    b = Api(h.base)
    b.login("auditor", new)
    out = subprocess.run([BIN, "user", "password", "auditor"], input="short\n", env=env, capture_output=True,
                         text=True)
    assert out.returncode != 0 and "12" in out.stderr, (out.returncode, out.stderr)
    out = subprocess.run([BIN, "user", "totp", "approver"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    uri = out.stdout.strip()
    prefix = "otpauth://totp/fundledger:approver?secret="
    assert uri.startswith(prefix) and uri.endswith("&issuer=fundledger&algorithm=SHA1&digits=6&period=30"), uri
    b32 = uri[len(prefix):uri.index("&")]
    secret = base64.b32decode(b32 + "=" * (-len(b32) % 8)).hex()
    # Sealed at rest (AES-256-GCM, docs/console.md): neither the raw secret nor its base32 is stored.
    stored = psql("SELECT encode(totp_secret, 'hex') || ' ' || totp_sealed FROM user_credential c JOIN app_user u "
                  "ON u.id = c.user_id WHERE u.name = 'approver'")
    stored_hex, sealed = stored.split(" ")
    assert sealed == "true" and len(stored_hex) == 2 * (12 + 20 + 16), stored
    assert secret not in stored_hex and b32.encode().hex() not in stored_hex, stored
    c = Api(h.base)
    c.login("approver", h.creds["passwords"]["approver"], totp(secret))


def approver_login_fresh_step(h, name):
    """Signs name in with a TOTP code of a step the server has not used yet (no replay)."""
    last = int(psql("SELECT totp_last_step FROM user_credential c JOIN app_user u ON u.id = c.user_id "
                    "WHERE u.name = '%s'" % name) or 0)
    while int(time.time() // 30) <= last:
        time.sleep(1)
    fresh_login(h, name)


def test_write_off_proposal(h):
    """The fund manager proposes a write-off in the browser; the approver (a second person) sees it
    in the inbox with the loan, borrower, principal outstanding, amount, allowance held and used,
    and the loss per tranche bottom-up, exact as formatted; approves it; the database then holds
    the posted entry with exactly those figures. The inbox also shows a tranche proposal's investor,
    seniority, commitment and rates, and a manual entry's lines."""
    from selenium.webdriver.support.ui import Select
    d = h.driver
    fund_id = int(psql("SELECT min(id) FROM fund"))
    loan_id = int(psql("SELECT max(l.id) FROM loan l WHERE l.fund_id = %d AND l.status = 'active' AND "
                       "l.drawn_minor > 1000000000 AND NOT EXISTS (SELECT 1 FROM proposal p WHERE p.status = 'pending' "
                       "AND p.kind = 'write_off' AND (p.payload->>'loan_id')::bigint = l.id)" % fund_id))
    amount = "2500000.00"
    today = datetime.date.today().isoformat()
    fresh_login(h, "manager")
    wait(d, EC.presence_of_element_located((By.ID, "loan")))
    Select(d.find_element(By.ID, "loan")).select_by_value(str(loan_id))
    box = d.find_element(By.ID, "op-amount")
    box.clear()
    box.send_keys(amount)
    d.find_element(By.ID, "op-reason").send_keys("Irrecuperable tras el desplazamiento")
    d.execute_script("arguments[0].value = arguments[1]", d.find_element(By.ID, "op-date"), today)
    d.find_element(By.ID, "do-write-off").send_keys(Keys.ENTER)
    done = wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, "#loan-result[data-kind='ok'] #op-done")))
    pid, status, minor, maker = psql("SELECT id || '|' || status || '|' || amount_minor || '|' || proposed_by FROM "
                                     "proposal WHERE kind = 'write_off' ORDER BY id DESC LIMIT 1").split("|")
    assert status == "pending" and minor == "250000000", (status, minor)
    assert maker == psql("SELECT id FROM app_user WHERE name = 'manager'")
    assert done.text == "Propuesta #%s: Castigo de cartera COP 2.500.000,00" % pid, done.text
    # A tranche proposal and a manual entry, by the manager through the API.
    m = Api(h.base)
    m.login("manager", h.creds["passwords"]["manager"])
    investor = psql("SELECT id || '|' || name FROM organisation WHERE id = (SELECT organisation_id FROM app_user "
                    "WHERE name = 'impact')").split("|")
    status, tp = m.call("POST", "/v1/funds/%d/tranches" % fund_id, {
        "investor_id": int(investor[0]), "name": "Tramo mezzanine 2027", "kind": "mezzanine", "rank": 2,
        "currency": "COP", "commitment": "750000000.00", "return_rate": "0.065", "fee_rate": "0.0125",
        "signed_date": today}, idempotent=True)
    assert status == 201, tp
    # Fund expenses (5000) against expenses payable (2300), as the README's example.
    acc = {}
    for r in psql("SELECT code || '|' || id || '|' || name FROM account WHERE fund_id = %d AND code IN ('5000', "
                  "'2300')" % fund_id).splitlines():
        code, aid, name = r.split("|", 2)
        acc[code] = (aid, name)
    debit_code, credit_code = "5000", "2300"
    status, jp = m.call("POST", "/v1/funds/%d/entries" % fund_id, {
        "effective_date": today, "memo": "Honorarios de auditoría",
        "lines": [{"account_id": int(acc[debit_code][0]), "debit": "4500000.00"},
                  {"account_id": int(acc[credit_code][0]), "credit": "4500000.00"}]}, idempotent=True)
    assert status == 201, jp
    # The approver's inbox.
    approver_login_fresh_step(h, "approver")
    card = wait(d, EC.presence_of_element_located((By.ID, "proposal-%s" % pid)))
    wait(d, EC.presence_of_element_located((By.ID, "loss-%s" % pid)))
    status, pv = Api(h.base).call("GET", "/v1/loans/%d/write-off-preview?amount=%s" % (loan_id, amount),
                                  bearer=h.creds["tokens"]["auditor"])
    assert status == 200, pv
    status, ar = Api(h.base).call("GET", "/v1/loans/%d/arrears" % loan_id, bearer=h.creds["tokens"]["auditor"])
    assert status == 200 and pv["principal_outstanding"] == ar["principal_outstanding"], (pv, ar)
    ent = psql("SELECT e.name FROM entrepreneur e JOIN loan l ON l.entrepreneur_id = e.id WHERE l.id = %d" % loan_id)
    shown = {c: card.find_element(By.CSS_SELECTOR, "dd.%s" % c).text for c in (
        "kind", "amount", "loan", "borrower", "outstanding", "wo-amount", "allowance-held", "allowance-used",
        "loss-beyond")}
    assert shown == {"kind": "Castigo de cartera", "amount": "COP 2.500.000,00", "loan": "#%d" % loan_id,
                     "borrower": ent, "outstanding": fmt(ar["principal_outstanding"]),
                     "wo-amount": "COP 2.500.000,00", "allowance-held": fmt(pv["allowance_held"]),
                     "allowance-used": fmt(pv["allowance_used"]), "loss-beyond": fmt(pv["loss_beyond_allowance"])}, shown
    # The loss per tranche, most junior first (bottom-up), each exact.
    rows = card.find_elements(By.CSS_SELECTOR, "#loss-%s tbody tr" % pid)
    assert [r.get_attribute("id") for r in rows] == ["loss-%s-%d" % (pid, tr["tranche_id"])
                                                      for tr in reversed(pv["tranches"])]
    absorbed_total = 0
    for tr in pv["tranches"]:
        row = card.find_element(By.ID, "loss-%s-%d" % (pid, tr["tranche_id"]))
        assert row.find_element(By.CSS_SELECTOR, "th").text == tr["name"]
        assert row.find_element(By.CSS_SELECTOR, "td.capital").text == fmt(tr["capital"])
        assert row.find_element(By.CSS_SELECTOR, "td.absorbed").text == fmt(tr["absorbed"])
        assert row.find_element(By.CSS_SELECTOR, "td.capital-after").text == fmt(tr["capital_after"])
        absorbed_total += int(tr["absorbed"].replace(".", ""))
    assert absorbed_total == 250000000 and pv["unabsorbed"] == "0.00", pv
    junior = max(pv["tranches"], key=lambda x: x["rank"])
    assert junior["absorbed"] == amount or int(junior["capital_after"].replace(".", "")) == 0, junior
    # The tranche proposal: investor, seniority, commitment, rates.
    tcard = d.find_element(By.ID, "proposal-%d" % tp["id"])
    got = {c: tcard.find_element(By.CSS_SELECTOR, "dd.%s" % c).text for c in (
        "investor", "tranche-name", "seniority", "commitment", "return-rate", "fee-rate")}
    assert got == {"investor": investor[1], "tranche-name": "Tramo mezzanine 2027", "seniority": "2 (mezzanine)",
                   "commitment": "COP 750.000.000,00", "return-rate": "6,50 %", "fee-rate": "1,25 %"}, got
    # The manual entry: its lines with account code and name, debit and credit.
    jcard = d.find_element(By.ID, "proposal-%d" % jp["id"])
    l1 = [c.text for c in jcard.find_elements(By.CSS_SELECTOR, "#line-%d-1 th, #line-%d-1 td" % (jp["id"], jp["id"]))]
    l2 = [c.text for c in jcard.find_elements(By.CSS_SELECTOR, "#line-%d-2 th, #line-%d-2 td" % (jp["id"], jp["id"]))]
    assert l1 == [debit_code, acc[debit_code][1], "COP 4.500.000,00", ""], l1
    assert l2 == [credit_code, acc[credit_code][1], "", "COP 4.500.000,00"], l2
    assert jcard.find_element(By.CSS_SELECTOR, "dd.memo").text == "Honorarios de auditoría"
    assert axe_serious(d, "inbox write-off, tranche, entry") == []
    # Approve the write-off with the keyboard: the posted entry holds exactly what was shown.
    allowance_1190 = psql("SELECT id FROM account WHERE fund_id = %d AND code = '1190'" % fund_id)
    d.find_element(By.ID, "approve-%s" % pid).send_keys(Keys.ENTER)
    result = wait(d, EC.visibility_of_element_located((By.CSS_SELECTOR, "#result-%s[data-kind]" % pid)))
    status, entry_id = psql("SELECT status || ',' || coalesce(result_entry_id::text, '') FROM proposal WHERE id = %s"
                            % pid).split(",")
    assert status == "approved" and entry_id, (status, entry_id, result.text)
    assert result.text == "Aprobada — Asiento contable #%s" % entry_id, result.text
    assert psql("SELECT amount_minor || '|' || entry_id FROM write_off WHERE proposal_id = %s" % pid) == \
        "250000000|%s" % entry_id
    for tr in pv["tranches"]:
        loss = int(psql("SELECT coalesce(sum(l.amount_minor), 0) FROM journal_line l JOIN account a ON "
                        "a.id = l.account_id WHERE l.entry_id = %s AND a.code = 'T%d.LOSS'" % (entry_id, tr["tranche_id"])))
        assert loss == int(tr["absorbed"].replace(".", "")), (tr, loss)
    used = int(psql("SELECT coalesce(sum(amount_minor), 0) FROM journal_line WHERE entry_id = %s AND account_id = %s"
                    % (entry_id, allowance_1190 or "0")))
    assert used == int(pv["allowance_used"].replace(".", "")), (used, pv["allowance_used"])
    loans_cr = int(psql("SELECT -sum(l.amount_minor) FROM journal_line l JOIN account a ON a.id = l.account_id "
                        "WHERE l.entry_id = %s AND a.code LIKE 'T%%.LOANS'" % entry_id))
    assert loans_cr == 250000000, loans_cr
    assert psql("SELECT sum(amount_minor) FROM journal_line WHERE entry_id = %s" % entry_id) == "0"
    # The other two stay pending (nothing decided for them).
    assert psql("SELECT string_agg(status, ',' ORDER BY id) FROM proposal WHERE id IN (%d, %d)"
                % (tp["id"], jp["id"])) == "pending,pending"


def main():
    tests = [test_approver_approves_drawdown, test_logout_and_csp, test_investor_statements,
             test_transparency_preview_publish, test_auditor_screens, test_manager_screens, test_console_read_routes,
             test_expired_and_idle_sessions_in_browser, test_write_off_proposal, test_cli_password_and_totp]
    print("[==========] Running %d test(s)." % len(tests))
    h = Harness()
    failed = []
    try:
        h.start()
        for t in tests:
            print("[ RUN      ] %s" % t.__name__)
            try:
                t(h)
                print("[       OK ] %s" % t.__name__)
            except Exception:
                traceback.print_exc()
                print("[  FAILED  ] %s" % t.__name__)
                failed.append(t.__name__)
    except Exception:
        traceback.print_exc()
        failed = [t.__name__ for t in tests]
    finally:
        log = h.stop()
        # Under `make check SANITIZE=1` the server is built with ASan and UBSan: any report fails.
        if "Sanitizer" in log or "runtime error:" in log:
            failed.append("server_sanitizer_report")
        if failed:
            sys.stdout.write(log[-3000:])
    print("[==========] %d test(s) run." % len(tests))
    print("[  PASSED  ] %d test(s)." % (len(tests) - len(failed)))
    if failed:
        print("[  FAILED  ] %d test(s), listed below:" % len(failed))
        for f in failed:
            print("[  FAILED  ] %s" % f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
