"""What :mod:`monitor.text.language` knows: scripts, frequent words and telltale letters.

Every list here is written by hand from general knowledge of the languages (no
corpus is shipped): each language's most frequent function words, and the
letters only it (or few others) writes. Words are lowercase; Arabic-script words
are in the form :func:`monitor.text.language.arabic_key` gives them (alef
variants as ا, Arabic ي ى as Persian ی, Arabic ك as Persian ک, ة as ه; Urdu ہ ھ
stay apart, so Urdu کہ is not Persian که).
"""

from __future__ import annotations

# --- scripts: (first code point, last code point, script) ---------------------------------

SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"), (0x0250, 0x02AF, "latin"), (0x0370, 0x03FF, "greek"),
    (0x0400, 0x052F, "cyrillic"), (0x0530, 0x058F, "armenian"), (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"), (0x0700, 0x074F, "syriac"), (0x0750, 0x077F, "arabic"),
    (0x0780, 0x07BF, "thaana"), (0x08A0, 0x08FF, "arabic"), (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"), (0x0A00, 0x0A7F, "gurmukhi"), (0x0A80, 0x0AFF, "gujarati"),
    (0x0B00, 0x0B7F, "oriya"), (0x0B80, 0x0BFF, "tamil"), (0x0C00, 0x0C7F, "telugu"),
    (0x0C80, 0x0CFF, "kannada"), (0x0D00, 0x0D7F, "malayalam"), (0x0D80, 0x0DFF, "sinhala"),
    (0x0E00, 0x0E7F, "thai"), (0x0E80, 0x0EFF, "lao"), (0x0F00, 0x0FFF, "tibetan"),
    (0x1000, 0x109F, "myanmar"), (0x10A0, 0x10FF, "georgian"), (0x1100, 0x11FF, "hangul"),
    (0x1200, 0x139F, "ethiopic"), (0x1780, 0x17FF, "khmer"), (0x1C80, 0x1C8F, "cyrillic"),
    (0x1C90, 0x1CBF, "georgian"), (0x1D00, 0x1DBF, "latin"), (0x1E00, 0x1EFF, "latin"),
    (0x1F00, 0x1FFF, "greek"), (0x2C00, 0x2C5F, "glagolitic"), (0x2C60, 0x2C7F, "latin"),
    (0x2D00, 0x2D2F, "georgian"), (0x2DE0, 0x2DFF, "cyrillic"), (0x3040, 0x309F, "kana"),
    (0x30A0, 0x30FF, "kana"), (0x3100, 0x312F, "han"), (0x3130, 0x318F, "hangul"),
    (0x31F0, 0x31FF, "kana"), (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"),
    (0xA640, 0xA69F, "cyrillic"), (0xA720, 0xA7FF, "latin"), (0xAC00, 0xD7AF, "hangul"),
    (0xF900, 0xFAFF, "han"), (0xFB00, 0xFB06, "latin"), (0xFB1D, 0xFB4F, "hebrew"),
    (0xFB50, 0xFDFF, "arabic"), (0xFE70, 0xFEFF, "arabic"), (0xFF21, 0xFF5A, "latin"),
    (0xFF66, 0xFF9F, "kana"), (0x20000, 0x2FA1F, "han"),
)  # fmt: skip

# A script written by one language (or one by far the most common): its code.
SCRIPT_LANGUAGE: dict[str, str] = {
    "greek": "el", "armenian": "hy", "hebrew": "he", "syriac": "syr", "thaana": "dv",
    "devanagari": "hi", "bengali": "bn", "gurmukhi": "pa", "gujarati": "gu", "oriya": "or",
    "tamil": "ta", "telugu": "te", "kannada": "kn", "malayalam": "ml", "sinhala": "si",
    "thai": "th", "lao": "lo", "tibetan": "bo", "myanmar": "my", "georgian": "ka",
    "hangul": "ko", "ethiopic": "am", "khmer": "km", "kana": "ja", "han": "zh",
    "glagolitic": "cu", "arabic": "ar", "cyrillic": "ru", "latin": "en",
}  # fmt: skip

# Other languages written in a script: a hint naming one of them is believed when the
# text alone does not decide (Marathi and Nepali in Devanagari, Pashto in Arabic...).
SCRIPT_HINTS: dict[str, frozenset[str]] = {
    "arabic": frozenset({"ar", "fa", "ur", "ku", "ps", "sd", "ug", "ks", "pa", "az", "ms"}),
    "cyrillic": frozenset(
        {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn", "tt", "ba", "cv", "ce"}
    ),
    "devanagari": frozenset({"hi", "mr", "ne", "sa", "bho", "mai"}),
    "bengali": frozenset({"bn", "as"}),
    "hebrew": frozenset({"he", "yi"}),
    "han": frozenset({"zh", "ja", "yue"}),
    "ethiopic": frozenset({"am", "ti"}),
    "georgian": frozenset({"ka"}),
}

# Three-letter and legacy codes a hint may use, as ISO 639-1.
CODE_ALIASES: dict[str, str] = {
    "ara": "ar", "arb": "ar", "acm": "ar", "fas": "fa", "per": "fa", "pes": "fa", "prs": "fa",
    "urd": "ur", "kur": "ku", "ckb": "ku", "kmr": "ku", "sdh": "ku", "eng": "en", "heb": "he",
    "iw": "he", "rus": "ru", "ukr": "uk", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr",
    "spa": "es", "por": "pt", "ita": "it", "nld": "nl", "dut": "nl", "tur": "tr", "pol": "pl",
    "ind": "id", "in": "id", "ron": "ro", "rum": "ro", "swe": "sv", "ell": "el", "gre": "el",
    "zho": "zh", "chi": "zh", "jpn": "ja", "kor": "ko", "hin": "hi",
}  # fmt: skip

# --- Arabic script ---------------------------------------------------------------------------
# Letters of one member of the family, counted in the raw text (weights per occurrence).
ARABIC_SCRIPT_LETTERS: dict[str, dict[str, float]] = {
    # Arabic orthography: Arabic ya, alef maqsura, kaf, ta marbuta (Persian, Urdu and
    # Kurdish keyboards write ی ک and rarely ة).
    "ar": {"\u064a": 1.0, "\u0649": 1.0, "\u0643": 1.0, "\u0629": 1.0},
    # پ چ ژ گ ی ک: not Arabic; shared by Persian, Urdu and Kurdish (so given to each).
    "fa": {
        "\u067e": 1.0, "\u0686": 1.0, "\u0698": 1.0, "\u06af": 1.0, "\u06cc": 1.0, "\u06a9": 1.0,
    },
    # ے ۓ ں ٹ ڈ ڑ ہ (and ھ, also Sorani): Urdu.
    "ur": {
        "\u067e": 1.0, "\u0686": 1.0, "\u0698": 1.0, "\u06af": 1.0, "\u06cc": 1.0, "\u06a9": 1.0,
        "\u06d2": 3.0, "\u06d3": 3.0, "\u06ba": 3.0, "\u0679": 3.0, "\u0688": 3.0, "\u0691": 3.0,
        "\u06c1": 3.0, "\u06be": 1.0,
    },
    # ێ ۆ ڕ ڵ ە: Kurdish (Sorani); ھ is its h.
    "ku": {
        "\u067e": 1.0, "\u0686": 1.0, "\u0698": 1.0, "\u06af": 1.0, "\u06cc": 1.0, "\u06a9": 1.0,
        "\u06ce": 3.0, "\u06c6": 3.0, "\u0695": 3.0, "\u06b5": 3.0, "\u06d5": 3.0, "\u06be": 1.0,
    },
}  # fmt: skip

ARABIC_SCRIPT_WORDS: dict[str, str] = {
    "ar": """
        في من على الی ان التی الذی الذین هذا هذه ذلک تلک عن مع کان کانت قد لا لم لن
        بعد قبل حتی عند کل بین او هو هی ثم کما التی ایضا الیوم حول ضد خلال منذ الا
        وفی ومن وعلی والی وان ولا وقد انه انها الله علیه قال اذا لقد اي ای نحن ما
        هل لکن لدی امام عبر تحت دون غیر وقال حیث وذلک وهو وهی الذي
    """,
    "fa": """
        از به با در که این آن را است هست بود شد شده کرد کرده می نمی های ها برای تا
        یک هم اما یا اگر نیز باید خود ما شما آنها ایشان او وی چه چرا کجا همه بر پس
        دیگر خواهد کند کنند میشود داد دارد دارند هستند بودند شود گفت ای آیا روی
    """,
    "ur": """
        کے کی کا ہے ہیں میں سے نے کو اور پر یہ وہ تھا تھی تھے گا گی گے ہو ہوں کہ جو
        بھی لیے لئے کیا کر رہا رہی رہے ایک اس ان جب تک نہیں کوئی ساتھ بعد مطابق
    """,
    "ku": """
        لە بۆ کە ئەو ئەم بە دە لەگەڵ لەسەر ناو هەموو هەر نەک بەڵام یان ئێمە ئێوە
        ئەوان من تۆ ئەوە ئەمە دەکات کرد بوو دەبێت هەیە نییە دوای پێش سەر
    """,
}

# --- Latin script ----------------------------------------------------------------------------
LATIN_WORDS: dict[str, str] = {
    "en": """
        the a of and to in is that for it with as was on be by this are from at or an have
        has not but they we you he she his her their will would which who been were had
        said there what all can more about its after than them our i my do does did how
        when if no so up out into also just one new over says us your could should may
        these those any other only some such then very because while where why between
        under against during before through
    """,
    "fr": """
        le la les de des du un une et est en que qui dans pour pas sur au aux avec ce
        cette ces il ils elle elles ne se par plus son sa ses sont été être ont a à leur
        leurs mais ou où nous vous on je tu y comme tout tous très aussi même fait dit
        après avant entre sans sous chez lui dont
    """,
    "de": """
        der die das den dem des ein eine einer eines einem und ist nicht zu mit von auf
        für im in es sich auch als an bei dass daß wird werden wurde sind war hat haben
        noch nach aus wie oder aber nur um über so vor bis kann mehr sein ihre ihr sie er
        wir ich man zum zur durch einen
    """,
    "es": """
        el la los las de del y que en un una es por con para no se al lo su sus como más
        pero fue ha son está este esta estos entre sobre también ya o porque muy hasta
        desde donde cuando le les me sin ser hay
    """,
    "pt": """
        o a os as de do da dos das e que em um uma é por com para não se ao no na nos nas
        seu sua mais mas foi ser são está como também já ou pelo pela entre sobre quando
        muito até ele ela eles isso este esta à às pelos aos num numa sem seus suas após
        durante segundo contra
    """,
    "it": """
        il lo la i gli le di del della dei delle e è che in un una per con non si al alla
        da dal sono come anche più ma ha ho nel nella questo questa su sul tra fra se
        essere stato era suo sua loro ci ne molto
    """,
    "nl": """
        de het een en van is dat op te in voor met niet zijn er aan ook als bij door om
        maar dan wat naar heeft hij ze zij wordt werd nog uit over worden kan tot deze die
        was geen wel meer
    """,
    "tr": """
        ve bir bu da de için ile çok ne o olarak gibi daha kadar sonra olan en ama var yok
        ki mi şu her ben sen biz siz onlar değil olduğunu ise tarafından göre ancak
        üzerinde
    """,
    # Kurmanji (Northern Kurdish), Latin script.
    "ku": """
        û di de ji bi li ku ew ev vê vî wê wî ya yê yên jî ne na min me we wan te heta ser
        nav bo re ra da kir dike dibe bû ye hatin hat tê dê an lê çi çawa em hûn xwe
        piştî berî divê dikin
    """,
    "pl": """
        i w na z do nie się to że jest o jak po a od za przez dla jego jej ich ale co czy
        tak już być który która które oraz także tylko może
    """,
    "id": """
        yang dan di ke dari ini itu dengan untuk tidak ada dalam akan pada juga oleh
        karena sebagai mereka kami kita saya atau telah sudah bisa lebih
    """,
    "ro": """
        și în de la a cu pe din care este nu că se o un una mai sau pentru fost sunt au
        ale lui ei al prin după acest această
    """,
    "sv": """
        och att det som en på är av för med till den har de inte om ett han hon men var
        jag så från vi kan eller när också efter
    """,
}

LATIN_LETTERS: dict[str, dict[str, float]] = {
    "de": {"ß": 2.0, "ä": 0.5, "ö": 0.3, "ü": 0.5},
    "tr": {"ı": 2.0, "ğ": 2.0, "ş": 0.7, "ç": 0.3, "ö": 0.3, "ü": 0.3},
    "ku": {"ê": 0.3, "î": 0.2, "û": 0.5, "ş": 0.3, "ç": 0.2},
    "fr": {"è": 0.3, "ê": 0.2, "ç": 0.2, "œ": 1.0, "à": 0.3, "ù": 0.5},
    "es": {"ñ": 1.5, "¿": 2.0, "¡": 2.0},
    "pt": {"ã": 1.5, "õ": 1.5, "ç": 0.3, "ê": 0.3, "ô": 0.2},
    "it": {"ì": 0.3, "ò": 0.3, "ù": 0.2},
    "pl": {"ą": 1.0, "ę": 1.0, "ł": 1.0, "ś": 1.0, "ź": 1.0, "ż": 1.0, "ń": 1.0, "ć": 1.0},
    "ro": {"ă": 1.0, "ș": 1.0, "ş": 0.3, "ț": 1.0, "ţ": 1.0, "â": 0.3, "î": 0.3},
    "sv": {"å": 1.0, "ä": 0.3, "ö": 0.3},
}

# --- Cyrillic script -------------------------------------------------------------------------
CYRILLIC_WORDS: dict[str, str] = {
    "ru": """
        и в не на что он я с как это по но из у к за от так же то все она было был его для
        мы вы они только уже если бы когда даже или ее её их о об при чтобы будет есть нет
        этот эта эти который которые может сказал себя
    """,
    "bg": """
        и на е да се за не от са в че с по как това той тя ще си го които който която но
        при след във със към още както ли беше бяха има нея него тези този тази
    """,
    "uk": """
        і в на не що з у та до як це за від він вона його її їх але для ми ви вони був
        була було є бути які який яка також щоб так вже тому коли або
    """,
    "sr": "и у на је да се за не од са што су као то али из по ће био била који која које",
    "mk": "и на во е да се за не од со што тоа ќе ги го но како по беше",
    "be": "і ў на не што з у да як гэта за ад ён яна яго яе але для мы вы яны быў была было",
    "kk": "және мен да де бұл үшін ол бар жоқ деп осы бір сол емес",
}

CYRILLIC_LETTERS: dict[str, dict[str, float]] = {
    "ru": {"ы": 1.0, "э": 1.0, "ё": 1.0, "ъ": 0.2},
    "bg": {"ъ": 0.7},
    "uk": {"і": 0.5, "ї": 2.0, "є": 1.5, "ґ": 2.0},
    "be": {"ў": 2.0, "і": 0.5, "ы": 0.5, "э": 0.5},
    "sr": {"ђ": 2.0, "ћ": 2.0, "џ": 1.0, "љ": 1.0, "њ": 1.0, "ј": 1.0},
    "mk": {"ѓ": 2.0, "ќ": 2.0, "ѕ": 2.0, "џ": 1.0, "љ": 1.0, "њ": 1.0, "ј": 1.0},
    "kk": {"ә": 1.0, "ғ": 1.0, "қ": 1.0, "ң": 1.0, "ө": 1.0, "ұ": 1.0, "ү": 1.0, "һ": 0.5},
}
