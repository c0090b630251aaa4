"""The keyword query language: parsing, syntax errors, matching and evidence."""

from __future__ import annotations

import pytest

from monitor.errors import QuerySyntaxError
from monitor.rules.matcher import Fields, QueryHit, analyze, compile_query
from monitor.rules.query import And, Field, Near, Node, Not, Or, Term, parse_query

PRODUCT_QUERY = '("declare war" OR "إعلان الحرب") AND (America OR أمريكا)'

AR_WAR = (
    "أكد الأمين العام في بيانه أن إعلان الحرب على أمريكا واجب على الجميع، "
    "وأن قواعد الاحتلال الأمريكي أهداف مشروعة."
)
AR_WAR_VOWELLED = "إِعْلَانُ الْحَرْبِ عَلَى أَمْرِيكَا وَاجِبٌ"
AR_WAR_ISRAEL = "إن إعلان الحرب على الكيان الصهيوني وأمريكا واجب شرعي."
AR_TRUCE = (
    "تعلن الهيئة التنسيقية للمقاومة العراقية تعليق العمليات العسكرية ضد قوات "
    "الاحتلال التزاماً بالهدنة حتى إشعار آخر."
)
AR_DISTRUST = "لن نثق بأمريكا ولا بوعودها، فأمريكا تحمي الكيان، ورسالتنا لأمريكا واضحة."
EN_WAR = (
    "In a statement on Telegram, the secretary-general said it is a duty for everyone "
    "to declare war on America and its occupation bases."
)
EN_TRUCE = (
    "The Coordination Committee announces a truce and a reduction in the pace of "
    "operations against the occupation forces."
)
EN_ESCALATION = "Escalating attacks will continue; the escalation answers the occupation."


def term(text: str, *words: str, prefix: bool = False) -> Term:
    return Term(text, words or (text.lower(),), prefix)


A, B, C = term("a"), term("b"), term("c")
NEAR_OPERANDS = "NEAR needs a word, phrase or prefix on each side (or an OR of them)"


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a", A),
        ("(a)", A),
        ("a b", And((A, B))),
        ("a AND b", And((A, B))),
        ("a b OR c", Or((And((A, B)), C))),
        ("a OR b c", Or((A, And((B, C))))),
        ("a OR (b OR c)", Or((A, Or((B, C))))),
        ("NOT a b", And((Not(A), B))),
        ("NOT a", Not(A)),
        ("NOT NOT a", Not(Not(A))),
        ("NOT a NEAR/2 b", Not(Near(A, B, 2))),
        ("a NEAR/2 b c", And((Near(A, B, 2), C))),
        ("a NEAR/2 b NEAR/3 c", Near(Near(A, B, 2), C, 3)),
        ("(a OR b) NEAR/4 c", Near(Or((A, B)), C, 4)),
        ("war and peace", And((term("war"), term("and"), term("peace")))),
        ("not or", And((term("not"), term("or")))),
        ('"declare war"', term("declare war", "declare", "war")),
        ('"  declare  war "', term("declare  war", "declare", "war")),
        ('"إعلان الحرب"', term("إعلان الحرب", "اعلان", "الحرب")),
        ("أَمْرِيكَا", term("أَمْرِيكَا", "امريكا")),
        ("al-Kaabi", term("al-Kaabi", "al", "kaabi")),
        ("Ka'abi", term("Ka'abi", "kaabi")),
        ("escalat*", term("escalat*", "escalat", prefix=True)),
        ('"declare wa*"', term("declare wa*", "declare", "wa", prefix=True)),
        ("leader:akram-kaabi", Field("leader", "akram-kaabi")),
        ("source:kh_statements", Field("source", "kh_statements")),
        ("LANG:ar", Field("lang", "ar")),
        ("10:30", term("10:30", "10", "30")),
        ('war"peace"', And((term("war"), term("peace")))),
    ],
)
def test_parse(query: str, tree: Node) -> None:
    assert parse_query(query) == tree


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("", "empty query", 1),
        ("   ", "empty query", 1),
        ('("declare war" OR x', "expected ')'", 20),
        ("(war OR peace", "expected ')'", 14),
        ("((war)", "expected ')'", 7),
        ("(أمريكا OR الحرب", "expected ')'", 17),
        ("war)", "unexpected ')'", 4),
        ("(war) peace)", "unexpected ')'", 12),
        ('"declare war', "unterminated quote", 1),
        ('war OR "declare', "unterminated quote", 8),
        ("war AND", "expected a term after 'AND'", 8),
        ("war AND OR peace", "expected a term after 'AND'", 9),
        ("war AND )", "expected a term after 'AND'", 9),
        ("war OR", "expected a term after 'OR'", 7),
        ("NOT", "expected a term after 'NOT'", 4),
        ("war NOT", "expected a term after 'NOT'", 8),
        ("war NEAR/3", "expected a term after 'NEAR/3'", 11),
        ("war NEAR/3 NOT peace", "expected a term after 'NEAR/3'", 12),
        ("(", "expected a term after '('", 2),
        ("()", "expected a term after '('", 2),
        ("AND war", "unexpected 'AND'", 1),
        ("OR war", "unexpected 'OR'", 1),
        ("NEAR/3 war", "unexpected 'NEAR/3'", 1),
        ("war NEAR peace", "NEAR needs a number, as in NEAR/5", 5),
        ("war NEAR/ peace", "NEAR needs a number, as in NEAR/5", 5),
        ("war NEAR/x peace", "NEAR needs a number, as in NEAR/5", 5),
        ("war NEAR/0 peace", "NEAR needs a distance of at least 1, as in NEAR/5", 5),
        ("a NEAR/3 (b AND c)", NEAR_OPERANDS, 10),
        ("leader:x NEAR/3 war", NEAR_OPERANDS, 1),
        ("foo:bar", "unknown field 'foo' (valid: lang, leader, source)", 1),
        ("war AND author:x", "unknown field 'author' (valid: lang, leader, source)", 9),
        ("http://example.org", "unknown field 'http' (valid: lang, leader, source)", 1),
        ("leader:", "expected a value after 'leader:'", 8),
        (
            "lang:a+b",
            "'+' is not allowed in a value of 'lang:' (use letters, digits, '-' and '_')",
            7,
        ),
        ("leader:akram kaabi:", "unknown field 'kaabi' (valid: lang, leader, source)", 14),
        ("*", "'*' must follow a word, as in escalat*", 1),
        ("war *", "'*' must follow a word, as in escalat*", 5),
        ("esc*alat", "'*' is only allowed at the end of a word", 4),
        ("escalat**", "'*' is only allowed at the end of a word", 8),
        ('"declare* war"', "'*' is only allowed at the end of a phrase", 9),
        ('"declare *"', "'*' must follow a word, as in escalat*", 10),
        ('""', "empty phrase", 1),
        ('war " "', "empty phrase", 5),
        ("war - peace", "nothing to match in '-'", 5),
    ],
)
def test_syntax_errors(query: str, message: str, column: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert (caught.value.message, caught.value.column) == (message, column)
    assert str(caught.value) == f"{message} at column {column}"


def test_compile_query_raises_the_same_error() -> None:
    with pytest.raises(QuerySyntaxError, match=r"^expected '\)' at column 20$"):
        compile_query('("declare war" OR x')


# --- matching --------------------------------------------------------------------------

NO_FIELDS = Fields()


def run(
    query: str, text: str, fields: Fields = NO_FIELDS
) -> tuple[tuple[str, ...], list[str]] | None:
    """The matched terms and the exact substrings the evidence spans cut, or None."""
    hit = compile_query(query).match(analyze(text), fields)
    if hit is None:
        return None
    assert list(hit.spans) == sorted(set(hit.spans))
    return hit.terms, [text[start:end] for start, end in hit.spans]


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # the PRODUCT example on Arabic and English statements
        (PRODUCT_QUERY, AR_WAR, (("إعلان الحرب", "أمريكا"), ["إعلان الحرب", "أمريكا"])),
        (PRODUCT_QUERY, EN_WAR, (("declare war", "America"), ["declare war", "America"])),
        (
            PRODUCT_QUERY,
            AR_WAR_VOWELLED,
            (("إعلان الحرب", "أمريكا"), ["إِعْلَانُ الْحَرْبِ", "أَمْرِيكَا"]),
        ),
        (PRODUCT_QUERY, AR_WAR_ISRAEL, (("إعلان الحرب", "أمريكا"), ["إعلان الحرب", "وأمريكا"])),
        (PRODUCT_QUERY, AR_TRUCE, None),
        (PRODUCT_QUERY, EN_TRUCE, None),
        (PRODUCT_QUERY, "We will declare war.", None),
        (PRODUCT_QUERY, "War, they declare, on America.", None),
        # mixed languages in one statement
        (
            PRODUCT_QUERY,
            "Statement: إعلان الحرب on America",
            (("إعلان الحرب", "America"), ["إعلان الحرب", "America"]),
        ),
        # NOT
        ("truce NOT war", EN_TRUCE, (("truce",), ["truce"])),
        ("truce NOT war", "a truce is over, war resumes", None),
        ("NOT war", EN_TRUCE, ((), [])),
        ("NOT war", EN_WAR, None),
        ("الهدنة AND NOT الحرب", AR_TRUCE, (("الهدنة",), ["بالهدنة"])),
        ("الهدنة AND NOT الحرب", AR_WAR, None),
        ("NOT (truce OR الهدنة)", AR_TRUCE, None),
        # implicit AND, in any order, and lowercase operators as words
        ("declare America", EN_WAR, (("declare", "America"), ["declare", "America"])),
        ("America declare", EN_WAR, (("America", "declare"), ["declare", "America"])),
        ("declare peace", EN_WAR, None),
        ('"war declare"', "to declare war", None),
        ("war and peace", "war and peace", (("war", "and", "peace"), ["war", "and", "peace"])),
        ("war and peace", "peace, war", None),
        # OR keeps the evidence of every branch that matched
        ("truce OR occupation", EN_TRUCE, (("truce", "occupation"), ["truce", "occupation"])),
        ("truce OR bombs", EN_TRUCE, (("truce",), ["truce"])),
        # NEAR/n in both orders, too far, phrases, prefixes, OR groups
        ("declare NEAR/3 America", EN_WAR, (("declare", "America"), ["declare", "America"])),
        ("America NEAR/3 declare", EN_WAR, (("America", "declare"), ["declare", "America"])),
        ("declare NEAR/2 America", EN_WAR, None),
        ("declare NEAR/7 bases", EN_WAR, (("declare", "bases"), ["declare", "bases"])),
        ("declare NEAR/6 bases", EN_WAR, None),
        ("bases NEAR/6 declare", EN_WAR, None),
        (
            '"declare war" NEAR/2 America',
            EN_WAR,
            (("declare war", "America"), ["declare war", "America"]),
        ),
        ("الحرب NEAR/2 أمريكا", AR_WAR, (("الحرب", "أمريكا"), ["الحرب", "أمريكا"])),
        ("أمريكا NEAR/1 الحرب", AR_WAR, None),
        ("(America OR أمريكا) NEAR/2 الحرب", AR_WAR, (("أمريكا", "الحرب"), ["الحرب", "أمريكا"])),
        (
            "escalat* NEAR/3 occupation",
            EN_ESCALATION,
            (("escalat*", "occupation"), ["escalation", "occupation"]),
        ),
        ("war NEAR/5 war", "war is war", (("war",), ["war", "war"])),
        ("war NEAR/5 war", "this war goes on", None),
        (
            "war NEAR/2 America",
            "America, far away from here. war on America",
            (("war", "America"), ["war", "America"]),
        ),
        ("a NEAR/1 b NEAR/1 c", "c x a b", None),
        ("a NEAR/1 b NEAR/1 c", "x a b c", (("a", "b", "c"), ["a", "b", "c"])),
        # prefix wildcard
        ("escalat*", EN_ESCALATION, (("escalat*",), ["Escalating", "escalation"])),
        ("escalat*", "scale and escape", None),
        ('"declare wa*"', EN_WAR, (("declare wa*",), ["declare war"])),
        ("احتل*", AR_TRUCE, (("احتل*",), ["الاحتلال"])),
        ("مقاوم*", "دعم المقاومة والمقاومين", (("مقاوم*",), ["المقاومة", "والمقاومين"])),
        ("Ka*", "Ka'abi said", (("Ka*",), ["Ka'abi"])),
    ],
)
def test_match(query: str, text: str, expected: tuple[tuple[str, ...], list[str]] | None) -> None:
    assert run(query, text) == expected


@pytest.mark.parametrize(
    ("query", "text"),
    [
        # case and Latin diacritics
        ("AMERICA", "america"),
        ("america", "AMERICA"),
        ("Husayn", "Ḥusayn"),
        ("élan", "ELAN"),
        ("Kaabi", "Ka'abi"),
        ("Ka'abi", "Kaabi"),
        ("al-Kaabi", "Akram Al Kaabi"),
        ("America", "America's bases"),
        # Arabic diacritics, tatweel, letter variants, digits, invisible characters
        ("أَمْرِيكَا", "أمريكا"),
        ("أمريكا", "أَمْرِيكَا"),
        ("أمريكا", "أمريـــكا"),
        ("امريكا", "أمريكا"),
        ("أمريكا", "آمريكا"),
        ("آمريكا", "امريكا"),
        ("المقاومة", "المقاومه"),
        ("المقاومه", "المقاومة"),
        ("مستشفى", "مستشفي"),
        ("2026", "عام ٢٠٢٦"),
        ("٢٠٢٦", "in 2026"),
        ("2026", "۲۰۲۶"),
        ("أمريكا", "أمر\u200cيكا"),
        ("أمريكا", "\u200fأمريكا\u200f"),
        ("الحرب", "ال\u200bحرب"),
        # proclitics on the statement's words
        ("أمريكا", "وأمريكا"),
        ("أمريكا", "لأمريكا"),
        ("أمريكا", "بأمريكا"),
        ("أمريكا", "فأمريكا"),
        ("أمريكا", "كأمريكا"),
        ("أمريكا", "وبأمريكا"),
        ("الاحتلال", "والاحتلال"),
        ("الاحتلال", "بالاحتلال"),
        ("الاحتلال", "للاحتلال"),
        ("الاحتلال", "فالاحتلال"),
        ("الاحتلال", "وللاحتلال"),
        ("الاحتلال", "احتلال"),
        ("احتلال", "الاحتلال"),
        ("احتلال", "والاحتلال"),
        ("الاحتلال", "الاحتلال"),
        ('"قوات الاحتلال"', "لقوات الاحتلال"),
    ],
)
def test_variants_match(query: str, text: str) -> None:
    hit = run(query, text)
    assert hit is not None
    assert hit[0] == (query.strip('"'),)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("الله", "له"),  # the article is only dropped from a query word when 3 letters remain
        ("امريكا", "امريكان"),
        ("all", "wall"),  # non-Arabic words are never stripped
        ("war", "warfare"),
        ("بغداد", "غداد"),
        ("وامريكا", "امريكا"),  # a query word's own proclitic is not optional
    ],
)
def test_variants_do_not_match(query: str, text: str) -> None:
    assert run(query, text) is None


def test_evidence_spans_cut_the_original_text() -> None:
    text = AR_DISTRUST
    hit = compile_query("أمريكا").match(analyze(text), NO_FIELDS)
    assert hit is not None
    assert hit.terms == ("أمريكا",)
    assert [text[s:e] for s, e in hit.spans] == ["بأمريكا", "فأمريكا", "لأمريكا"]
    assert hit.spans == ((7, 14), (28, 35), (58, 65))


def test_evidence_span_keeps_invisible_characters_inside_the_word() -> None:
    text = "قال: إن أمر\u200cيكا وإسرائيل"
    hit = compile_query("أمريكا").match(analyze(text), NO_FIELDS)
    assert hit is not None
    assert [text[s:e] for s, e in hit.spans] == ["أمر\u200cيكا"]


def test_evidence_ignores_negated_terms_and_repeats() -> None:
    text = "War, war and WAR: the truce is over."
    hit = compile_query("war AND NOT peace AND (war OR truce)").match(analyze(text), NO_FIELDS)
    assert hit is not None
    assert hit.terms == ("war", "truce")
    assert [text[s:e] for s, e in hit.spans] == ["War", "war", "WAR", "truce"]


# --- field filters ---------------------------------------------------------------------

KAABI = Fields(leader="akram-kaabi", source="kaabi-telegram", language="ar")


@pytest.mark.parametrize(
    ("query", "fields", "matches"),
    [
        ("leader:akram-kaabi", KAABI, True),
        ("leader:Akram-Kaabi", KAABI, True),
        ("leader:akram-kaabi", Fields(leader="AKRAM-KAABI"), True),
        ("leader:qais-al-khazali", KAABI, False),
        ("leader:akram-kaabi", Fields(), False),
        ("source:kaabi-telegram", KAABI, True),
        ("source:kaabi", KAABI, False),
        ("lang:ar", KAABI, True),
        ("lang:AR", KAABI, True),
        ("lang:ar", Fields(language="ar-IQ"), True),
        ("lang:en", KAABI, False),
        ("lang:ar", Fields(), False),
        ("NOT lang:ar", Fields(), True),
        ("NOT lang:ar", KAABI, False),
        ("leader:akram-kaabi AND الحرب", KAABI, True),
        ("leader:akram-kaabi AND الحرب", Fields(leader="qais-al-khazali"), False),
        ("source:kh-statements OR source:kaabi-telegram", KAABI, True),
        ("lang:en OR truce", KAABI, False),
    ],
)
def test_field_filters(query: str, fields: Fields, matches: bool) -> None:
    hit = compile_query(query).match(analyze(AR_WAR), fields)
    assert (hit is not None) is matches


def test_field_filter_alone_gives_empty_evidence() -> None:
    assert compile_query("lang:ar").match(analyze(AR_WAR), KAABI) == QueryHit((), ())


def test_match_without_fields() -> None:
    assert compile_query("leader:akram-kaabi").match(analyze(AR_WAR)) is None
    assert compile_query("الحرب").match(analyze(AR_WAR)) is not None


# --- compiled query helpers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "terms", "requires_terms"),
    [
        (PRODUCT_QUERY, {"declare", "war", "اعلان", "الحرب", "america", "امريكا"}, True),
        ("escalat* NEAR/3 war", {"escalat*", "war"}, True),
        ('"declare wa*" NOT truce', {"declare", "wa*"}, True),
        ("NOT war", set(), False),
        ("lang:ar", set(), False),
        ("lang:ar AND war", {"war"}, True),
        ("lang:ar OR war", {"war"}, False),
        ("war OR NOT peace", {"war"}, False),
        ("أَمْرِيكَا", {"امريكا"}, True),
    ],
)
def test_terms(query: str, terms: set[str], requires_terms: bool) -> None:
    compiled = compile_query(query)
    assert compiled.text == query
    assert compiled.terms() == frozenset(terms)
    assert compiled.requires_terms is requires_terms


def test_one_analysis_serves_many_queries() -> None:
    doc = analyze(EN_WAR)
    queries = [compile_query(q) for q in (PRODUCT_QUERY, "truce", "occupation", "NOT war")]
    assert [q.match(doc, NO_FIELDS) is not None for q in queries] == [True, False, True, False]
