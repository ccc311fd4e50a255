"""Writes src/main/resources/sdtrainer/model/clip/html-entities.tsv, the named entities ftfy 6.1.1's
unescape_html decodes (chardata._build_html_entities): every semicolon-terminated name of Python's
html.entities.html5, plus the all-caps spelling of a lower-case name when html.unescape leaves that spelling
alone (it then decodes to the upper-cased text). Made with Debian bookworm's Python 3.11:
    python3 make_html_entities.py > ../../../main/resources/sdtrainer/model/clip/html-entities.tsv
One line per entity: the entity, a tab, its text as space-separated hex code points."""
import html
import html.entities

entities = {}
for name, char in html.entities.html5.items():
    if name.endswith(";"):
        entities["&" + name] = char
        if name == name.lower():
            upper = "&" + name.upper()
            if html.unescape(upper) == upper:
                entities[upper] = char.upper()
for entity in sorted(entities):
    print(entity + "\t" + " ".join("%x" % ord(c) for c in entities[entity]))
