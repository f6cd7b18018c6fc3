"""The API's error messages in the asker's language: English, or Latvian when asked.

Errors are raised in English all through the package (the CLI, the logs and the audit read
them so); a request that asks for Latvian (`Accept-Language: lv`, or `lang=lv` as the pages
send) gets its message and hint translated here, at the one place every error is rendered.
The catalogue pairs an English template with its Latvian one and is read backwards with the
`parse` library (the inverse of `str.format`), so no raise site has to change to be
translated. A message the catalogue does not know stays English and the response says so
(`Content-Language: en`): never a half-translated sentence. tests/test_error_text.py
provokes every entry through the API, so an entry whose English drifted fails there.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Final

import parse

LANGS: Final = ("en", "lv")

# Ordered: the first template that matches the whole message wins, so a longer, more
# specific template comes before the shorter one that would also match it.
LV: Final[tuple[tuple[str, str], ...]] = (
    # cuts, drilldowns and orders as written (model/cut_grammar.py)
    ("{what}: dangling backslash at position {pos}", "{what}: slīpsvītra '\\' virknes beigās, pozīcija {pos}"),
    ("{what}: empty path element at position {pos}", "{what}: tukšs ceļa elements, pozīcija {pos}"),
    ("{what}: empty path at position {pos}", "{what}: tukšs ceļš, pozīcija {pos}"),
    ("{what}: more than one '@' at position {pos}", "{what}: vairāk nekā viens '@', pozīcija {pos}"),
    ("{what}: missing dimension name at position {pos}", "{what}: trūkst dimensijas nosaukuma, pozīcija {pos}"),
    ("{what}: missing hierarchy name after '@' at position {pos}",
     "{what}: pēc '@' trūkst hierarhijas nosaukuma, pozīcija {pos}"),
    ("cut: expected 'dimension:path' at position {pos}", "griezums: gaidīts 'dimensija:ceļš', pozīcija {pos}"),
    ("e.g. time:2024|territory:LV00A", "piemēram, time:2024|territory:LV00A"),
    ("cut: unexpected ':' at position {pos}", "griezums: negaidīts ':', pozīcija {pos}"),
    ("drilldown: unexpected ':' at position {pos}", "izvērsums: negaidīts ':', pozīcija {pos}"),
    ("escape ':' in a member as '\\:'", "kolu ':' elementa nosaukumā raksta kā '\\:'"),
    ("cut: a range needs at least one end at position {pos}",
     "griezums: intervālam vajag vismaz vienu galu, pozīcija {pos}"),
    ("cut: more than one '-' in a range at position {pos}",
     "griezums: intervālā ir vairāk nekā viens '-', pozīcija {pos}"),
    ("escape '-' in a member as '\\-'", "defisi '-' elementa nosaukumā raksta kā '\\-'"),
    ("drilldown: missing level after ':' at position {pos}", "izvērsums: pēc ':' trūkst līmeņa, pozīcija {pos}"),
    ("order: missing field at position {pos}", "kārtojums: trūkst lauka, pozīcija {pos}"),
    ("order: direction must be 'asc' or 'desc', not '{d}' (position {pos})",
     "kārtojums: virzienam jābūt 'asc' vai 'desc', nevis '{d}' (pozīcija {pos})"),
    # names and members (model/resolve.py, query/resolve.py, query/members.py)
    ("cube '{cube}' has no dimension '{name}'", "kubam '{cube}' nav dimensijas '{name}'"),
    ("cube '{cube}' has no measure '{name}'", "kubam '{cube}' nav mēra '{name}'"),
    ("cube '{cube}' has no fact field '{name}'", "kubam '{cube}' nav faktu lauka '{name}'"),
    ("dimension '{dim}' has no hierarchy '{name}'", "dimensijai '{dim}' nav hierarhijas '{name}'"),
    ("hierarchy '{h}' of '{dim}' has no level '{name}'", "dimensijas '{dim}' hierarhijai '{h}' nav līmeņa '{name}'"),
    ("cut on '{dim}': path {path} is deeper than hierarchy '{h}' ({levels})",
     "griezums pēc '{dim}': ceļš {path} ir dziļāks par hierarhiju '{h}' ({levels})"),
    ("range cut on '{dim}': both ends must be at the same level",
     "intervāla griezums pēc '{dim}': abiem galiem jābūt vienā līmenī"),
    ("range on '{dim}': level '{level}' has numbers for keys, '{v}' is not one",
     "intervāls pēc '{dim}': līmeņa '{level}' atslēgas ir skaitļi, '{v}' nav skaitlis"),
    ("time {what} must be a number, not '{v}'", "laiks: {what} jānorāda ar skaitli, nevis '{v}'"),
    ("time {what} {n} is out of range {lo}..{hi}", "laiks: {what} {n} ir ārpus robežām {lo}..{hi}"),
    ("quarter {q} is outside the period {start}..{end}", "ceturksnis {q} ir ārpus perioda {start}..{end}"),
    ("month {m} is not inside the quarter given", "mēnesis {m} nav norādītajā ceturksnī"),
    ("day {d} does not exist in {year}-{month}", "mēnesī {year}-{month} nav {d}. datuma"),
    ("'{dim}' has no member '{value}' at level '{level}' under {parent}; '{v2}' is a member of level '{l2}'",
     "'{dim}' līmenī '{level}' zem {parent} nav elementa '{value}'; '{v2}' ir līmeņa '{l2}' elements"),
    ("'{dim}' has no member '{value}' at level '{level}' under {parent}; '{v2}' is under {p2}",
     "'{dim}' līmenī '{level}' zem {parent} nav elementa '{value}'; '{v2}' ir zem {p2}"),
    ("'{dim}' has no member '{value}' at level '{level}'; '{v2}' is a member of level '{l2}'",
     "'{dim}' līmenī '{level}' nav elementa '{value}'; '{v2}' ir līmeņa '{l2}' elements"),
    ("'{dim}' has no member '{value}' at level '{level}'; '{v2}' is under {p2}",
     "'{dim}' līmenī '{level}' nav elementa '{value}'; '{v2}' ir zem {p2}"),
    ("'{dim}' has no member '{value}' at level '{level}' under {parent}",
     "'{dim}' līmenī '{level}' zem {parent} nav elementa '{value}'"),
    ("'{dim}' has no member '{value}' at level '{level}'", "'{dim}' līmenī '{level}' nav elementa '{value}'"),
    ("'{dim}' has no member {path}", "'{dim}' nav elementa {path}"),
    ("a path names every level from the top: did you mean {shown}?",
     "ceļš nosauc katru līmeni no augšējā: vai domājāt {shown}?"),
    ("did you mean '{choice}'?", "vai domājāt '{choice}'?"),
    ("expected one of: {choices}", "gaidīts viens no: {choices}"),
    ("cannot drill down '{dim}' below its last level '{level}'",
     "'{dim}' nevar izvērst zemāk par tā pēdējo līmeni '{level}'"),
    ("a dimension can be drilled down only once per query", "vienā vaicājumā dimensiju var izvērst tikai vienreiz"),
    ("depth {d} and level '{level}' disagree (the level is at depth {found})",
     "dziļums {d} neatbilst līmenim '{level}' (tas ir dziļumā {found})"),
    ("depth must be between 1 and {n} for hierarchy '{h}' of '{dim}', not {d}",
     "dimensijas '{dim}' hierarhijai '{h}' dziļumam jābūt no 1 līdz {n}, nevis {d}"),
    ("cannot order members by '{field}'", "elementus nevar kārtot pēc '{field}'"),
    ("cannot order by '{field}': not a drilled attribute or a requested measure",
     "nevar kārtot pēc '{field}': tas nav izvērsts atribūts vai pieprasīts mērs"),
    ("members of '{dim}' take cuts on '{d2}' only, not on {others}",
     "dimensijas '{dim}' elementiem der tikai griezumi pēc '{d2}', ne pēc {others}"),
    ("members are those of the dimension, not of the facts in a cell; drop the other cuts",
     "elementi ir dimensijas, nevis šūnas faktu elementi; noņemiet pārējos griezumus"),
    ("as_of must be 'fact', 'now', a date YYYY-MM-DD or a version name, not '{v}'",
     "as_of jābūt 'fact', 'now', datumam GGGG-MM-DD vai versijas nosaukumam, nevis '{v}'"),
    ("no cube '{name}'", "kuba '{name}' nav"),
    ("no indicator '{name}'", "rādītāja '{name}' nav"),
    # the answer's size and time (query/executor.py, query/limits.py, service/paging.py)
    ("the answer has more than {n} cells, the server's limit per response",
     "atbildē ir vairāk nekā {n} šūnu, vairāk, nekā serveris atbild vienā reizē"),
    ("the answer has more than {n} subtotal rows, the server's limit per response",
     "atbildē ir vairāk nekā {n} starpsummu rindu, vairāk, nekā serveris atbild vienā reizē"),
    ("page through it with page= and pagesize=, or narrow the cut",
     "lasiet to pa lapām ar page= un pagesize= vai sašauriniet griezumu"),
    ("{what} took longer than the server's limit of {s} s", "{what} ilga vairāk par servera robežu {s} s"),
    ("narrow the cut, drill fewer levels or ask for a smaller page",
     "sašauriniet griezumu, izvērsiet mazāk līmeņu vai prasiet mazāku lapu"),
    ("{what} needs more memory than the server's limit per query",
     "{what} prasa vairāk atmiņas, nekā serveris atļauj vienam vaicājumam"),
    ("narrow the cut or drill fewer levels", "sašauriniet griezumu vai izvērsiet mazāk līmeņu"),
    ("subtotals=cube over these drilldowns makes {n} grouping sets, more than {m}",
     "subtotals=cube šiem izvērsumiem dod {n} grupēšanas kopas, vairāk nekā {m}"),
    ("use subtotals=rollup, or drill fewer levels", "lietojiet subtotals=rollup vai izvērsiet mazāk līmeņu"),
    ("subtotals must be one of {kinds}, not '{k}'", "subtotals jābūt vienam no {kinds}, nevis '{k}'"),
    ("pagesize must be at least 1", "pagesize jābūt vismaz 1"),
    ("page must be 0 or more", "page jābūt 0 vai vairāk"),
    ("page must be at most {n}", "page jābūt ne vairāk kā {n}"),
    ("pagesize {p} is over the server's limit of {n}", "pagesize {p} pārsniedz servera robežu {n}"),
    ("use pagesize<={n}", "lietojiet pagesize<={n}"),
    ("page × pagesize must be below {n}", "page × pagesize jābūt mazākam par {n}"),
    ("cube '{cube}' cannot be answered: its facts ({table}) are damaged on disk",
     "uz kuba '{cube}' vaicājumiem nevar atbildēt: tā fakti ({table}) diskā ir bojāti"),
    ("see /health or `labis check`; restore the data directory or reload the cube",
     "skatiet /health vai `labis check`; atjaunojiet datu mapi vai ielādējiet kubu no jauna"),
    # who may see what (service/policy.py, service/cube_service.py, api/deps.py)
    ("your roles restrict {what} on different dimensions, which cannot be combined",
     "jūsu lomas ierobežo {what} pēc dažādām dimensijām, ko nevar apvienot"),
    ("your roles restrict {what} in ways that cannot be combined",
     "jūsu lomas ierobežo {what} veidos, ko nevar apvienot"),
    ("ask the administrator for a role that grants what you need",
     "lūdziet administratoram lomu, kas dod vajadzīgo piekļuvi"),
    ("'{dim}' can be drilled only along hierarchy '{h}' for your roles",
     "jūsu lomām '{dim}' var izvērst tikai pa hierarhiju '{h}'"),
    ("drill {dim}@{h}", "izvērsiet {dim}@{h}"),
    ("subtotals are not available drilled to '{dim}' at this level for your roles",
     "jūsu lomām starpsummas, izvēršot '{dim}' šajā līmenī, nav pieejamas"),
    ("drill one level up, or ask without subtotals", "izvērsiet vienu līmeni augstāk vai vaicājiet bez starpsummām"),
    ("fact rows of cube '{cube}' are not available to your roles", "kuba '{cube}' faktu rindas jūsu lomām nav pieejamas"),
    ("ask for aggregates, or for a role with the microdata grant",
     "vaicājiet apkopojumus vai lūdziet lomu ar piekļuvi mikrodatiem"),
    ("fact rows of cube '{cube}' are not published", "kuba '{cube}' faktu rindas netiek publicētas"),
    ("published answers are aggregates under disclosure control (docs/disclosure.md)",
     "publicētās atbildes ir apkopojumi ar atklāšanas kontroli (docs/disclosure.md)"),
    ("a signed-in browser's request that changes or costs something must come from this server's pages",
     "pierakstīta pārlūka pieprasījumam, kas kaut ko maina vai prasa resursus, jānāk no šī servera lapām"),
    ("programs send `Authorization: Bearer …` or `X-API-Key` instead of the session cookie",
     "programmas sesijas sīkdatnes vietā sūta `Authorization: Bearer …` vai `X-API-Key`"),
    # disclosure control (service/disclosure.py)
    ("published answers cannot be split", "publicētās atbildes nevar sadalīt (split)"),
    ("ask for the two parts as cuts", "vaicājiet abas daļas kā griezumus"),
    ("published answers cannot take another hierarchy version", "publicētās atbildes nevar ņemt citu hierarhijas versiju"),
    ("ask without as_of", "vaicājiet bez as_of"),
    ("published answers cannot merge members of '{dim}' into one cell (a set, range or exclusion cut)",
     "publicētās atbildes nevar apvienot '{dim}' elementus vienā šūnā (kopas, intervāla vai izslēgšanas griezums)"),
    ("drill '{dim}' at the level of the cut, or cut one member",
     "izvērsiet '{dim}' griezuma līmenī vai grieziet vienu elementu"),
    ("published answers cannot go finer than the publication tables",
     "publicētās atbildes nevar būt sīkākas par publicēšanas tabulām"),
    ("published tables: {tables}", "publicēšanas tabulas: {tables}"),
    ("published answers cannot be ordered by a measure", "publicētās atbildes nevar kārtot pēc mēra"),
    ("order by a level (e.g. `order=territory.region`): the order of confidential cells would reveal their values",
     "kārtojiet pēc līmeņa (piemēram, `order=territory.region`): konfidenciālu šūnu secība atklātu to vērtības"),
    ("a publication role with member or row restrictions cannot be answered",
     "publicēšanas lomai ar elementu vai rindu ierobežojumiem nevar atbildēt"),
    ("publication roles see whole publication tables (docs/disclosure.md)",
     "publicēšanas lomas redz veselas publicēšanas tabulas (docs/disclosure.md)"),
    ("cube '{cube}' cannot be published: no measure counts its contributors",
     "kubu '{cube}' nevar publicēt: neviens mērs neskaita tā datu devējus"),
    ("the publication tables of cube '{cube}' have more than {n} cells",
     "kuba '{cube}' publicēšanas tabulās ir vairāk nekā {n} šūnu"),
    ("the publication tables of cube '{cube}' cannot be protected", "kuba '{cube}' publicēšanas tabulas nevar aizsargāt"),
    ("declare coarser tables (docs/disclosure.md)", "norādiet rupjākas tabulas (docs/disclosure.md)"),
    ("the protection of cube '{cube}' is still being computed (once after each load)",
     "kuba '{cube}' aizsardzība vēl tiek aprēķināta (reizi pēc katras ielādes)"),
    ("ask again in a moment", "jautājiet vēlreiz pēc brīža"),
    # signing in (security/authenticate.py, security/tokens.py)
    ("authentication required", "jāpierakstās"),
    ("send `Authorization: Bearer <token>` (an access token of the identity provider, or an API key), "
     "`X-API-Key: <key>`, or HTTP Basic with the API key as the password",
     "sūtiet `Authorization: Bearer <marķieris>` (identitātes pakalpojuma piekļuves marķieri vai API atslēgu), "
     "`X-API-Key: <atslēga>` vai HTTP Basic ar API atslēgu kā paroli"),
    ("unknown or revoked API key", "nezināma vai atsaukta API atslēga"),
    ("the token has expired", "marķiera derīgums ir beidzies"),
    ("get a new one from the identity provider", "saņemiet jaunu no identitātes pakalpojuma"),
    ("the token's signature does not verify", "marķiera paraksts nav derīgs"),
    # the request itself (api/guard.py, api/errors.py)
    ("more than {rate} requests per second (burst {burst})", "vairāk nekā {rate} pieprasījumu sekundē (uzplūdā {burst})"),
    ("wait for the seconds in Retry-After", "pagaidiet Retry-After norādītās sekundes"),
    ("the request body is larger than {n} bytes", "pieprasījuma saturs ir lielāks par {n} baitiem"),
    ("the path and query string are longer than {n} bytes", "ceļš un vaicājuma virkne ir garāki par {n} baitiem"),
    ("send a report as POST /cube/{{cube}}/report", "sūtiet atskaiti kā POST /cube/{{cube}}/report"),
    ("the headers are longer than {n} bytes", "galvenes ir garākas par {n} baitiem"),
    ("no such route: {method} {path}", "tāda ceļa nav: {method} {path}"),
    ("see /openapi.json for the routes", "ceļi ir aprakstīti /openapi.json"),
    ("method {method} is not allowed on {path}", "metode {method} nav atļauta ceļam {path}"),
    ("internal error (logged)", "iekšēja kļūda (ierakstīta žurnālā)"),
    ("the database engine could not answer this request (logged)",
     "datubāzes dzinējs nevarēja atbildēt uz šo pieprasījumu (ierakstīts žurnālā)"),
)  # fmt: skip

# Words that fill a `{what}` slot, translated with the sentence around them.
WORDS: Final[Mapping[str, str]] = {
    "cut": "griezums",
    "drilldown": "izvērsums",
    "order": "kārtojums",
    "year": "gads",
    "quarter": "ceturksnis",
    "month": "mēnesis",
    "day": "diena",
    "the aggregate": "apkopojums",
    "cells": "šūnas",
    "fact rows": "faktu rindas",
    "members": "elementus",
}


@cache
def _compiled() -> tuple[tuple[parse.Parser, str], ...]:
    return tuple((parse.compile(en, case_sensitive=True), lv) for en, lv in LV)


def _lv(text: str) -> str | None:
    for parser, lv in _compiled():
        found = parser.parse(text)
        if isinstance(found, parse.Result):
            named = {k: WORDS.get(v, v) if k == "what" else v for k, v in found.named.items()}
            return lv.format(**named)
    return None


def translated(message: str, hint: str | None, lang: str) -> tuple[str, str | None, str]:
    """The message and hint in `lang` and the language they are in: both translated, or both
    left in English when either is unknown to the catalogue."""
    if lang != "lv":
        return message, hint, "en"
    message_lv = _lv(message)
    hint_lv = None if hint is None else _lv(hint)
    if message_lv is None or (hint is not None and hint_lv is None):
        return message, hint, "en"
    return message_lv, hint_lv, "lv"


def asked_language(query_lang: str | None, accept_language: str | None) -> str:
    """`lang=` when it names one of ours, else the first of ours in Accept-Language by its
    weight (RFC 9110 §12.5.4), else English, the API's own language."""
    if query_lang in LANGS:
        return query_lang
    best, weight = "en", 0.0
    for part in (accept_language or "").split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if primary in LANGS and q > weight:  # equal weights: the earlier wins
            best, weight = primary, q
    return best
