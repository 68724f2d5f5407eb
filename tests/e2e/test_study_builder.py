"""A city employee builds a study in French in the study builder, checks it is ready, opens it
and invites residents by e-mail; a resident answers from the e-mailed link on a phone.

Mails are read from Django's locmem backend (the test environment's), which the live server
shares with the test since both run in this process."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from studio.models import Mailing
from surveys.models import Completion, Image, Rating, Study

from .conftest import PHONE
from .test_accessibility import _assert_accessible

pytestmark = pytest.mark.browser
# The builder walk is long and the test machine may be busy: generous waits, never a timing assertion.
TIMEOUT_MS = 30_000

SAVE_AND_CONTINUE = re.compile(r"^Enregistrer et continuer")


def _png(path, colour) -> str:
    out = io.BytesIO()
    PILImage.new("RGB", (64, 40), colour).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return str(path)


def _continue(page: Page, url_glob: str) -> None:
    page.get_by_role("button", name=SAVE_AND_CONTINUE).click()
    page.wait_for_url(url_glob)


def _sign_in(page: Page, live_server) -> None:
    get_user_model().objects.create_user("employee", password="pw-employee-1", is_staff=True)
    page.goto(live_server.url + "/accounts/login/?next=/staff/studies/")
    page.fill("input[name=username]", "employee")
    page.fill("input[name=password]", "pw-employee-1")
    page.locator("main button[type=submit], main input[type=submit]").first.click()
    page.wait_for_url("**/staff/studies/")


def _build(page: Page, problems, tmp_path) -> None:
    page.get_by_role("link", name="Nouvelle étude").click()
    page.get_by_label("Titre en anglais").fill("Rue Fleury: how does it feel?")
    page.get_by_label("Titre en français").fill("Rue Fleury : qu’en pensez-vous ?")
    page.get_by_role("button", name="Créer le brouillon").click()
    page.wait_for_url("**/basics/")

    _assert_accessible(page, problems, "builder basics (fr)")
    page.get_by_label("Objectif en anglais").fill("We ask how the street feels so the city can improve it.")
    page.get_by_label("Objectif en français").fill("Nous demandons comment vous vivez la rue pour l’améliorer.")
    page.get_by_label("Note la plus basse").fill("1")
    page.get_by_label("Note la plus haute").fill("4")
    page.get_by_label("Étiquettes de l’échelle en anglais").fill("Poor\nFair\nGood\nExcellent")
    page.get_by_label("Étiquettes de l’échelle en français").fill("Mauvais\nPassable\nBon\nExcellent")
    _continue(page, "**/criteria/")

    names_en, names_fr = page.get_by_label("Nom en anglais"), page.get_by_label("Nom en français")
    names_en.nth(0).fill("Safety")
    names_fr.nth(0).fill("Sécurité")
    names_en.nth(1).fill("Beautiful")
    names_fr.nth(1).fill("Belle")
    page.get_by_label("Les résidents").nth(1).select_option("ranking")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    page.wait_for_url("**/criteria/")
    expect(page.locator(".messages")).to_contain_text("Enregistré.")
    page.get_by_label("Nom en anglais").nth(2).fill("Accessibility")
    page.get_by_label("Nom en français").nth(2).fill("Accessibilité")
    _continue(page, "**/waves/")

    page.get_by_label("Nom").nth(0).fill("printemps 2027")
    page.get_by_label("Nom").nth(1).fill("automne 2027")
    _continue(page, "**/groups/")

    page.get_by_label("Nom en anglais").nth(0).fill("Seniors 65+")
    page.get_by_label("Nom en français").nth(0).fill("Aînés 65+")
    page.get_by_label("Nombre de participants visé").nth(0).fill("10")
    page.get_by_label("Nom en anglais").nth(1).fill("LGBTQIA2+")
    page.get_by_label("Nom en français").nth(1).fill("LGBTQIA2+")
    _continue(page, "**/sites/")

    page.get_by_label("Nom", exact=True).nth(0).fill("Rue Fleury Est")
    page.get_by_label("Latitude").nth(0).fill("45,5601")
    page.get_by_label("Longitude").nth(0).fill("-73,6612")
    page.get_by_label("Attributs").nth(0).fill("largeur du trottoir : étroit\narbres : peu")
    page.get_by_label("Nom", exact=True).nth(1).fill("Rue Masson")
    _continue(page, "**/images/")

    # Several files at once, matched to the sites by their names.
    page.get_by_label(re.compile("^Fichiers image")).set_input_files(
        [_png(tmp_path / "Rue Fleury Est.png", (30, 120, 50)), _png(tmp_path / "rue-masson.png", (160, 60, 20))]
    )
    page.get_by_role("button", name="Téléverser").click()
    page.wait_for_url("**/images/")
    expect(page.locator(".messages")).to_contain_text("2 images ajoutées, 2 associées à un lieu")
    alt_en, alt_fr = (
        page.get_by_label("Description en anglais (texte de remplacement)"),
        page.get_by_label("Description en français (texte de remplacement)"),
    )
    for i, (en, fr) in enumerate([("A narrow sidewalk", "Un trottoir étroit"), ("A wide street", "Une rue large")]):
        alt_en.nth(i).fill(en)
        alt_fr.nth(i).fill(fr)
    _assert_accessible(page, problems, "builder images (fr)")
    _continue(page, "**/ranking/")

    for checkbox in page.get_by_role("checkbox").all():
        checkbox.check()
    _continue(page, "**/people/")
    page.get_by_role("link", name="Voir la liste de vérification").click()
    page.wait_for_url(re.compile(r".*/staff/studies/[\w-]+/$"))


def test_a_city_employee_builds_opens_and_invites_and_a_resident_answers_on_a_phone(
    open_page, live_server, transactional_db, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    mail.outbox = []
    expect.set_options(timeout=TIMEOUT_MS)
    page, problems = open_page(locale="fr-CA")
    page.context.set_default_timeout(TIMEOUT_MS)
    page.context.set_default_navigation_timeout(3 * TIMEOUT_MS)
    _sign_in(page, live_server)
    _build(page, problems, tmp_path)

    # The checklist names what is missing; opening is refused until nothing is.
    study = Study.objects.get()
    main = page.locator("main")
    expect(main).to_contain_text("Aucune vague n’est ouverte")
    page.get_by_role("button", name="Ouvrir l’étude aux résidents").click()
    expect(page.locator(".messages")).to_contain_text("L’étude ne peut pas encore ouvrir")
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT
    page.get_by_role("button", name="Ouvrir la vague printemps 2027").click()
    expect(main).to_contain_text("Tout est en place : l’étude peut ouvrir.")
    _assert_accessible(page, problems, "builder study page (fr)")
    page.get_by_role("button", name="Ouvrir l’étude aux résidents").click()
    expect(page.locator(".messages")).to_contain_text("L’étude est ouverte aux résidents.")
    study.refresh_from_db()
    assert study.status == Study.Status.OPEN
    assert [i.site.name for i in Image.objects.filter(study=study).order_by("code")] == ["Rue Fleury Est", "Rue Masson"]

    # Invitations by e-mail, sent by the worker, with progress on the page.
    page.get_by_role("link", name="Inviter des résidents (liens et courriel)").click()
    page.get_by_label("Adresses courriel").fill("ana@example.org\nben@example.org")
    page.get_by_role("button", name="Envoyer les invitations").click()
    expect(page.locator("#mailings")).to_contain_text("2 sur 2 envoyés")
    _assert_accessible(page, problems, "builder invitations (fr)")
    assert Mailing.objects.get().status == "done"
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.org", "ben@example.org"]
    link = re.search(r"http://[^\s]+/i/[\w-]+/", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url)

    # A resident opens the e-mailed link on a phone and answers everything.
    phone, phone_problems = open_page(viewport=PHONE, locale="fr-CA")
    phone.context.set_default_timeout(TIMEOUT_MS)
    phone.goto(link)
    phone.wait_for_url("**/survey/language/")
    phone.get_by_role("radio", name="Français").check()
    phone.get_by_role("button", name="Continue / Continuer").click()
    phone.wait_for_url("**/survey/consent/")
    expect(phone.locator("main")).to_contain_text("Nous demandons comment vous vivez la rue")
    phone.get_by_role("button", name="J’accepte et je veux participer").click()
    phone.wait_for_url("**/survey/about-you/")
    phone.get_by_role("checkbox", name=re.compile("Aînés 65\\+")).check()
    # Each resident rates the streets in their own shuffled order.
    _continue(phone, "**/survey/rate/**")
    _assert_accessible(phone, phone_problems, "resident rating on a phone (fr)")
    for step in ("/survey/rate/", "/survey/rank/"):
        here = phone.url
        phone.locator("#q-safety").get_by_role("radio", name=re.compile("Bon")).check()
        phone.locator("#q-accessibility").get_by_role("radio", name=re.compile("Passable")).check()
        phone.get_by_role("button", name=SAVE_AND_CONTINUE).click()
        phone.wait_for_url(lambda url, step=step, here=here: step in url and url != here)
    # An untouched ranking is an answer only when the resident keeps the order shown.
    phone.get_by_role("button", name="Garder cet ordre et continuer").click()
    phone.wait_for_url("**/survey/priorities/")
    phone.get_by_label("Sécurité").fill("6")
    phone.get_by_label("Accessibilité").fill("4")
    _continue(phone, "**/survey/comment/")
    _continue(phone, "**/survey/review/")
    phone.get_by_role("button", name="Terminer et envoyer").click()
    phone.wait_for_url("**/survey/done/")
    expect(phone.get_by_role("heading", level=1)).to_have_text("Merci !")

    assert Completion.objects.filter(wave__study=study, wave__name="printemps 2027").count() == 1
    assert Rating.objects.filter(wave__study=study).count() == 4
    assert not problems.all() and not phone_problems.all()
