"""Horizon's own login form, in the browser, against the simulator's Keystone: the seeded admin
of production-project logs in (unscoped password token, the user's projects, a project-scoped
token by rescoping, its catalog) and lands on the user home; a wrong password is refused with
Horizon's message."""

from __future__ import annotations

from conftest import PAGE_TIMEOUT, Horizon, Sim, log_in, out_dir
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def test_the_seeded_admin_logs_in_and_lands_on_the_user_home(
    sim: Sim, horizon: Horizon, browser: WebDriver
) -> None:
    admin = sim.cloud("site-a")
    log_in(browser, horizon, admin["username"], admin["password"])
    wait = WebDriverWait(browser, PAGE_TIMEOUT)
    wait.until(lambda b: "/auth/login" not in b.current_url)
    # The header names the project the token is scoped to and the user.
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "nav"), admin["project_name"]))
    header = browser.find_element(By.CSS_SELECTOR, "nav").text
    assert admin["username"] in header, header
    browser.save_screenshot(str(out_dir() / "01-after-login.png"))
    if browser.current_url.endswith("/project/api_access/"):
        # Without the plugin: API Access lists the scoped token's catalog, the simulator's
        # endpoints of site-a.
        base = admin["auth_url"].removesuffix("/identity/v3")
        wait.until(ec.presence_of_element_located((By.ID, "endpoints")))
        table = browser.find_element(By.ID, "endpoints").text
        for url in (
            f"{base}/compute/v2.1",
            f"{base}/network",
            admin["auth_url"].removesuffix("/v3"),
        ):
            assert url in table, table
    else:
        assert browser.current_url.endswith("/project/protection_groups/"), browser.current_url


def test_a_wrong_password_is_refused_with_horizons_message(
    sim: Sim, horizon: Horizon, browser: WebDriver
) -> None:
    log_in(browser, horizon, sim.cloud("site-a")["username"], "not-the-password")
    error = WebDriverWait(browser, PAGE_TIMEOUT).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "form .alert-danger"))
    )
    assert "Invalid credentials." in error.text
    assert "/auth/login" in browser.current_url
