"""A document's language, read from its prose: the identification itself, and what a history
makes of a policy that changes language."""

from __future__ import annotations

import json

import pytest

from tracker.document import Memo
from tracker.language import detect_language

PROSE = {
    "en": "We collect the personal information you give us when you create an account, and we keep it "
          "for as long as your account is open. You may ask us to delete it at any time.",
    "fr": "Nous collectons les informations personnelles que vous nous fournissez lorsque vous créez un "
          "compte, et nous les conservons tant que votre compte reste ouvert. Vous pouvez nous demander "
          "de les supprimer à tout moment.",
    "de": "Wir erheben die personenbezogenen Daten, die Sie uns bei der Erstellung eines Kontos angeben, "
          "und speichern sie, solange Ihr Konto besteht. Sie können jederzeit die Löschung verlangen.",
    "es": "Recopilamos la información personal que nos proporciona cuando crea una cuenta y la conservamos "
          "mientras su cuenta permanezca abierta. Puede pedirnos que la eliminemos en cualquier momento.",
    "it": "Raccogliamo le informazioni personali che ci fornisci quando crei un account e le conserviamo "
          "finché il tuo account rimane aperto. Puoi chiederci di cancellarle in qualsiasi momento.",
    "nl": "Wij verzamelen de persoonsgegevens die u ons verstrekt wanneer u een account aanmaakt, en "
          "bewaren deze zolang uw account open is. U kunt ons op elk moment vragen ze te verwijderen.",
    "pl": "Zbieramy dane osobowe, które podajesz nam podczas zakładania konta, i przechowujemy je tak "
          "długo, jak długo Twoje konto jest otwarte. W każdej chwili możesz poprosić o ich usunięcie.",
    "ja": "当社は、お客様がアカウントを作成する際に提供された個人情報を収集し、アカウントが有効である限り"
          "保管します。お客様はいつでもその削除を求めることができます。当社は法律で求められる場合を除き、"
          "お客様の個人情報を第三者に販売することはありません。",
}


@pytest.mark.parametrize("code", sorted(PROSE))
def test_the_language_of_policy_prose_is_identified(code):
    assert detect_language([PROSE[code]], Memo()) == code


def test_menus_and_headings_in_other_languages_do_not_decide():
    menu = ["Deutsch | English | Français | Español", "Home", "Produkte", "Über uns",
            "Learn HTML Learn CSS Learn JavaScript Learn Python Learn SQL Learn PHP Learn Java"]
    assert detect_language(menu + [PROSE["en"]], Memo()) == "en"
    assert detect_language(menu + [PROSE["fr"]], Memo()) == "fr"


def test_too_little_text_or_a_list_of_languages_has_no_language():
    assert detect_language(["Privacy Policy", "Contact us"], Memo()) is None
    chooser = [f"{country} ({name})" for country, name in [
        ("Argentina", "español"), ("Australia", "English"), ("België", "Nederlands"), ("Belgique", "français"),
        ("Brasil", "português"), ("Česká republika", "čeština"), ("Danmark", "dansk"), ("Deutschland", "Deutsch"),
        ("Eesti", "eesti"), ("Italia", "italiano"), ("Magyarország", "magyar"), ("Polska", "polski")]]
    assert detect_language(chooser, Memo()) is None


# --- a history that changes language -------------------------------------------------------

from conftest import Page, policy_html, run_cli, write_config  # noqa: E402

FRENCH = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Confidentialité | Acme</title></head>
<body><main><article><h1>Politique de confidentialité</h1>
<h2>1. Données que nous collectons</h2><p>Nous collectons les données que vous nous donnez lorsque vous créez un
compte, comme votre nom et votre adresse, et les données que votre appareil nous envoie pour le service.</p>
<h2>2. Utilisation des données</h2><p>Nous utilisons vos données pour fournir et améliorer le service, pour le
sécuriser et pour vous contacter au sujet de votre compte. Nous ne vendons pas vos données à des tiers.</p>
<h2>3. Conservation</h2><p>Nous conservons vos données pendant {days} jours après la fermeture de votre compte.</p>
<h2>4. Contact</h2><p>Écrivez à privacy@acme.example pour toute question sur cette politique.</p>
</article></main></body></html>"""


def checks(tmp_path, site, pages: list[bytes], **policy) -> tuple:
    """Check a policy once per page, in order; its history as exported."""
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], **policy}])
    for body in pages:
        site.pages["/privacy"] = Page(body)
        run_cli(config, "check")
    return config, json.loads(run_cli(config, "export", "acme", "--json").stdout)


def french(days: int = 30) -> bytes:
    return FRENCH.format(days=days).encode()


def test_a_policy_that_moves_to_another_language_keeps_its_history_and_says_it_was_translated(tmp_path, site):
    english = [policy_html("30 days"), policy_html("60 days")]
    config, data = checks(tmp_path, site, english + [french(60), french(60), french(90)])
    assert [v["language"] for v in data["versions"]] == ["en", "en", "fr", "fr"]
    kinds = [(c["from_version"], c["to_version"], c["kind"]) for c in data["changes"]]
    assert kinds == [(1, 2, "substantive"), (2, 3, "translated"), (3, 4, "substantive")]
    translation = data["changes"][1]
    assert translation["languages"] == {"from": "en", "to": "fr"} and translation["sections"] == []
    # the change within French is diffed in French, section by section
    assert [s["new_heading"] for s in data["changes"][2]["sections"] if s["status"] != "unchanged"] == ["Conservation"]
    assert "translated from en to fr" in run_cli(config, "history", "acme").stdout
    run_cli(config, "report")
    pages = [p.read_text() for p in (tmp_path / "reports" / "acme").glob("change-*.html")]
    (page,) = [p for p in pages if "translated from en to fr" in p]
    assert "sections are not compared across languages" in page


def test_a_lone_capture_in_another_language_is_set_aside_not_a_version(tmp_path, site):
    _, data = checks(tmp_path, site, [policy_html(), policy_html(), french(), policy_html(), policy_html("60 days")])
    assert [v["language"] for v in data["versions"]] == ["en", "en"]
    assert [c["kind"] for c in data["changes"]] == ["substantive"]
    (aside,) = [c for c in data["captures"] if c["rejected"]]
    assert aside["rejected"].startswith("in another language (fr) among captures in en")


def test_flips_around_a_lasting_switch_make_one_translation(tmp_path, site):
    pages = [policy_html(), policy_html(), french(), policy_html(), french(), french(), policy_html(), french()]
    _, data = checks(tmp_path, site, pages)
    assert [c["kind"] for c in data["changes"]] == ["translated"]
    assert sum(1 for c in data["captures"] if c["rejected"]) == 2  # the lone French, then the lone English


def test_a_pinned_language_sets_aside_every_capture_in_another(tmp_path, site):
    _, data = checks(tmp_path, site, [policy_html(), french(), french(), policy_html("60 days")], language="en")
    assert [c["kind"] for c in data["changes"]] == ["substantive"]
    assert [c["rejected"] for c in data["captures"] if c["rejected"]] == \
        ["in another language (fr; the policy is set to en)"] * 2
