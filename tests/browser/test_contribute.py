"""What a resident does in the browser: sign up, drop a report with a photo by tapping the map,
see it appear, vote, comment, switch to English, sign out; errors in their language; "me too"
on a duplicate; a proposal drawn as an area; the whole form from the keyboard."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (
    ARTIFACTS,
    loads,
    photo_bytes,
    scalar,
    sign_up,
    unique,
    wait_for_map,
)

pytestmark = pytest.mark.browser

# A lawn of the Champ-de-Mars: few reports, so a tap lands on the map, not on a symbol.
LAWN = (48.85585, 2.29830)


def open_map_at(page, lat, lon, z=19):
    page.goto(f"/?lat={lat:.5f}&lon={lon:.5f}&z={z}")
    wait_for_map(page)


def form(page):
    return page.locator("#create-form")


def test_resident_reports_with_a_photo_votes_comments_switches_language_signs_out(page):
    sign_up(page, name="Camille")
    open_map_at(page, *LAWN)
    title = unique("Banc cassé devant la pelouse")

    # tap the map: "contribute here" -> report a problem here
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 30)
    page.get_by_role("button", name="Signaler un problème ici").click()
    assert page.locator(".marker-pin").count() == 1
    page.locator(".leaflet-popup").wait_for(state="detached")  # done fading out
    # drag the pin 60 px further east
    pin = page.locator(".marker-pin").bounding_box()
    page.mouse.move(pin["x"] + pin["width"] / 2, pin["y"] + pin["height"] / 2)
    page.mouse.down()
    page.mouse.move(pin["x"] + pin["width"] / 2 + 60, pin["y"] + pin["height"] / 2, steps=6)
    page.mouse.up()
    assert page.locator(".marker-pin").bounding_box()["x"] == pytest.approx(pin["x"] + 60, abs=2)
    page.wait_for_function(
        "() => document.getElementById('f-address').textContent.startsWith('Adresse la plus proche')")
    address = page.locator("#f-address").inner_text().removeprefix("Adresse la plus proche : ")

    f = form(page)
    f.get_by_label("Catégorie", exact=True).select_option("mobiliers-urbains")
    subcategory = f.get_by_label("Plus précisément")
    assert subcategory.is_visible()
    child = subcategory.locator("option").nth(1).get_attribute("value")
    subcategory.select_option(child)
    f.get_by_label("Titre").fill(title)
    f.get_by_label("Description (facultative)").fill("Deux lattes manquent.\nDangereux pour les enfants.")
    f.get_by_label("Photos (jusqu'à 5)", exact=True).set_input_files(
        [{"name": "banc.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}])
    preview = f.locator(".photo-preview img")
    assert preview.count() == 1 and preview.get_attribute("src").startswith("blob:")
    assert preview.get_attribute("alt") == "banc.jpg"
    page.locator("#panel").evaluate("panel => { panel.scrollTop = 0; }")
    page.screenshot(path=str(ARTIFACTS / "form-desktop.png"))
    f.locator("#photo-previews").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "form-desktop-photos.png"))

    before = loads(page)
    f.get_by_role("button", name="Publier").click()
    toast = page.locator("#toast")
    toast.get_by_text("Merci, votre signalement est publié.").wait_for()
    created_id = int(toast.get_by_role("link", name="La voir").get_attribute("href").rsplit("/", 1)[1])
    wait_for_map(page, before)

    row = scalar("SELECT json_build_object('title', c.title, 'category', cat.code, 'status', c.status,"
                 " 'address', c.address, 'photos', c.photos_count, 'description', c.description,"
                 " 'distance', ST_Distance(c.geom::geography,"
                 "   ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography))"
                 " FROM contributions c JOIN categories cat ON cat.id = c.category_id WHERE c.id = :id",
                 id=created_id, lon=LAWN[1], lat=LAWN[0])
    assert row["title"] == title and row["category"] == child and row["status"] == "new"
    assert row["photos"] == 1 and row["address"] == address
    assert row["description"] == "Deux lattes manquent.\nDangereux pour les enfants."
    # where it was tapped then dragged: 100 px east and 30 px south of the centre, at z19
    # (0.196 m per pixel at Paris' latitude), about 20 m away
    assert 17 < row["distance"] < 24

    # it appears on the map and first in the list
    assert page.locator(f".marker-point[data-id='{created_id}']").count() == 1
    first = page.locator("#results-list > li").first
    assert first.get_attribute("data-id") == str(created_id)
    assert first.locator("h3").inner_text() == title
    assert "1 photo" in first.locator(".item-facts").inner_text()

    # its page: photo, status, vote (toggle), comments
    toast.get_by_role("link", name="La voir").click()
    page.wait_for_url(f"**/c/{created_id}")
    assert page.locator("h1").inner_text() == title
    assert page.locator(".gallery img").get_attribute("alt") == f"Photo 1 sur 1 : {title}"
    assert page.locator(".gallery img").evaluate("img => img.naturalWidth") > 0
    assert page.locator(".contribution-head .status").inner_text() == "Nouveau"
    assert page.locator("#mini-map .marker-point").count() == 1

    me_too = page.get_by_role("button", name=re.compile("^Moi aussi"))
    me_too.click()
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'true'")
    assert me_too.locator(".count").inner_text() == "1"
    assert page.locator("#votes-summary").inner_text() == "1 personne a le même problème."
    assert scalar("SELECT votes_up FROM contributions WHERE id = :id", id=created_id) == 1
    me_too.click()
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'false'")
    assert me_too.locator(".count").inner_text() == "0"
    assert scalar("SELECT votes_up FROM contributions WHERE id = :id", id=created_id) == 0
    me_too.click()
    page.wait_for_function("() => document.querySelector('.vote').getAttribute('aria-pressed') === 'true'")

    body = "Même chose hier <b>soir</b> & ce matin"
    page.get_by_label("Votre commentaire").fill(body)
    page.get_by_role("button", name="Publier le commentaire").click()
    comment = page.locator("#comment-list .comment").last
    comment.locator(".comment-body").wait_for()
    assert comment.locator(".comment-body").inner_text() == body  # as text, never as HTML
    assert comment.locator("b").count() == 0
    assert "Camille" in comment.locator(".comment-meta").inner_text()
    assert page.locator("#comments-count").inner_text() == "1"
    assert scalar("SELECT comments_count FROM contributions WHERE id = :id", id=created_id) == 1
    follow = page.get_by_role("button", name=re.compile("^Suivre"))
    follow.click()
    page.wait_for_function("() => document.getElementById('follow-button').ariaPressed === 'true'")
    assert page.locator("#followers-count").inner_text() == "1"
    assert page.locator("#follow-status").inner_text() == "Vous suivez cette contribution."
    assert scalar("SELECT followers_count FROM contributions WHERE id = :id", id=created_id) == 1
    page.screenshot(path=str(ARTIFACTS / "contribution.png"), full_page=True)

    # my contributions lists it
    page.goto("/me/contributions")
    assert page.get_by_role("link", name=title, exact=True).get_attribute("href") == f"/c/{created_id}"
    assert page.get_by_role("link", name=f"Modifier “{title}”").get_attribute("href") == f"/c/{created_id}/edit"

    # English by choice: the same page, every string translated, dates per locale
    page.goto(f"/c/{created_id}")
    page.get_by_role("link", name="English").click()
    page.wait_for_url(f"**/c/{created_id}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name=re.compile(r"^Comments")).is_visible()
    assert page.get_by_role("button", name=re.compile("^Me too")).get_attribute("aria-pressed") == "true"
    assert page.locator(".contribution-head .status").inner_text() == "New"
    assert page.locator("#votes-summary").inner_text() == "1 person has the same problem."
    assert re.search(r"Published on [A-Z][a-z]+ \d{1,2}, 20\d\d", page.locator(".contribution-head").inner_text())
    assert page.get_by_text("Me too").count() >= 1 and page.get_by_text("Moi aussi").count() == 0

    # sign out: back to the page, signed out, still in English
    page.get_by_text("My account").click()
    page.get_by_role("button", name="Sign out", exact=True).click()
    page.wait_for_url(f"**/c/{created_id}")
    assert page.get_by_role("link", name="Sign in").first.is_visible()
    assert page.get_by_role("button", name=re.compile("^Me too")).is_disabled()
    assert page.get_by_role("link", name="Sign in to vote and comment").is_visible()


def test_validation_errors_show_next_to_their_field_in_the_residents_language(page):
    page.watch.allow(r"status of 422")
    sign_up(page)
    open_map_at(page, *LAWN, z=17)
    page.get_by_role("button", name="Contribuer").click()
    f = form(page)
    f.get_by_label("Titre").fill("ab")
    f.get_by_role("button", name="Publier").click()
    title_error = f.locator("#f-title-error")
    title_error.wait_for()
    assert title_error.inner_text() == "Au moins 3 caractères."
    assert f.locator("#f-category-error").inner_text() == "Ce champ est obligatoire."
    assert f.locator("#f-geometry-error").inner_text() == "Indiquez un emplacement sur la carte."
    assert f.locator("#create-error").inner_text() == "Corrigez les champs signalés ci-dessous."
    assert f.get_by_label("Titre").get_attribute("aria-invalid") == "true"
    assert f.get_by_label("Titre").get_attribute("aria-describedby") == "f-title-hint f-title-error"

    # the same in English; the map keeps its view through the switch
    page.get_by_role("link", name="English").click()
    wait_for_map(page)
    assert f"lat={LAWN[0]:.5f}" in page.url and "z=17" in page.url
    page.get_by_role("button", name="Contribute").click()
    f.get_by_label("Title").fill("ab")
    f.get_by_role("button", name="Publish").click()
    f.locator("#f-title-error").wait_for()
    assert f.locator("#f-title-error").inner_text() == "At least 3 characters."
    assert f.locator("#f-category-error").inner_text() == "This field is required."
    assert f.locator("#f-geometry-error").inner_text() == "Place the contribution on the map."
    # a fixed field loses its error on the next try
    f.get_by_role("button", name="Place a point at the map centre").click()
    f.get_by_label("Title").fill("A much better title")
    f.get_by_role("button", name="Publish").click()
    f.locator("#f-category-error").get_by_text("This field is required.").wait_for()
    assert f.locator("#f-title-error").inner_text() == ""
    assert f.locator("#f-geometry-error").inner_text() == ""


def test_me_too_on_a_nearby_duplicate_instead_of_a_new_report(page, api_user, live_server):
    neighbour = api_user("Voisin")
    spot = (48.84622, 2.33712)  # Jardin du Luxembourg
    title = unique("Dépôt sauvage près du kiosque")
    r = neighbour.post(f"{live_server}/api/v1/reports", json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [spot[1], spot[0]]},
        "properties": {"title": title, "category": "objets-abandonnes"}})
    assert r.status_code == 201, r.text
    existing = r.json()["id"]

    sign_up(page)
    open_map_at(page, *spot)
    page.get_by_role("button", name="Contribuer").click()
    f = form(page)
    f.get_by_role("button", name="Placer un point au centre de la carte").click()
    f.get_by_label("Catégorie", exact=True).select_option("objets-abandonnes")
    duplicates = f.locator("#duplicates")
    duplicates.get_by_role("link", name=title).wait_for()
    assert duplicates.locator("h3").inner_text().startswith(
        tuple(f"{n} signalement" for n in range(1, 6)))
    item = duplicates.locator("li", has=page.get_by_role("link", name=title))
    assert "Nouveau · à " in item.inner_text()
    item.get_by_role("button", name=f"Moi aussi : {title}").click()
    page.locator("#toast").get_by_text("Merci, votre « moi aussi » a été ajouté").wait_for()
    assert page.locator("#toast a").get_attribute("href") == f"/c/{existing}"
    assert scalar("SELECT votes_up FROM contributions WHERE id = :id", id=existing) == 1
    assert page.locator("#create").is_hidden()
    assert scalar("SELECT count(*) FROM contributions WHERE title = :t", t=title) == 1


def test_proposal_drawn_as_an_area(page):
    sign_up(page)
    open_map_at(page, *LAWN, z=18)
    page.get_by_role("button", name="Contribuer").click()
    f = form(page)
    f.get_by_text("Faire une proposition").click()
    f.get_by_text("Une zone").click()
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-60, -40), (60, -40), (0, 50)):
        page.mouse.click(cx + dx, cy + dy)
    assert page.locator(".marker-vertex").count() == 3
    assert f.locator("#f-geometry-help").inner_text() == "3 points placés."
    f.get_by_role("button", name="Retirer le dernier point").click()
    assert page.locator(".marker-vertex").count() == 2
    page.mouse.click(cx, cy + 50)
    f.get_by_label("Catégorie", exact=True).select_option("vegetalisation")
    title = unique("Un verger partagé")
    f.get_by_label("Titre").fill(title)
    before = loads(page)
    f.get_by_role("button", name="Publier").click()
    page.locator("#toast").get_by_text("Merci, votre proposition est publiée.").wait_for()
    wait_for_map(page, before)
    row = scalar("SELECT json_build_object('kind', kind, 'type', GeometryType(geom), 'status', status,"
                 " 'points', ST_NPoints(geom), 'area', ST_Area(geom_l93))"
                 " FROM contributions WHERE title = :t", t=title)
    assert row["kind"] == "proposal" and row["type"] == "POLYGON" and row["status"] == "published"
    assert row["points"] == 4 and row["area"] > 100  # closed ring of 3 corners
    # drawn as itself on the map when zoomed in
    assert page.locator("path.shape-proposal").count() >= 1


def test_the_whole_form_from_the_keyboard(page):
    sign_up(page)
    open_map_at(page, *LAWN, z=18)
    page.get_by_role("button", name="Contribuer").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "create-title"
    page.get_by_role("button", name="Placer un point au centre de la carte").focus()
    page.keyboard.press("Enter")
    pin = page.locator(".marker-pin")
    start = pin.bounding_box()
    pin.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    assert pin.bounding_box()["x"] == pytest.approx(start["x"] + 24, abs=1)
    category = form(page).get_by_label("Catégorie", exact=True)
    category.focus()
    page.keyboard.press("ArrowDown")  # the first category: the most used
    tree = page.request.get("/api/v1/categories?kind=report").json()["categories"]
    assert category.input_value() == max(tree, key=lambda c: c["recent_count"])["code"]
    title = unique("Poubelle qui déborde")
    form(page).get_by_label("Titre").focus()
    page.keyboard.type(title)
    page.keyboard.press("Enter")  # submits the form
    page.locator("#toast").get_by_text("Merci, votre signalement est publié.").wait_for()
    lon = scalar("SELECT ST_X(geom) FROM contributions WHERE title = :t", t=title)
    assert lon > LAWN[1]  # moved east with the arrow keys


def test_form_on_a_small_phone(open_context):
    context, _watch = open_context(width=360, height=640, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_up(page)
    open_map_at(page, *LAWN, z=18)
    page.get_by_role("button", name="Contribuer").tap()
    page.get_by_role("button", name="Placer un point au centre de la carte").tap()
    page.locator("#f-address").get_by_text("Adresse la plus proche").wait_for()
    # the map stays visible above the form, which is a sheet in the lower part of the screen
    panel = page.locator("#panel").bounding_box()
    assert panel["y"] > 640 * 0.3 and page.locator("#map").is_visible()
    page.screenshot(path=str(ARTIFACTS / "form-mobile.png"))
    publish = page.get_by_role("button", name="Publier")
    box = publish.bounding_box()
    assert box["height"] >= 44 and box["y"] + box["height"] <= 640  # reachable without scrolling


def test_agree_or_disagree_on_a_proposal(page, api_user, live_server):
    author = api_user("Inès")
    r = author.post(f"{live_server}/api/v1/proposals", json={
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[2.3700, 48.8530], [2.3720, 48.8540]]},
        "properties": {"title": unique("Une rue aux écoles"), "category": "mobilite"}})
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    sign_up(page)
    page.goto(f"/c/{proposal}")
    assert page.locator("#mini-map path.shape-proposal").count() == 1  # the line itself
    agree = page.get_by_role("button", name=re.compile("^D'accord"))
    disagree = page.get_by_role("button", name=re.compile("^Pas d'accord"))
    agree.click()
    page.wait_for_function("() => document.querySelector('.vote[data-value=\"1\"]').ariaPressed === 'true'")
    assert page.locator("#votes-summary").inner_text() == "1 d'accord, 0 pas d'accord."
    disagree.click()  # changes the vote: one vote per person
    page.wait_for_function("() => document.querySelector('.vote[data-value=\"-1\"]').ariaPressed === 'true'")
    assert agree.get_attribute("aria-pressed") == "false"
    assert agree.locator(".count").inner_text() == "0" and disagree.locator(".count").inner_text() == "1"
    assert scalar("SELECT votes_up || '/' || votes_down FROM contributions WHERE id = :id", id=proposal) == "0/1"
    disagree.click()  # withdrawn
    page.wait_for_function("() => document.querySelector('.vote[data-value=\"-1\"]').ariaPressed === 'false'")
    assert scalar("SELECT votes_up || '/' || votes_down FROM contributions WHERE id = :id", id=proposal) == "0/0"


def test_residents_are_not_offered_the_agents_sub_types(page):
    """The 20 "[réservé agents …]" sub-types (agent-only, app.admin) stay out of the form."""
    sign_up(page, name="Dominique")
    open_map_at(page, *LAWN, z=18)
    page.get_by_role("button", name="Contribuer").click()
    f = form(page)
    offered = 0
    for top in ("proprete", "graffitis", "arbres"):
        f.get_by_label("Catégorie", exact=True).select_option(top)
        labels = f.get_by_label("Plus précisément").locator("option").all_inner_texts()[1:]
        assert labels and not [label for label in labels if "réservé" in label.lower()]
        offered += len(labels)
    agent_only = scalar("SELECT count(*) FROM categories c JOIN categories t ON t.id = c.parent_id "
                        "WHERE t.code IN ('proprete', 'graffitis', 'arbres') AND c.agent_only")
    everything = scalar("SELECT count(*) FROM categories c JOIN categories t ON t.id = c.parent_id "
                        "WHERE t.code IN ('proprete', 'graffitis', 'arbres') AND c.disabled_at IS NULL")
    assert agent_only > 10 and offered == everything - agent_only
