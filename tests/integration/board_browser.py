#!/usr/bin/python3
"""The reception board in a real browser (headless Chromium, Selenium),
driven by t_board.sh, which starts Redis, the proxy and two boards and
reads what this prints: "ok<TAB>what" or "bad<TAB>what" a check, or
"skip<TAB>why" when Chromium cannot start here.

Environment: BOARD_URL (loopback, no token), BOARD_TOKEN_URL (with
--tokens), TOKEN_ALL, TOKEN_NORTHLAKE, CTL, REDIS_PORT, REDIS_DIR, SIP_PORT,
SIPSEND, SIPDIR, FD_RUN, SCREENSHOT (where to save one).
"""
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

E = os.environ


def say(kind, text):
    print(kind + "\t" + text.replace("\n", " "), flush=True)


def check(text, cond):
    say("ok" if cond else "bad", text)
    return cond


def redis(*args):
    return subprocess.run(["redis-cli", "-p", E["REDIS_PORT"], *args], capture_output=True, text=True,
                          timeout=10).stdout.strip()


def ctl(*args):
    return subprocess.run([E["CTL"], "--redis", "127.0.0.1:" + E["REDIS_PORT"], *args], capture_output=True,
                          text=True, timeout=10)


def wait_for(fn, seconds):
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            if fn():
                return time.monotonic() - t0
        except Exception:
            pass
        time.sleep(0.02)
    return None


def call(number, callid, caller):
    """An INVITE to NUMBER through the proxy: the first Contact of its answer."""
    tpl = open(os.path.join(E["SIPDIR"], "invite.sip")).read()
    msg = (tpl.replace("15125550100*2", number).replace("15125550100@", number.split("*")[0] + "@")
           .replace("CALLID", callid).replace("CALLER", caller))
    out = subprocess.run([E["SIPSEND"], "--to", "127.0.0.1:" + E["SIP_PORT"], "-"], input=msg,
                         capture_output=True, text=True, timeout=10).stdout
    for line in out.splitlines():
        if line.startswith("Contact: <"):
            return line[len("Contact: <"):].split(">")[0]
    return ""


def http(url, headers=None, data=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.common.exceptions import StaleElementReferenceException
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1200,900", "--user-data-dir=" + os.path.join(E["FD_RUN"], "chromium")):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
except Exception as e:  # no browser here: say so, check nothing
    say("skip", "Chromium cannot start here: " + str(e).splitlines()[0] if str(e) else repr(e))
    sys.exit(0)

driver.set_page_load_timeout(15)


def card(pid):
    return driver.find_element(By.CSS_SELECTOR, 'li.person[data-id="%s"]' % pid)


def state_of(pid):
    return card(pid).get_attribute("data-state")


def retry(fn, tries=40):
    """<fn>() once the page holds still: a live update re-renders the cards,
    and an element found just before is then stale."""
    for _ in range(tries):
        try:
            return fn()
        except StaleElementReferenceException:
            time.sleep(0.05)
    return fn()


def click(pid, state):
    retry(lambda: card(pid).find_element(By.CSS_SELECTOR, 'button[data-state="%s"]' % state).click())


try:
    # --- the board on loopback, no token -----------------------------------
    driver.get(E["BOARD_URL"])
    check("the board loads: Downtown's staff, carla.nguyen among them",
          wait_for(lambda: card("carla.nguyen") is not None, 10) is not None)
    check("the site chooser lists the rules' sites",
          [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#site option")][:3] ==
          ["downtown", "northlake", "westside"])
    check("the event stream is live", wait_for(lambda: driver.find_element(By.ID, "conn").text == "live", 5)
          is not None)

    # a change made elsewhere (a terminal, another dashboard) shows within 1 s
    ctl("presence", "set", "downtown", "carla.nguyen", "available")
    wait_for(lambda: state_of("carla.nguyen") == "available", 3)
    t0 = time.monotonic()
    ctl("presence", "set", "downtown", "carla.nguyen", "busy", "on a call")
    took = wait_for(lambda: state_of("carla.nguyen") == "busy", 3)
    check("frontdeskctl presence set busy: the card turns busy within 1 s (%s)" %
          ("%.0f ms" % ((time.monotonic() - t0) * 1000) if took is not None else "never"),
          took is not None and time.monotonic() - t0 < 1.0)
    check("the state is said in words, not colour alone (\"Busy\", and its note)", retry(
        lambda: "Busy" in card("carla.nguyen").find_element(By.CSS_SELECTOR, ".state").text and
        "on a call" in card("carla.nguyen").text))
    pressed = retry(lambda: [b.text for b in card("carla.nguyen").find_elements(
        By.CSS_SELECTOR, 'button[aria-pressed="true"]')])
    check("the current state's button is pressed (aria-pressed)", pressed == ["Busy"])

    # every other Downtown person with billing busy: the next billing call
    # can only find carla there once she is available
    staff = redis("FCALL_RO", "fd_staff_board", "1", "fd:{downtown}").split("\n")
    others = [staff[i] for i in range(0, len(staff) - 4, 5) if "billing" in staff[i + 3] and staff[i] != "carla.nguyen"]
    for pid in others:
        ctl("presence", "set", "downtown", pid, "busy")
    wait_for(lambda: all(state_of(pid) == "busy" for pid in others), 5)
    click("carla.nguyen", "available")
    took = wait_for(lambda: redis("HGET", "fd:{downtown}:staff:carla.nguyen", "state") == "available", 3)
    check("a click on Available: Redis has carla available (%s)" %
          ("%.0f ms" % (took * 1000) if took is not None else "never"), took is not None)
    check("and the card says so", wait_for(lambda: state_of("carla.nguyen") == "available", 2) is not None)
    check("the change is in the presence history, by the board",
          "carla.nguyen" in redis("XREVRANGE", "fd:{downtown}:presence", "+", "-", "COUNT", "1") and
          "board" in redis("XREVRANGE", "fd:{downtown}:presence", "+", "-", "COUNT", "1"))
    first = call("15125550100*2", "board-1", "4242")
    check("the next billing call's 302 names her first (%s)" % first,
          first == "sip:carla.nguyen@pbx.downtown.hillcountry.example")
    driver.refresh()  # an offer publishes no event: the list, read again, shows it
    check("and the board, read again, shows her offered that call (for the 15 s offer window)",
          wait_for(lambda: "offered a call" in card("carla.nguyen").text, 5) is not None)

    def today_row():
        driver.refresh()
        wait_for(lambda: card("carla.nguyen") is not None, 5)
        rows = driver.find_elements(By.CSS_SELECTOR, "#today-rows tr")
        return driver.find_element(By.ID, "today").is_displayed() and any(
            r.find_elements(By.TAG_NAME, "td")[0].text == "1" for r in rows)
    check("today's calls: the call shows, reached staff, in its hour", wait_for(today_row, 5) is not None)

    # the keyboard alone: focus a button, press Enter
    retry(lambda: driver.execute_script("arguments[0].focus()", card("carla.nguyen").find_element(
        By.CSS_SELECTOR, 'button[data-state="break"]')))
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    check("keyboard: Enter on a focused button sets the state (break)",
          wait_for(lambda: redis("HGET", "fd:{downtown}:staff:carla.nguyen", "state") == "break", 3) is not None)
    check("and the focus stays on it after the refresh",
          wait_for(lambda: driver.switch_to.active_element.get_attribute("data-key") == "carla.nguyen/break", 2)
          is not None)
    click("carla.nguyen", "available")
    wait_for(lambda: state_of("carla.nguyen") == "available", 3)

    # on a phone's screen: one column, the buttons still there
    driver.set_window_size(390, 844)
    time.sleep(0.3)
    w = retry(lambda: card("carla.nguyen").size["width"])
    tall = retry(lambda: all(x.size["height"] >= 44 for x in card("carla.nguyen").find_elements(By.TAG_NAME, "button")))
    check("on a phone-sized screen the cards take the width (%d px), buttons at least 44 px high" % w,
          w > 300 and tall)
    driver.set_window_size(1200, 900)

    check("no caller number and no Call-ID on the page",
          "4242" not in driver.page_source and "board-1" not in driver.page_source)
    if E.get("SCREENSHOT"):
        ctl("presence", "set", "downtown", "david.kim", "break", "lunch")
        time.sleep(0.5)
        driver.save_screenshot(E["SCREENSHOT"])

    # --- Redis restarts: the board reconnects, a reload shows the state ------
    redis("SHUTDOWN", "SAVE")
    check("Redis stopped: the page says Redis is unreachable",
          wait_for(lambda: driver.find_element(By.ID, "conn").text.startswith("Redis unreachable"), 5)
          is not None)
    rd = E["REDIS_DIR"]
    p = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", E["REDIS_PORT"], "--save", "",
                          "--appendonly", "no", "--dir", rd, "--logfile", os.path.join(rd, "redis2.log"),
                          "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(os.path.join(E["FD_RUN"], "redis2.pid"), "w") as f:
        f.write(str(p.pid))
    check("Redis back with its data", wait_for(lambda: redis("HGET", "fd:{downtown}:staff:carla.nguyen", "state")
                                               == "available", 10) is not None)
    driver.refresh()
    check("after the restart a reload shows the staff and their state again",
          wait_for(lambda: state_of("carla.nguyen") == "available" and state_of("david.kim") == "break", 10)
          is not None)
    t0 = time.monotonic()
    wait_for(lambda: driver.find_element(By.ID, "conn").text == "live", 5)
    ctl("presence", "set", "downtown", "carla.nguyen", "wrapup")
    check("and live changes flow again (wrapup shows)", wait_for(lambda: state_of("carla.nguyen") == "wrapup", 5)
          is not None)
    check("the page says live again", driver.find_element(By.ID, "conn").text == "live")

    # --- exposed: a token is needed -------------------------------------------
    tu = E["BOARD_TOKEN_URL"]
    code, body = http(tu + "api/staff?site=downtown")
    check("with --tokens, the API without a token: 401 (%d)" % code, code == 401)
    code, _ = http(tu + "api/events")
    check("and the event stream too: 401 (%d)" % code, code == 401)
    code, _ = http(tu + "api/staff?site=downtown", {"Authorization": "Bearer " + "x" * 24})
    check("a wrong token: 401 (%d)" % code, code == 401)
    code, _ = http(tu + "api/staff?site=downtown", {"Authorization": "Bearer " + E["TOKEN_NORTHLAKE"]})
    check("Northlake's token for Downtown's staff: 403 (%d)" % code, code == 403)
    code, _ = http(tu + "api/presence", {"Authorization": "Bearer " + E["TOKEN_ALL"]},
                   b"site=downtown&id=carla.nguyen&state=busy")
    check("a write without the page's header (a cross-site form): 403 (%d)" % code, code == 403)
    driver.get(tu)
    check("the page asks for a token",
          wait_for(lambda: driver.find_element(By.ID, "login").is_displayed(), 5) is not None)
    driver.find_element(By.ID, "token").send_keys("not-the-right-token-at-all")
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    check("a wrong token is refused, said",
          wait_for(lambda: "not valid" in driver.find_element(By.ID, "login-error").text, 5) is not None)
    driver.find_element(By.ID, "token").clear()
    driver.find_element(By.ID, "token").send_keys(E["TOKEN_ALL"])
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    check("the right one opens the board", wait_for(lambda: card("carla.nguyen") is not None, 5) is not None)
    check("the token is in no URL the browser asked for",
          E["TOKEN_ALL"] not in " ".join(e.get("name", "") for e in
                                         driver.execute_script("return performance.getEntries()")))
finally:
    driver.quit()
