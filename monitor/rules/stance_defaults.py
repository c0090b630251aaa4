"""Built-in word lists of the lexicon stance scorer: negators, reporting frames, targets.

Words are written as a user would write them in a query (they are folded the
same way): a trailing ``*`` is a prefix; Arabic words match with their
proclitics (ولن, فلا, بلا match لن, لا), as everywhere in the query language. A
stance's own ``negators`` (once the config schema has them) replace
:data:`NEGATORS` for that stance, and its ``targets`` replace :data:`TARGETS`.
"""

from __future__ import annotations

__all__ = [
    "ADJACENT_NEGATORS",
    "NEGATORS",
    "NEGATOR_EXCEPTIONS",
    "NEWS_MARKERS",
    "SPEECH_VERBS",
    "TARGETS",
]

# Words that cancel the cue that follows them within a few words: negation
# particles, "refuse/reject/avoid/prevent", and words that end or reverse what
# follows ("the end of the truce", "خفض التصعيد", "de-escalation").
NEGATORS: dict[str, tuple[str, ...]] = {
    "ar": (
        "لن", "لا", "لم", "ليس", "ليست", "لسنا", "ليسوا", "عدم", "دون", "بدون", "ضد",
        "رفض*", "نرفض*", "يرفض*", "ترفض*", "رافض*", "تجنب*", "نتجنب*", "يجنب*", "تجنيب*",
        "منع", "لمنع", "خفض", "تخفيض", "احتواء", "وقف", "إيقاف", "إنهاء", "انتهاء", "انتهت",
        "انهيار", "خرق", "انتهاك*", "ما", "غير",
    ),
    "en": (
        "not", "no", "never", "nor", "neither", "without", "cannot", "cant", "wont", "dont",
        "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "hasnt", "havent", "wouldnt",
        "shouldnt", "refus*", "reject*", "avoid*", "prevent*", "against", "de", "end",
        "ending", "ended", "collapse", "violat*", "breach*",
    ),
}  # fmt: skip
# Negators that only count right before the cue: further away they are common words
# that negate nothing (ما is also "what", غير "other than", "de" a name particle).
ADJACENT_NEGATORS = frozenset({"ما", "غير", "de", "no"})
# A negator followed by one of these words does not negate: لا يزال "still", لا سيما
# "especially", لا بد "must", لا محالة "inevitably", ما زال "still", "not only"...
NEGATOR_EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "لا": ("يزال", "تزال", "زال", "نزال", "يزالون", "زالت", "سيما", "بد", "محالة", "شك", "ريب"),
    "ما": ("زال", "زالت", "يزال", "تزال", "دام", "دامت", "لم", "بعد"),
    "لم": ("يزل", "تزل", "نزل"),
    "not": ("only",),
    "no": ("doubt", "matter", "longer"),
}  # fmt: skip

# Reporting frames. A cue after a speech verb, in the same sentence and not inside a
# direct quotation (no colon or opening quote between), is reported speech: "Trump
# said that...", "قال إن...". A cue after a news marker, in the same sentence even
# across a colon, is news: "إعلام العدو: ...", "according to sources...".
SPEECH_VERBS: dict[str, tuple[str, ...]] = {
    "ar": (
        "قال", "قالت", "يقول", "تقول", "قالوا", "أفاد", "أفادت", "يفيد", "تفيد", "ذكر", "ذكرت",
        "صرح", "صرحت", "نقل", "نقلت", "أشار", "أشارت", "يشير", "تشير", "كشف", "كشفت", "زعم",
        "يزعم", "تزعم", "ادعى", "أضاف", "أضافت", "هدد", "هددت", "يهدد", "تهدد",
    ),
    "en": (
        "said", "says", "say", "told", "tells", "stated", "claimed", "claims", "added",
        "threatened", "threatens", "warned", "warns",
    ),
}  # fmt: skip
# Not speech verbs here: أكد، أعلن، دعا، طالب, "announced", "called": the groups and
# governments write their own statements in the third person ("تعلن المقاومة
# الإسلامية تعليق عملياتها", "وتدعو الحكومة جميع الأطراف").
NEWS_MARKERS: dict[str, tuple[str, ...]] = {
    "ar": (
        "إعلام", "وسائل", "مصدر", "مصادر", "تقرير", "تقارير", "صحيفة", "وكالة", "مراسل",
        "وفقا", "بحسب", "حسب", "نقلا", "أنباء", "مراقبون", "محللون",
    ),
    "en": (
        "according", "reportedly", "reported", "report", "reports", "sources", "source",
        "media", "journal", "newspaper", "agency", "correspondent",
    ),
}  # fmt: skip

# Whom a stance is about, per target key (queries of the query language), for a
# stance whose config names no targets. A term inside a longer term of another
# target does not count there: الاحتلال in "الاحتلال الصهيوني" is Israel, not the US.
TARGETS: dict[str, dict[str, tuple[str, ...]]] = {
    "us": {
        "en": (
            "America", "American*", '"United States"', '"U.S."', "Washington", "Pentagon",
            '"White House"', "Trump", "occupation", "occupier*", "CENTCOM", '"Great Satan"',
        ),
        "ar": (
            "أمريك*", "أميرك*", "واشنطن", '"الولايات المتحدة"', "البنتاغون", "البنتاجون",
            '"البيت الأبيض"', "ترامب", "ترمب", "الاحتلال", "المحتل*", "الاستكبار",
            '"الشيطان الأكبر"', '"القيادة المركزية"',
        ),
    },
    "israel": {
        "en": (
            "Israel", "Israeli*", "Zionist*", "Netanyahu", '"Tel Aviv"', '"occupied Palestine"',
            '"Israeli occupation"', '"Zionist occupation"',
        ),
        "ar": (
            "إسرائيل", "إسرائيلي*", "الإسرائيلي*", "صهيون*", "الصهيون*", "الصهيو*", "صهاين*",
            "الصهاين*", "الكيان", '"الكيان الصهيوني"', "نتنياهو", '"تل أبيب"',
            '"الاحتلال الصهيوني"', '"الاحتلال الإسرائيلي"', '"فلسطين المحتلة"',
            '"الفلسطيني المحتل"', '"جيش الاحتلال"',
        ),
    },
}  # fmt: skip
