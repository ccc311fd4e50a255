"""Writes fix_text_cases.json: inputs and what ftfy 6.1.1's fix_text (default settings) makes of them.
ftfy was run from its v6.1.1 source (github.com/rspeer/python-ftfy, MIT) with Debian bookworm's Python 3.11:
    PYTHONPATH=/path/to/ftfy-6.1.1 python3 make_fix_text_cases.py > fix_text_cases.json
The first cases are the examples of ftfy's README and fix_text docstring; "supported" is false for the
documented kinds of mojibake TextFixer does not repair (see its class comment)."""
import json
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
