"""Keyboard-only helpers: reach an element by pressing Tab (or Shift+Tab), as a resident would."""

from __future__ import annotations

from playwright.sync_api import Locator, Page

MAX_PRESSES = 40


def is_focused(locator: Locator) -> bool:
    return locator.evaluate("element => element === document.activeElement")


def tab_to(page: Page, locator: Locator, *, backwards: bool = False) -> None:
    """Presses Tab (Shift+Tab when `backwards`) until `locator` has focus; fails if it never does,
    which means the element is not reachable by keyboard in that direction."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_PRESSES):
        if is_focused(locator):
            return
        page.keyboard.press(key)
    assert is_focused(locator), f"{locator} is not reachable with {key} on {page.url}"
