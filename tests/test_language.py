"""A document's language, read from its prose: the identification itself, and what a history
makes of a policy that changes language."""

from __future__ import annotations

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
