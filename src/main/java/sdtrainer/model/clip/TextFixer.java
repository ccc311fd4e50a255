package sdtrainer.model.clip;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text clean-up that {@code ftfy.fix_text} 6.1.1 applies with its default settings, which is what
 * transformers' CLIPTokenizer runs on every prompt when ftfy is installed (as it is in kohya / diffusers
 * training environments).
 *
 * <p>Implemented, in ftfy's order and repeated until the text stops changing: HTML entity unescaping (every
 * HTML5 entity ending in {@code ;}, the all-caps spelling of the lower-case ones, numeric references; skipped
 * from the first line containing {@code <} onwards, like ftfy's {@code "auto"} mode), mojibake repair for
 * UTF-8 read through one of ftfy's code pages, in its order: Latin-1, windows-1252/1251/1250/1253/1254,
 * ISO-8859-2, MacRoman, cp437 ({@code "cafÃ©"} → {@code "café"}, also several layers deep; inside otherwise
 * correct text for Latin-1 / windows-1252, as ftfy; only where ftfy's badness heuristic sees mojibake), C1 control characters read as windows-1252, Latin ligatures and digraphs expanded,
 * full-/half-width forms narrowed/widened, curly quotes straightened, line breaks unified, lone surrogates
 * replaced, ANSI terminal escapes and stray control characters removed, NFC normalisation last.
 *
 * <p>Omitted from ftfy's {@code fix_encoding}: its byte-level repairs
 * ({@code restore_byte_a0}, {@code replace_lossy_sequences}, CESU-8 / Java "modified UTF-8").
 */
final class TextFixer {

    private static final Pattern ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");
    private static final Pattern DECIMAL_REF = Pattern.compile("&#([0-9]+);");
    private static final Pattern HEX_REF = Pattern.compile("&#[xX]([0-9a-fA-F]+);");
    private static final Pattern ANSI_ESCAPE = Pattern.compile("\u001b\\[[\\p{Nd};]*[a-zA-Z]");

    /**
     * The named entities ftfy decodes, {@code &name;} to text: {@code html-entities.tsv}, made from Python's
     * {@code html.entities.html5} by {@code src/test/resources/ftfy/make_html_entities.py}.
     */
    private static final Map<String, String> ENTITIES = loadEntities();

    /**
     * windows-1252 for bytes 0x80..0x9F, with the five unassigned bytes kept as the same code point
     * (ftfy's "sloppy" codec; Python's html.unescape uses the same table for numeric references).
     */
    private static final String CP1252_HIGH =
            "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f"
                    + "\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

    private static final Map<Integer, String> LIGATURES = Map.ofEntries(
            Map.entry(0x0132, "IJ"), Map.entry(0x0133, "ij"), Map.entry(0x0149, "\u02bcn"),
            Map.entry(0x01f1, "DZ"), Map.entry(0x01f2, "Dz"), Map.entry(0x01f3, "dz"),
            Map.entry(0x01c4, "D\u017d"), Map.entry(0x01c5, "D\u017e"), Map.entry(0x01c6, "d\u017e"),
            Map.entry(0x01c7, "LJ"), Map.entry(0x01c8, "Lj"), Map.entry(0x01c9, "lj"),
            Map.entry(0x01ca, "NJ"), Map.entry(0x01cb, "Nj"), Map.entry(0x01cc, "nj"),
            Map.entry(0xfb00, "ff"), Map.entry(0xfb01, "fi"), Map.entry(0xfb02, "fl"),
            Map.entry(0xfb03, "ffi"), Map.entry(0xfb04, "ffl"), Map.entry(0xfb05, "\u017ft"),
            Map.entry(0xfb06, "st"));

    /**
     * ftfy's {@code badness.MOJIBAKE_CATEGORIES} (ftfy 6.1.1, MIT licence, Robyn Speer): the characters that
     * occur in UTF-8 mojibake, by the role they play in it.
     */
    private static final Map<String, String> MOJIBAKE_CATEGORIES = Map.ofEntries(
            Map.entry("common", "\u00a0\u00ad\u00b7\u00b4\u2013\u2014\u2015\u2026\u2019"),
            Map.entry("c1", "\u0080-\u009f"),
            Map.entry("bad", "\u00a6\u00a4\u00a8\u00ac\u00af\u00b6\u00a7\u00b8\u0192\u02c6\u02c7\u02d8\u02db\u02dc\u2020\u2021\u2030\u2310\u25ca\ufffd\u00aa\u00ba"),
            Map.entry("currency", "\u00a2\u00a3\u00a5\u20a7\u20ac"),
            Map.entry("start_punctuation", "\u00a1\u00ab\u00bf\u00a9\u0384\u0385\u2018\u201a\u201c\u201e\u2022\u2039\uf8ff"),
            Map.entry("end_punctuation", "\u00ae\u00bb\u02dd\u201d\u203a\u2122"),
            Map.entry("numeric", "\u00b2\u00b3\u00b9\u00b1\u00bc\u00bd\u00be\u00d7\u00b5\u00f7\u2044\u2202\u2206\u220f\u2211\u221a\u221e\u2229\u222b\u2248\u2260\u2261\u2264\u2265\u2116"),
            Map.entry("kaomoji", "\u00d2-\u00d6\u00d9-\u00dc\u00f2-\u00f6\u00f8-\u00fc\u0150\u00b0"),
            Map.entry("upper_accented", "\u00c0-\u00d1\u00d8\u00dc\u00dd\u0102\u0104\u0106\u010c\u010e\u0110\u0118\u011a\u011e\u0130\u0139\u013d\u0141\u0143\u0147\u0152\u0158\u015a\u015e\u0160\u0162\u0164\u016e\u0170\u0178\u0179\u017b\u017d\u0490"),
            Map.entry("lower_accented", "\u00df\u00e0-\u00f1\u0103\u0105\u0107\u010d\u010f\u0111\u0119\u011b\u011f\u013a\u013e\u0142\u0153\u0155\u015b\u015f\u0161\u0165\u00fc\u017a\u017c\u017e\u0491\ufb01\ufb02"),
            Map.entry("upper_common", "\u00de\u0391-\u03a9\u0386\u0388\u0389\u038a\u038c\u038e\u038f\u03aa\u03ab\u0401-\u042f"),
            Map.entry("lower_common", "\u03b1-\u03c9\u03ac\u03ad\u03ae\u03af\u03b0\u0430-\u045f"),
            Map.entry("box", "\u2502\u250c\u2510\u2518\u251c\u2524\u252c\u253c\u2550-\u256c\u2580\u2584\u2588\u258c\u2590\u2591\u2592\u2593"));

    /**
     * ftfy's {@code BADNESS_RE}: juxtapositions of those characters that are much likelier to be mojibake than
     * intended text (each alternative as in badness.py, {@code {name}} standing for a category).
     */
    private static final Pattern BADNESS = Pattern.compile(String.join("|", expand(List.of(
            "[{c1}]",
            "[{bad}{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}][{bad}]",
            "[a-zA-Z][{lower_common}{upper_common}][{bad}]",
            "[{bad}][{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}]",
            "[{lower_accented}{lower_common}{box}{end_punctuation}{currency}{numeric}][{upper_accented}]",
            "[{box}{end_punctuation}{currency}{numeric}][{lower_accented}]",
            "[{lower_accented}{box}{end_punctuation}][{currency}]",
            "\\s[{upper_accented}][{currency}]",
            "[{upper_accented}{box}][{numeric}]",
            "[{lower_accented}{upper_accented}{box}{currency}{end_punctuation}][{start_punctuation}][{numeric}]",
            "[{lower_accented}{upper_accented}{currency}{numeric}{box}][{end_punctuation}][{start_punctuation}]",
            "[{currency}{numeric}{box}][{start_punctuation}]",
            "[a-z][{upper_accented}][{start_punctuation}{currency}]",
            "[{box}][{kaomoji}]",
            "[{lower_accented}{upper_accented}{currency}{numeric}{start_punctuation}{end_punctuation}][{box}]",
            "[{box}][{end_punctuation}]",
            "[{lower_accented}{upper_accented}][{end_punctuation}]\\w",
            "[\u0152\u0153][^A-Za-z]",
            "[\u00c2\u00c3\u00ce\u00d0][\u20ac\u0160\u0161\u00a2\u00a3\u0178\u017e\u00a0\u00ad\u00ae\u00a9\u00b0\u00b7\u00bb{start_punctuation}{end_punctuation}\u2013\u2014\u00b4]",
            "\u00d7[\u00b2\u00b3]",
            "[\u00d8\u00d9][{common}{currency}{bad}{numeric}{start_punctuation}\u0178\u0160\u00ae\u00b0\u00b5\u00bb][\u00d8\u00d9][{common}{currency}{bad}{numeric}{start_punctuation}\u0178\u0160\u00ae\u00b0\u00b5\u00bb]",
            "\u00e0[\u00b2\u00b5\u00b9\u00bc\u00bd\u00be]",
            "\u221a[\u00b1\u2202\u2020\u2260\u00ae\u2122\u00b4\u2264\u2265\u00a5\u00b5\u00f8]",
            "\u2248[\u00b0\u00a2]",
            "\u201a\u00c4[\u00ec\u00ee\u00ef\u00f2\u00f4\u00fa\u00f9\u00fb\u2020\u00b0\u00a2\u03c0]",
            "\u201a[\u00e2\u00f3][\u00e0\u00e4\u00b0\u00ea]",
            "\u0432\u0402",
            "[\u0412\u0413\u0420\u0421][{c1}{bad}{start_punctuation}{end_punctuation}{currency}\u00b0\u00b5][\u0412\u0413\u0420\u0421]",
            "\u0413\u045e\u0412\u0402\u0412.[A-Za-z ]",
            "\u00c3[\u00a0\u00a1]",
            "[a-z]\\s?[\u00c3\u00c2][ ]",
            "^[\u00c3\u00c2][ ]",
            "[a-z.,?!{end_punctuation}]\u00c2[ {start_punctuation}{end_punctuation}]",
            "\u03b2\u20ac[\u2122\u00a0\u0386\u00ad\u00ae\u00b0]",
            "[\u0392\u0393\u039e\u039f][{c1}{bad}{start_punctuation}{end_punctuation}{currency}\u00b0][\u0392\u0393\u039e\u039f]")
    )), Pattern.UNICODE_CHARACTER_CLASS);

    private static List<String> expand(List<String> templates) {
        List<String> out = new ArrayList<>(templates.size());
        for (String t : templates) {
            for (Map.Entry<String, String> c : MOJIBAKE_CATEGORIES.entrySet()) {
                t = t.replace("{" + c.getKey() + "}", c.getValue());
            }
            out.add(t);
        }
        return out;
    }

    /** ftfy's {@code is_bad}: whether the text holds a sequence that looks like mojibake. */
    static boolean isBad(String text) {
        return BADNESS.matcher(text).find();
    }

    /** Mojibake clues: a Latin-1 letter that is a UTF-8 lead byte, then the right number of continuation bytes. */
    private static final String CONTINUATION = "\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030"
            + "\u0160\u2039\u0152\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178";
    private static final Pattern EMBEDDED_UTF8 = Pattern.compile("(?<![" + CONTINUATION + "])(?:"
            + "[\u00c2-\u00df][" + CONTINUATION + "]|[\u00e0-\u00ef][" + CONTINUATION + "]{2}"
            + "|[\u00f0-\u00f4][" + CONTINUATION + "]{3})+");

    private TextFixer() {
    }

    private static Map<String, String> loadEntities() {
        Map<String, String> entities = new HashMap<>();
        try (InputStream in = TextFixer.class.getResourceAsStream("html-entities.tsv")) {
            if (in == null) {
                throw new IllegalStateException("html-entities.tsv is missing from the classpath");
            }
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (line.isEmpty()) {
                    continue;
                }
                int tab = line.indexOf('\t');
                StringBuilder text = new StringBuilder();
                for (String hex : line.substring(tab + 1).split(" ")) {
                    text.appendCodePoint(Integer.parseInt(hex, 16));
                }
                entities.put(line.substring(0, tab), text.toString());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read html-entities.tsv", e);
        }
        return Map.copyOf(entities);
    }

    /** {@code ftfy.fix_text(text)} with default settings, minus the omissions listed on the class. */
    static String fixText(String text) {
        StringBuilder out = new StringBuilder(text.length());
        boolean unescapeHtml = true;
        int pos = 0;
        // ftfy fixes line by line, and once a line contains '<' it stops unescaping HTML for the rest
        while (pos < text.length()) {
            int newline = text.indexOf('\n', pos);
            int end = newline < 0 ? text.length() : newline + 1;
            String segment = text.substring(pos, end);
            if (segment.indexOf('<') >= 0) {
                unescapeHtml = false;
            }
            out.append(fixSegment(segment, unescapeHtml));
            pos = end;
        }
        return out.toString();
    }

    private static String fixSegment(String text, boolean unescapeHtml) {
        while (true) {
            String original = text;
            if (unescapeHtml) {
                text = unescapeHtml(text);
            }
            text = fixEncoding(text);
            text = translate(text, TextFixer::fixC1Control);
            text = translate(text, TextFixer::expandLigature);
            text = translate(text, TextFixer::fixWidth);
            text = translate(text, TextFixer::uncurlQuote);
            text = fixLineBreaks(text);
            text = translate(text, cp -> cp >= 0xd800 && cp <= 0xdfff ? "\ufffd" : null);
            text = ANSI_ESCAPE.matcher(text).replaceAll("");
            text = translate(text, cp -> isUnwantedControl(cp) ? "" : null);
            if (!Normalizer.isNormalized(text, Normalizer.Form.NFC)) {
                text = Normalizer.normalize(text, Normalizer.Form.NFC);
            }
            if (text.equals(original)) {
                return text;
            }
        }
    }

    private static String unescapeHtml(String text) {
        if (text.indexOf('&') < 0) {
            return text;
        }
        Matcher m = ENTITY.matcher(text);
        StringBuilder out = new StringBuilder(text.length());
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(decodeEntity(m.group())));
        }
        m.appendTail(out);
        return out.toString();
    }

    private static String decodeEntity(String entity) {
        String named = ENTITIES.get(entity);
        if (named != null) {
            return named;
        }
        Matcher dec = DECIMAL_REF.matcher(entity);
        Matcher hex = HEX_REF.matcher(entity);
        String decoded;
        if (dec.matches()) {
            decoded = decodeCharRef(dec.group(1), 10);
        } else if (hex.matches()) {
            decoded = decodeCharRef(hex.group(1), 16);
        } else {
            return entity;
        }
        // ftfy keeps the entity when the result still holds a ';' (it treats that as a partial decode)
        return decoded.indexOf(';') >= 0 ? entity : decoded;
    }

    /** Python's html.unescape for one numeric character reference. */
    /** ftfy's fix_encoding (within the limits on the class): re-decodes mojibake until nothing changes. */
    private static String fixEncoding(String text) {
        while (true) {
            String fixed = fixEncodingStep(text);
            if (fixed.equals(text)) {
                return text;
            }
            text = fixed;
        }
    }

    private static String fixEncodingStep(String text) {
        if (text.chars().allMatch(c -> c < 0x80) || !isBad(text)) {
            return text;
        }
        String whole = redecode(text, CODE_PAGES.size());
        if (whole != null) {
            return whole;
        }
        // UTF-8 mojibake embedded in text that, as a whole, is not: fix each stretch on its own.
        Matcher m = EMBEDDED_UTF8.matcher(text);
        StringBuilder out = new StringBuilder(text.length());
        while (m.find()) {
            String part = m.group();
            String decoded = part.length() < text.length() && isBad(part) ? redecode(part, WESTERN_PAGES) : null;
            m.appendReplacement(out, Matcher.quoteReplacement(decoded != null ? decoded : part));
        }
        m.appendTail(out);
        return out.toString();
    }

    /**
     * ftfy 6.1.1's CHARMAP_ENCODINGS in its order: single-byte code pages that UTF-8 text is often misread as.
     * "sloppy-" ones keep their unassigned bytes as the Latin-1 code point of the same number.
     */
    private static final List<char[]> CODE_PAGES = List.of(codePage(null, false), codePage("windows-1252", true),
            codePage("windows-1251", true), codePage("windows-1250", true), codePage("windows-1253", true),
            codePage("windows-1254", true), codePage("ISO-8859-2", false), codePage("x-MacRoman", false),
            codePage("IBM437", false));
    /** Latin-1 and sloppy windows-1252: the pages ftfy's fix of UTF-8 inside other text knows. */
    private static final int WESTERN_PAGES = 2;

    /** The 256 characters of a code page (null: Latin-1). */
    private static char[] codePage(String charset, boolean sloppy) {
        char[] table = new char[256];
        for (int b = 0; b < 256; b++) {
            if (charset == null) {
                table[b] = (char) b;
                continue;
            }
            String c = new String(new byte[] {(byte) b}, java.nio.charset.Charset.forName(charset));
            table[b] = c.length() == 1 && c.charAt(0) != '\ufffd' ? c.charAt(0) : sloppy ? (char) b : '\ufffd';
        }
        return table;
    }

    /**
     * The text encoded with the first of ftfy's code pages (of the first {@code pages}) that can encode it and
     * decodes as UTF-8; null when none does, or the bytes hold ftfy's "utf-8-variants" (0xED, 0xC0).
     */
    private static String redecode(String text, int pages) {
        for (char[] page : CODE_PAGES.subList(0, pages)) {
            byte[] bytes = encodeSingleByte(text, page);
            if (bytes == null) continue;
            for (byte b : bytes) {
                if (b == (byte) 0xED || b == (byte) 0xC0) {
                    return null; // surrogates or overlong NUL: ftfy decodes these with its own codec
                }
            }
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                // not UTF-8 through this page: ftfy tries the next
            }
        }
        return null;
    }

    private static byte[] encodeSingleByte(String text, char[] page) {
        byte[] out = new byte[text.length()];
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int b = c < 0x80 && page[c] == c ? c : indexOf(page, c);
            if (b < 0 || c == '\ufffd') return null;
            out[i] = (byte) b;
        }
        return out;
    }

    private static int indexOf(char[] page, char c) {
        for (int b = 0; b < page.length; b++) if (page[b] == c) return b;
        return -1;
    }

    private static String decodeCharRef(String digits, int radix) {
        String trimmed = digits.replaceFirst("^0+(?=.)", "");
        if (trimmed.length() > 8) {
            return "\ufffd";
        }
        long cp = Long.parseLong(trimmed, radix);
        if (cp == 0) {
            return "\ufffd";
        }
        if (cp == 0x0d) {
            return "\r";
        }
        if (cp >= 0x80 && cp <= 0x9f) {
            return String.valueOf(CP1252_HIGH.charAt((int) cp - 0x80));
        }
        if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return "\ufffd";
        }
        if (isInvalidHtmlCodePoint((int) cp)) {
            return "";
        }
        return Character.toString((int) cp);
    }

    private static boolean isInvalidHtmlCodePoint(int cp) {
        return (cp >= 0x01 && cp <= 0x08) || cp == 0x0b || (cp >= 0x0e && cp <= 0x1f) || cp == 0x7f
                || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
    }

    private static String fixC1Control(int cp) {
        return cp >= 0x80 && cp <= 0x9f ? String.valueOf(CP1252_HIGH.charAt(cp - 0x80)) : null;
    }

    private static String expandLigature(int cp) {
        boolean candidate = (cp >= 0x0132 && cp <= 0x01f3) || (cp >= 0xfb00 && cp <= 0xfb06);
        return candidate ? LIGATURES.get(cp) : null;
    }

    /** Full-width ASCII and half-width kana/hangul to their normal forms, as ftfy's WIDTH_MAP (NFKC). */
    private static String fixWidth(int cp) {
        if (cp == 0x3000) {
            return " ";
        }
        if (cp >= 0xff01 && cp < 0xfff0) {
            String s = Character.toString(cp);
            String nfkc = Normalizer.normalize(s, Normalizer.Form.NFKC);
            return nfkc.equals(s) ? null : nfkc;
        }
        return null;
    }

    private static String uncurlQuote(int cp) {
        if (cp == 0x02bc || (cp >= 0x2018 && cp <= 0x201b)) {
            return "'";
        }
        return cp >= 0x201c && cp <= 0x201f ? "\"" : null;
    }

    private static String fixLineBreaks(String text) {
        if (text.indexOf('\r') < 0 && text.indexOf('\u2028') < 0 && text.indexOf('\u2029') < 0
                && text.indexOf('\u0085') < 0) {
            return text;
        }
        return text.replace("\r\n", "\n").replace('\r', '\n').replace('\u2028', '\n')
                .replace('\u2029', '\n').replace('\u0085', '\n');
    }

    /** ftfy's remove_control_chars; tab, newline, form feed and carriage return stay. */
    private static boolean isUnwantedControl(int cp) {
        return cp <= 0x08 || cp == 0x0b || (cp >= 0x0e && cp <= 0x1f) || cp == 0x7f
                || (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffc);
    }

    /**
     * Replaces code points by {@code map}'s result (null = keep). Returns {@code text} itself when nothing
     * changes, so the common case allocates nothing.
     */
    private static String translate(String text, IntFunction<String> map) {
        StringBuilder out = null;
        int i = 0;
        while (i < text.length()) {
            int cp = text.codePointAt(i);
            int next = i + Character.charCount(cp);
            String replacement = map.apply(cp);
            if (replacement != null && out == null) {
                out = new StringBuilder(text.length()).append(text, 0, i);
            }
            if (out != null) {
                if (replacement != null) {
                    out.append(replacement);
                } else {
                    out.appendCodePoint(cp);
                }
            }
            i = next;
        }
        return out == null ? text : out.toString();
    }
}
