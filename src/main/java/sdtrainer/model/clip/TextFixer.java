package sdtrainer.model.clip;

import java.text.Normalizer;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The text clean-up that {@code ftfy.fix_text} 6.1.1 applies with its default settings, which is what
 * transformers' CLIPTokenizer runs on every prompt when ftfy is installed (as it is in kohya / diffusers
 * training environments).
 *
 * <p>Implemented, in ftfy's order and repeated until the text stops changing: HTML entity unescaping
 * (skipped from the first line containing {@code <} onwards, like ftfy's {@code "auto"} mode), C1 control
 * characters read as windows-1252, Latin ligatures and digraphs expanded, full-/half-width forms
 * narrowed/widened, curly quotes straightened, line breaks unified, lone surrogates replaced, ANSI terminal
 * escapes and stray control characters removed, NFC normalisation.
 *
 * <p>Omitted: mojibake repair ({@code fix_encoding} and its helpers {@code restore_byte_a0},
 * {@code replace_lossy_sequences}, {@code decode_inconsistent_utf8}), which needs ftfy's large badness
 * heuristic; text such as {@code "cafÃ©"} is therefore left as is where ftfy would give {@code "café"}.
 * Named HTML entities are limited to the common ones in {@link #ENTITIES} (ftfy knows all of HTML5's);
 * numeric entities are decoded fully.
 */
final class TextFixer {

    private static final Pattern ENTITY = Pattern.compile("&#?[0-9A-Za-z]{1,24};");
    private static final Pattern DECIMAL_REF = Pattern.compile("&#([0-9]+);");
    private static final Pattern HEX_REF = Pattern.compile("&#[xX]([0-9a-fA-F]+);");
    private static final Pattern ANSI_ESCAPE = Pattern.compile("\u001b\\[[\\p{Nd};]*[a-zA-Z]");

    /**
     * Named entities decoded, lower-case name to text. ftfy also accepts the all-caps spelling of a
     * lower-case name (decoding to the upper-cased text); none of these characters has an upper case, so
     * the all-caps spelling gives the same text.
     */
    private static final Map<String, String> ENTITIES = Map.ofEntries(
            Map.entry("amp", "&"), Map.entry("lt", "<"), Map.entry("gt", ">"), Map.entry("quot", "\""),
            Map.entry("apos", "'"), Map.entry("nbsp", "\u00a0"), Map.entry("hellip", "\u2026"),
            Map.entry("mdash", "\u2014"), Map.entry("ndash", "\u2013"), Map.entry("lsquo", "\u2018"),
            Map.entry("rsquo", "\u2019"), Map.entry("ldquo", "\u201c"), Map.entry("rdquo", "\u201d"),
            Map.entry("copy", "\u00a9"), Map.entry("reg", "\u00ae"), Map.entry("trade", "\u2122"));

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

    private TextFixer() {
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
        String name = entity.substring(1, entity.length() - 1);
        String lower = name.toLowerCase(Locale.ROOT);
        if ((name.equals(lower) || name.equals(name.toUpperCase(Locale.ROOT))) && ENTITIES.containsKey(lower)) {
            return ENTITIES.get(lower);
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
