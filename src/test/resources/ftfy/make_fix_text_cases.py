"""Writes fix_text_cases.json: inputs and what ftfy 6.1.1's fix_text (default settings) makes of them.
ftfy was run from its v6.1.1 source (github.com/rspeer/python-ftfy, MIT) with Debian bookworm's Python 3.11:
    PYTHONPATH=/path/to/ftfy-6.1.1 python3 make_fix_text_cases.py > fix_text_cases.json
The first cases are the examples of ftfy's README and fix_text docstring; "supported" is false for the
documented kinds of mojibake TextFixer does not repair (see its class comment).
ftfy imports wcwidth only for its display functions (formatting.py), which fix_text does not call; where wcwidth
is not installed a stand-in module is registered so that ftfy imports."""
import json
import sys
import types

try:
    import wcwidth  # noqa: F401
except ImportError:
    stand_in = types.ModuleType("wcwidth")
    stand_in.wcwidth = stand_in.wcswidth = lambda *a: None
    sys.modules["wcwidth"] = stand_in
import ftfy

assert ftfy.__version__ == "6.1.1", ftfy.__version__
cases = [
    # ftfy's documentation
    ("\u00e2\u0153\u201d No problems", True),
    ("The Mona Lisa doesn\u00c3\u0192\u00c2\u00a2\u00c3\u00a2\u00e2\u20ac\u0161\u00c2\u00ac\u00c3\u00a2\u00e2\u20ac\u017e\u00c2\u00a2t have eyebrows.", True),
    ("l\u2019humanit\u00c3\u00a9", True),
    ("\u00c3\xa0 perturber la r\u00c3\u00a9flexion", True),
    ("\u00c3 perturber la r\u00c3\u00a9flexion", False),  # restore_byte_a0
    ("P&EACUTE;REZ", True),
    ("IL Y MARQU\u00c9\u2026", True),
    ("&macr;\\_(\u00e3\x83\x84)_/&macr;", True),
    ("Broken text&hellip; it&#x2019;s \ufb02ubberi\ufb01c!", True),
    ("\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33", True),
    # prompts with mojibake
    ("caf\u00c3\u00a9, 1girl, solo", True),
    ("1girl, caf\u00c3\u00a9 au lait, na\u00c3\u00afve smile", True),
    ("Pok\u00c3\u00a9mon, \u00e2\u20ac\u0153quoted\u00e2\u20ac\u009d", True),
    ("\u00c3\u00a4\u00c3\u00b6\u00c3\u00bc \u00c3\u0178", True),
    ("\u00e6\u2014\u00a5\u00e6\u0153\u00ac\u00e8\u00aa\u017e", True),
    ("emoji \u00f0\u0178\u02dc\u20ac face", True),
    ("a real caf\u00e9 stays", True),
    ("\u00c9t\u00e9 \u00e0 Paris", True),
    ("\u00c2\u00b7 middle dot \u00c2\u00b7", True),
    ("price \u00c2\u00a3100", True),
    ("mixed caf\u00c3\u00a9 and caf\u00e9", True),
    ("\u00d0\u00bf\u00d1\u0080\u00d0\u00b8\u00d0\u00b2\u00d0\u00b5\u00d1\u0082", True),
    # UTF-8 read through ftfy's other code pages (windows-1251/1250/1253/1254, iso-8859-2, macroman, cp437)
    ("\u0420\u2018\u0421\u0453\u0420\u0491\u0421\u040a \u0420\u00b7\u0420\u0491\u0420\u0455\u0421\u0402\u0420\u0455\u0420\u0406, \u0420\u0491\u0421\u0402\u0421\u0453\u0420\u0456", True),  # windows-1251
    ("Za\u0139\u013d\u0102\u0142\u0139\u201a\u00c4\u2021 g\u00c4\u2122\u0139\u203al\u00c4\u2026 ja\u0139\u015f\u0139\u201e", True),  # windows-1250
    ("Za\u0139\u017a\u0102\u0142\u0139\u0082\u00c4\u0087 g\u00c4\u0099\u0139\u009bl\u00c4\u0085 ja\u0139\u015f\u0139\u0084", True),  # iso-8859-2
    ("\u039e\u2022\u039e\u00bb\u039e\u00bb\u039e\u00b7\u039e\u00bd\u039e\u0389\u039e\u038a\u039e\u00ac \u039e\u038a\u039e\u00b5\u039e\u2015\u039e\u038c\u039e\u00b5\u039e\u00bd\u039e\u00b1", True),  # windows-1253
    ("\u256c\u00f2\u256c\u2557\u256c\u2557\u256c\u2556\u256c\u255c\u256c\u2563\u256c\u2551\u256c\u00bc \u256c\u2551\u256c\u2561\u256c\u00bb\u256c\u255d\u256c\u2561\u256c\u255c\u256c\u2592", True),  # cp437
    ("na\u221a\u00d8ve caf\u221a\u00a9, \u221a\u00b1and\u221a\u222b", True),  # mac-roman
    ("\u2568\u2510\u2564\u00c7\u2568\u2555\u2568\u2593\u2568\u2561\u2564\u00e9 \u2568\u255d\u2568\u2555\u2564\u00c7", True),  # cp437
    ("T\u00c3\u00bcrk\u00c3\u00a7e karakterler: \u00c4\u0178\u00c3\u00bc\u00c5\u0178i\u00c3\u00b6\u00c3\u00a7", True),  # windows-1254
    ("1girl, \u0421\u20ac\u0420\u0454\u0420\u0455\u0420\u00bb\u0421\u040a\u0420\u0405\u0420\u00b0\u0421\u040f \u0421\u201e\u0420\u0455\u0421\u0402\u0420\u0458\u0420\u00b0, smile", True),  # windows-1251
    ("P\u0139\u0099\u0102\u00adli\u0139\u0104 \u0139\u017elu\u0139\u013dou\u00c4\u008dk\u0102\u02dd k\u0139\u017b\u0139\u0088", True),  # iso-8859-2
    ("\u041e\u0431\u044b\u0447\u043d\u044b\u0439 \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442", True),
    ("Zwyk\u0142y polski tekst, \u0142\u00f3d\u017a", True),
    ("\u2554\u2550\u2550\u2557 box drawing \u2551 stays", True),
    # entities
    ("fish &amp;amp; chips", True),
    ("&lt;3 &hearts; &NotNestedGreaterGreater; &Aacute;&AACUTE;&aacute;", True),
    ("&EUro; &euro; &EURO; &Euro;", True),
    ("&#128512; &#x1F600; &#0; &#128;", True),
    ("a <b> tag &amp; no unescape", True),
    ("R&amp;D, AT&T, &unknown; &amp", True),
]
print(json.dumps([{"input": text, "ftfy": ftfy.fix_text(text), "supported": ok} for text, ok in cases],
                 ensure_ascii=True, indent=1))
