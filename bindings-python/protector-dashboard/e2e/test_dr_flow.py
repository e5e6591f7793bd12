"""Issue 14's flow in the browser, nothing mocked: the seeded admin logs in to Horizon, creates
a protection group with the Create workflow, adds two VMs with the member picker (the
ineligible VMs shown with the engine's reason, not selectable), creates the replication policy
with the simulator's FlashArray URLs, tokens and CA file, stores the network and flavor
mappings the failover needs, runs a planned failover and sees the table's
status cell reach `failed_over`, fails back and sees it return to `active`, then runs a DR
drill on an isolated network and cleans it up. Screenshots of the
group table and of the detail page go to the output directory; the end state is read from
the simulator's inspect view: one running copy of each VM on site-a, nothing left on site-b,
no volume or port leaked."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conftest import PAGE_TIMEOUT, Horizon, Sim, log_in, out_dir
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

GROUP = "prod-web-app"
MEMBERS = ("web-server-1", "web-server-2")
# The seeded VMs the picker must refuse, and the words of the engine's reason.
INELIGIBLE = {"legacy-app": "replicated-ssd", "ledger-db": "replicated-ssd"}
# The mappings of the direction site-a -> site-b: the simulator's sites name their networks and
# flavors differently.
NETWORKS = "net-primary-web=net-secondary-web"
FLAVORS = "m1.large=m2.large"
# A drill maps its networks itself, to an isolated network on the other site.
DRILL_NETWORKS = "net-primary-web=dr-test-net"
# Bound of a DR operation in the simulator, seen through the table's refreshing status cell.
OPERATION_TIMEOUT = 180.0
TABLE = "protection_groups"


def running(inventory: dict[str, Any], site: str, name: str) -> int:
    return sum(
        1
        for s in inventory["sites"][site]["servers"]
        if s["name"] == name and s["status"] == "ACTIVE"
    )


def resources(inventory: dict[str, Any]) -> dict[str, list[str]]:
    """The names of what each site holds (servers, volumes, ports): leaks show up here."""
    held = {}
    for site, kinds in inventory["sites"].items():
        for kind in ("servers", "volumes", "ports"):
            held[f"{site}/{kind}"] = sorted(str(r.get("name") or r.get("id")) for r in kinds[kind])
    return held


def shot(browser: WebDriver, name: str) -> None:
    path = out_dir() / name
    assert browser.save_screenshot(str(path)), path
    assert path.stat().st_size > 0


def wait(browser: WebDriver, timeout: float = PAGE_TIMEOUT) -> WebDriverWait:
    return WebDriverWait(browser, timeout, ignored_exceptions=(StaleElementReferenceException,))


def messages(browser: WebDriver) -> str:
    return " | ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, ".messages .alert"))


def open_modal(browser: WebDriver, link: WebElement, form: str) -> WebElement:
    """Clicks an ajax-modal link and waits for the modal's form (CSS selector `form` inside
    the modal)."""
    link.click()
    return wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, f"#modal_wrapper {form}"))
    )


def submit_modal(browser: WebDriver, form: WebElement, then: Callable[[WebDriver], bool]) -> None:
    """Submits a modal form and waits for the page it redirects to (`then`), failing with the
    form's errors or Horizon's messages if the form stays."""
    form.find_element(By.CSS_SELECTOR, ".modal-footer [type=submit]").click()

    def done(b: WebDriver) -> bool:
        if then(b):
            return True
        errors = b.find_elements(By.CSS_SELECTOR, "#modal_wrapper .alert-danger, .has-error")
        shown = [e.text for e in errors if e.is_displayed() and e.text]
        assert not shown, f"the form was refused: {shown} {messages(b)}"
        return False

    wait(browser).until(done)


def select_themable(browser: WebDriver, scope: WebElement, field: str, value: str) -> None:
    """Picks `value` in Horizon's themable select of `field` as a user does: the dropdown,
    then the entry."""
    select = scope.find_element(By.ID, f"id_{field}")
    widget = select.find_element(By.XPATH, "./ancestor::div[contains(@class,'themable-select')]")
    widget.find_element(By.CSS_SELECTOR, "button.dropdown-toggle").click()
    entry = widget.find_element(By.CSS_SELECTOR, f"a[data-select-value='{value}']")
    wait(browser).until(ec.element_to_be_clickable(entry)).click()
    assert select.get_attribute("value") == value


def label_of(form: WebElement, box: WebElement) -> str:
    """The text of a checkbox's label (Horizon's themable checkbox: a sibling label naming the
    input's id; Django's: the enclosing label)."""
    found = form.find_elements(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']")
    if not found:
        found = box.find_elements(By.XPATH, "./ancestor::label")
    assert found, box.get_attribute("outerHTML")
    return found[0].get_attribute("textContent").strip()


def check(form: WebElement, box: WebElement) -> None:
    """Checks a checkbox as a user does: Horizon's themable checkbox hides the input behind
    its label, which takes the click."""
    if box.is_displayed():
        box.click()
    else:
        form.find_element(By.CSS_SELECTOR, f"label[for='{box.get_attribute('id')}']").click()
    assert box.is_selected(), box.get_attribute("id")


def row(browser: WebDriver, group_id: str) -> WebElement:
    return browser.find_element(By.ID, f"{TABLE}__row__{group_id}")


def cell(browser: WebDriver, group_id: str, heading: str) -> str:
    """The text of the group's cell under the column headed `heading` (the CLI's heading)."""
    headings = [
        h.get_attribute("textContent").strip()
        for h in browser.find_elements(By.CSS_SELECTOR, f"#{TABLE} thead tr:last-child th")
    ]
    assert heading in headings, headings
    cells = row(browser, group_id).find_elements(By.CSS_SELECTOR, ":scope > td")
    return cells[headings.index(heading)].text.strip()


def row_action(browser: WebDriver, group_id: str, action: str) -> WebElement:
    """A row action's link, opening the row's action menu when it sits in it."""
    link = browser.find_element(By.ID, f"{TABLE}__row_{group_id}__action_{action}")
    if not link.is_displayed():
        row(browser, group_id).find_element(By.CSS_SELECTOR, ".dropdown-toggle").click()
        wait(browser).until(ec.visibility_of(link))
    return link


def index(browser: WebDriver, horizon: Horizon) -> None:
    browser.get(f"{horizon.url}/project/protection_groups/")
    wait(browser).until(ec.presence_of_element_located((By.ID, TABLE)))


def wait_for_status(
    browser: WebDriver, horizon: Horizon, group_id: str, wanted: str, seen: list[str]
) -> None:
    """Waits on the group table until the group's status cell reads `wanted`: the ajax row
    refreshes its cell while the status is in flight; a settled row that is not yet `wanted`
    (the operation has not moved the group yet) is looked at again by reloading the table.
    Every status shown is recorded in `seen`."""

    def reached(b: WebDriver) -> bool:
        status = cell(b, group_id, "Status")
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return True
        if "ajax-update" not in (row(b, group_id).get_attribute("class") or ""):
            index(b, horizon)
        return False

    try:
        wait(browser, OPERATION_TIMEOUT).until(reached)
    except Exception:
        shot(browser, f"timeout-{wanted}.png")
        raise AssertionError(f"{GROUP} never reached {wanted}: statuses seen {seen}") from None


def wait_for_last_operation(
    browser: WebDriver, horizon: Horizon, group_id: str, wanted: str
) -> None:
    """Waits until the group's Last Operation cell starts with `wanted` (a drill leaves the
    group's status alone, so the table is reloaded to follow it)."""

    def reached(b: WebDriver) -> bool:
        index(b, horizon)
        return cell(b, group_id, "Last Operation").startswith(wanted)

    try:
        wait(browser, OPERATION_TIMEOUT).until(reached)
    except Exception:
        shot(browser, "timeout-last-operation.png")
        last = cell(browser, group_id, "Last Operation")
        raise AssertionError(f"{GROUP}'s last operation never read {wanted!r}: {last!r}") from None


def test_protect_fail_over_and_fail_back(sim: Sim, horizon: Horizon, browser: WebDriver) -> None:
    started = time.monotonic()
    baseline = resources(sim.inspect())
    admin = sim.cloud("site-a")
    log_in(browser, horizon, admin["username"], admin["password"])
    wait(browser).until(lambda b: b.current_url.endswith("/project/protection_groups/"))

    # Create: the table's action opens the workflow; the volume type is picked among the
    # primary site's eligible ones.
    form = open_modal(
        browser,
        browser.find_element(By.ID, f"{TABLE}__action_create"),
        ".workflow form",  # a workflow's form has no id
    )
    form.find_element(By.ID, "id_name").send_keys(GROUP)
    form.find_element(By.ID, "id_description").send_keys("web tier, from the browser")
    form.find_element(By.CSS_SELECTOR, "a[data-target$='sites']").click()
    for field, value in (
        ("primary_site", "site-a"),
        ("secondary_site", "site-b"),
        ("volume_type", "replicated-ssd"),
    ):
        select_themable(browser, form, field, value)
    submit_modal(
        browser,
        form,
        lambda b: (
            b.current_url.endswith("/project/protection_groups/")
            and GROUP in b.find_element(By.ID, TABLE).text
        ),
    )
    assert f'Created protection group "{GROUP}".' in messages(browser)
    link = browser.find_element(By.LINK_TEXT, GROUP)
    group_id = link.get_attribute("href").rstrip("/").rsplit("/", 1)[1]
    assert cell(browser, group_id, "Status") == "active"
    assert cell(browser, group_id, "Members") == "0"

    # Add members: the picker lists this project's VMs on site-a; the ineligible ones carry
    # the engine's reason and cannot be checked.
    form = open_modal(
        browser, row_action(browser, group_id, "add_members"), "form#add_members_form"
    )
    boxes = {
        label_of(form, b): b for b in form.find_elements(By.CSS_SELECTOR, "input[name=instances]")
    }
    for name, reason in INELIGIBLE.items():
        label = next(text for text in boxes if text.startswith(f"{name} ("))
        assert reason in label, label
        assert not boxes[label].is_enabled(), label
    for name in MEMBERS:
        label = next(text for text in boxes if text.startswith(f"{name} ("))
        assert boxes[label].is_enabled(), label
        check(form, boxes[label])
    submit_modal(
        browser, form, lambda b: f"/project/protection_groups/{group_id}/" in b.current_url
    )
    assert "Added to the group: " + ", ".join(MEMBERS) in messages(browser), messages(browser)

    # The policy: the simulator's arrays, their tokens typed into password fields.
    arrays = sim.arrays()
    index(browser, horizon)
    assert cell(browser, group_id, "Members") == str(len(MEMBERS))
    form = open_modal(
        browser, row_action(browser, group_id, "create_policy"), "form#create_policy_form"
    )
    for field, value in (
        ("pure_pg_name", "pg-prod-web-app"),
        ("primary_array_url", arrays["site-a"]["url"]),
        ("primary_array_token", arrays["site-a"]["api_token"]),
        ("secondary_array_url", arrays["site-b"]["url"]),
        ("secondary_array_token", arrays["site-b"]["api_token"]),
        # The simulator's arrays serve HTTPS with a certificate of its own CA.
        ("primary_array_ca_file", arrays["site-a"]["ca_file"]),
        ("secondary_array_ca_file", arrays["site-b"]["ca_file"]),
    ):
        form.find_element(By.ID, f"id_{field}").send_keys(value)
    for token in ("primary_array_token", "secondary_array_token"):
        assert form.find_element(By.ID, f"id_{token}").get_attribute("type") == "password"
    submit_modal(
        browser, form, lambda b: f"/project/protection_groups/{group_id}/" in b.current_url
    )
    assert "Replication policy pg-prod-web-app created." in messages(browser), messages(browser)
    for token in (arrays["site-a"]["api_token"], arrays["site-b"]["api_token"]):
        assert token not in browser.page_source

    # The failover's network and flavor mappings, stored on the group.
    index(browser, horizon)
    form = open_modal(
        browser, row_action(browser, group_id, "set_mappings"), "form#set_mappings_form"
    )
    form.find_element(By.ID, "id_networks").send_keys(NETWORKS)
    form.find_element(By.ID, "id_flavors").send_keys(FLAVORS)
    submit_modal(
        browser, form, lambda b: f"/project/protection_groups/{group_id}/" in b.current_url
    )
    assert "Mappings from site-a to site-b stored." in messages(browser), messages(browser)

    # Planned failover: the plan is shown, the confirmation starts it, the page redirects
    # with the operation id at once, and the table follows the status to failed_over.
    index(browser, horizon)
    shot(browser, "02-group-table-protected.png")
    form = open_modal(browser, row_action(browser, group_id, "failover"), "form#failover_form")
    plan = form.find_element(By.CSS_SELECTOR, ".modal-body").text
    assert "Plan: site-a" in plan and "site-b" in plan, plan
    assert form.find_elements(By.CSS_SELECTOR, ".protector-steps li"), plan
    check(form, form.find_element(By.ID, "id_confirm"))
    submit_modal(browser, form, lambda b: "Failover started: operation " in messages(b))
    seen: list[str] = []
    index(browser, horizon)
    wait_for_status(browser, horizon, group_id, "failed_over", seen)
    assert cell(browser, group_id, "Current Site") == "site-b"
    assert cell(browser, group_id, "Metadata Sync") == "SYNCED"
    shot(browser, "03-group-table-failed-over.png")
    inventory = sim.inspect()
    for name in MEMBERS:
        assert running(inventory, "site-b", name) == 1, f"{name} on site-b"
        assert running(inventory, "site-a", name) == 0, f"{name} on site-a"

    # Failback with reverse replication (the form's default), back to active on site-a.
    form = open_modal(browser, row_action(browser, group_id, "failback"), "form#failback_form")
    assert form.find_element(By.ID, "id_reverse_replication").is_selected()
    submit_modal(browser, form, lambda b: "Failback started: operation " in messages(b))
    index(browser, horizon)
    wait_for_status(browser, horizon, group_id, "active", seen)
    assert cell(browser, group_id, "Current Site") == "site-a"
    assert cell(browser, group_id, "Members") == str(len(MEMBERS))
    assert cell(browser, group_id, "Metadata Sync") == "SYNCED"
    # Reverse replication left a fresh snapshot on the way back: within the RPO.
    assert cell(browser, group_id, "RPO State") == "ok"
    shot(browser, "04-group-table-failed-back.png")
    print(f"statuses seen in the table: {seen}")

    # A DR drill on an isolated network, then its cleanup: production untouched throughout.
    form = open_modal(
        browser, row_action(browser, group_id, "test_failover"), "form#test_failover_form"
    )
    form.find_element(By.ID, "id_networks").send_keys(DRILL_NETWORKS)
    submit_modal(browser, form, lambda b: "Test failover started: operation " in messages(b))
    wait_for_last_operation(browser, horizon, group_id, "test_failover completed")
    assert cell(browser, group_id, "Status") == "active"
    inventory = sim.inspect()
    for name in MEMBERS:
        assert running(inventory, "site-b", f"test-{name}") == 1, f"test-{name} on site-b"
        assert running(inventory, "site-a", name) == 1, f"{name} on site-a"
    form = open_modal(
        browser, row_action(browser, group_id, "test_cleanup"), "form#test_cleanup_form"
    )
    submit_modal(browser, form, lambda b: "started: operation " in messages(b))
    wait_for_last_operation(browser, horizon, group_id, "test_cleanup completed")

    # The detail page: overview, the members, the operations (both completed).
    browser.find_element(By.LINK_TEXT, GROUP).click()
    wait(browser).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".detail, .nav-tabs")))
    assert GROUP in browser.find_element(By.CSS_SELECTOR, ".page-header").text
    shot(browser, "05-group-detail-overview.png")
    for tab, expected in (
        ("members", MEMBERS),
        ("policy", ("pg-prod-web-app", arrays["site-a"]["url"], arrays["site-b"]["url"])),
        ("mappings", ("net-primary-web", "net-secondary-web", "m1.large", "m2.large")),
        ("operations", ("failover", "failback", "test_failover", "test_cleanup", "completed")),
    ):
        browser.find_element(By.CSS_SELECTOR, f"a[data-target$='__{tab}']").click()
        pane = browser.find_element(By.CSS_SELECTOR, f"[id$='__{tab}']")
        wait(browser).until(ec.visibility_of(pane))
        for text in expected:
            assert text in pane.text, pane.text
        shot(browser, f"06-group-detail-{tab}.png")

    # The end state on both sites: each VM runs once, on site-a; nothing leaked.
    inventory = sim.inspect()
    for name in MEMBERS:
        assert running(inventory, "site-a", name) == 1, f"{name} on site-a"
        assert running(inventory, "site-b", name) == 0, f"{name} on site-b"
    assert resources(inventory) == baseline, "the failover and failback leaked something"
    print(f"the flow took {time.monotonic() - started:.1f}s in the browser")
