package sdtrainer.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Pattern;

/**
 * kohya's caption processing (train_util.BaseDataset.process_caption): {@code --caption_prefix/--caption_suffix}
 * joined with a space; {@code --caption_dropout_rate} empties the whole caption; with {@code --shuffle_caption} or
 * {@code --caption_tag_dropout_rate} the caption is split at {@code --caption_separator}, the first
 * {@code --keep_tokens} tags stay in front, the others are shuffled and then each dropped with the tag rate, and
 * the tags are joined with ", " (kohya joins with ", " whatever the separator). Only the first line of a caption
 * is used, as kohya does. Draws come from the sample's own generator, in kohya's order.
 */
public record CaptionRecipe(String prefix, String suffix, double dropoutRate, boolean shuffle, int keepTokens,
                            String separator, double tagDropoutRate) {

    public static final String DEFAULT_SEPARATOR = ",";

    public CaptionRecipe {
        if (separator == null || separator.isEmpty()) throw new IllegalArgumentException("the caption separator is empty");
        if (!(dropoutRate >= 0 && dropoutRate <= 1)) throw new IllegalArgumentException("caption dropout rate " + dropoutRate);
        if (!(tagDropoutRate >= 0 && tagDropoutRate <= 1)) throw new IllegalArgumentException("tag dropout rate " + tagDropoutRate);
        if (keepTokens < 0) throw new IllegalArgumentException("keep_tokens " + keepTokens);
    }

    /** Captions as they are. */
    public static CaptionRecipe none() {
        return new CaptionRecipe(null, null, 0, false, 0, DEFAULT_SEPARATOR, 0);
    }

    /** This recipe without its random parts: only the prefix and suffix frame the caption's first line. */
    public CaptionRecipe framingOnly() {
        return new CaptionRecipe(prefix, suffix, 0, false, 0, separator, 0);
    }

    public boolean isIdentity() {
        return equals(none());
    }

    /** The caption this step trains on. */
    public String apply(String caption, Random random) {
        if (isIdentity()) return caption;
        String c = framed(caption);
        if (dropoutRate > 0 && random.nextDouble() < dropoutRate) return "";
        c = c.split("\n", -1)[0];
        if (!shuffle && tagDropoutRate <= 0) return c;
        List<String> tags = tags(c);
        int kept = Math.min(keepTokens, tags.size());
        List<String> flex = new ArrayList<>(tags.subList(kept, tags.size()));
        if (shuffle) Collections.shuffle(flex, random);
        List<String> out = new ArrayList<>(tags.subList(0, kept));
        for (String tag : flex) {
            if (tagDropoutRate <= 0 || random.nextDouble() >= tagDropoutRate) out.add(tag);
        }
        return String.join(", ", out);
    }

    /**
     * Why {@code caption} cannot keep its first {@code --keep_tokens} tags (it has fewer), or empty. Checked only
     * when the tags are shuffled or dropped, where keep_tokens has an effect.
     */
    public Optional<String> problem(String caption) {
        if (keepTokens == 0 || (!shuffle && tagDropoutRate <= 0)) return Optional.empty();
        int n = tags(framed(caption).split("\n", -1)[0]).size();
        if (n >= keepTokens) return Optional.empty();
        return Optional.of("--keep_tokens " + keepTokens + " is beyond the caption's " + n + " tag(s) (separator '"
                + separator + "'); lower --keep_tokens or extend the caption");
    }

    private String framed(String caption) {
        String c = caption;
        if (prefix != null && !prefix.isEmpty()) c = prefix + " " + c;
        if (suffix != null && !suffix.isEmpty()) c = c + " " + suffix;
        return c;
    }

    /** Python's caption.strip().split(separator) with each tag stripped (empty tags stay, as in kohya). */
    private List<String> tags(String caption) {
        List<String> out = new ArrayList<>();
        for (String t : caption.strip().split(Pattern.quote(separator), -1)) out.add(t.strip());
        return out;
    }
}
