"""Production smoke test against a running `make prod` (called by .ci/prod_envelope.sh).

    python .ci/prod_smoke.py BASE_URL STAFF_EMAIL PASSWORD

1. GET /healthz answers 200 {"status": "ok", ...}.
2. The staff user signs in through /accounts/login/ (CSRF, secure cookies: requests carry the
   X-Forwarded-Proto header a TLS proxy would add).
3. A rating run through the worker: the staff rating page's "Rate"/"Re-rate" button (a POST to
   /billing/rating/run/ for the month with usage) enqueues billing.rating_tasks.rate_month_task;
   the run page must reach "Done" within RATING_TIMEOUT seconds, which only the db_worker
   process can make happen (the web process only queues it).

Standard library only, one small file: adapt step 3 here when the billing pages change.
"""

import http.client
import re
import sys
import time
import urllib.parse
from http.cookies import SimpleCookie

RATING_TIMEOUT = 90
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


class Browser:
    """Just enough of a browser: a cookie jar that also returns Secure cookies (we are the TLS
    proxy's client here), the CSRF header, and no redirect following."""

    def __init__(self, base_url):
        self.base = urllib.parse.urlsplit(base_url)
        self.cookies = {}

    def request(self, method, path, form=None):
        connection = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=30)
        headers = {**PROXY_HEADERS, "Host": self.base.netloc, "Referer": f"https://{self.base.netloc}{path}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            form = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **form}
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        connection.close()
        return response.status, response.headers, text


def step(message):
    print(f"prod smoke: {message}", flush=True)


def fail(message):
    print(f"prod smoke FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main(base_url, email, password):
    browser = Browser(base_url)

    status, _, text = browser.request("GET", "/healthz")
    if status != 200 or '"ok"' not in text:
        fail(f"/healthz → {status} {text[:200]}")
    step("/healthz is ok")

    status, _, _ = browser.request("GET", "/accounts/login/")
    if status != 200 or "csrftoken" not in browser.cookies:
        fail(f"login page → {status}, cookies {sorted(browser.cookies)}")
    status, headers, text = browser.request("POST", "/accounts/login/", {"username": email, "password": password})
    if status != 302 or "sessionid" not in browser.cookies:
        fail(f"sign-in as {email} → {status} {text[:300]}")
    step(f"signed in as {email}")

    status, _, page = browser.request("GET", "/billing/rating/")
    if status != 200:
        fail(f"/billing/rating/ → {status}")
    # The month whose row has the "usage" badge and a rate button.
    months = [
        month
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
        if "text-bg-info" in row
        for month in re.findall(r'name="month" value="(\d{4}-\d{2})"', row)
    ]
    if not months:
        fail("no month with usage to rate on /billing/rating/")
    month = months[0]
    status, headers, text = browser.request("POST", "/billing/rating/run/", {"month": month})
    location = headers.get("Location", "")
    if status != 302 or "/billing/rating/runs/" not in location:
        fail(f"starting a rating run of {month} → {status} {location} {text[:300]}")
    run_path = urllib.parse.urlsplit(location).path
    step(f"rating run of {month} queued: {run_path}")

    deadline = time.monotonic() + RATING_TIMEOUT
    while True:
        status, _, text = browser.request("GET", run_path)
        state = re.search(r'data-testid="rating-progress".*?<span>([^<]+)</span>', text, re.S)
        state = state.group(1).strip() if state else f"HTTP {status}"
        if state == "Done":
            break
        if state == "Failed" or time.monotonic() > deadline:
            fail(f"rating run {run_path} ended {state!r} (is the worker running?)")
        time.sleep(1)
    rated = re.search(r"([\d,]+) / ([\d,]+)", text)
    step(f"rating run of {month} done by the worker ({rated.group(0) if rated else '?'} calls)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
